"""`guard proxy` and `guard ca export`: run the intercepting proxy, hand its CA to clients."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from guard.config import default_home

ca_app = typer.Typer(help="The proxy's certificate authority, which clients must trust.", no_args_is_help=True)

# Sizes as `8m`, `512k`, `1g`, `8MiB` or plain bytes (powers of 1024, as mitmproxy reads them).
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(value: str) -> int:
    """Parse `8m` / `512k` / `1g` / bytes into a byte count (ValueError when it is not one)."""
    m = _SIZE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r} (use e.g. 8m, 512k or a number of bytes)")
    return int(m.group(1)) * 1024 ** " kmg".index((m.group(2) or " ").lower())


def proxy(
    port: Annotated[int, typer.Option("--port", envvar="GUARD_PORT", help="Port to listen on (0: any free port).")] = 8080,
    host: Annotated[str, typer.Option("--host", envvar="GUARD_LISTEN_HOST", help="Address to listen on (default: all).")] = "",
    confdir: Annotated[
        Path | None,
        typer.Option("--confdir", envvar="GUARD_CONFDIR",
                     help="Directory of the proxy's CA (created on first start); clients trust DIR/mitmproxy-ca-cert.pem. "
                     "Default: GUARD_HOME/ca."),
    ] = None,  # fmt: skip
    rules: Annotated[
        Path | None, typer.Option("--rules", envvar="GUARD_RULES", help="Rules directory (default: the bundled rules/).")
    ] = None,
    db: Annotated[
        str, typer.Option("--db", envvar="GUARD_DATABASE_URL", help="Audit store URL (default: SQLite file in GUARD_HOME).")
    ] = "",
    upstream_ca: Annotated[
        Path | None,
        typer.Option("--upstream-ca", envvar="GUARD_UPSTREAM_CA",
                     help="Extra CA bundle (PEM) trusted for upstream TLS, e.g. an internal model's CA."),
    ] = None,  # fmt: skip
    mode: Annotated[
        str,
        typer.Option("--mode", envvar="GUARD_MODE",
                     help="'regular' (explicit proxy via PAC / HTTPS_PROXY) or 'reverse:URL' (a gateway: clients set "
                     "their base URL to guard; URL must be a destination in destinations.yaml)."),
    ] = "regular",  # fmt: skip
    workers: Annotated[
        int,
        typer.Option("--workers", envvar="GUARD_WORKERS",
                     help="Detection worker processes (0: one per core less one, for the event loop; at least 1)."),
    ] = 0,  # fmt: skip
    htpasswd: Annotated[
        Path | None,
        typer.Option("--htpasswd", envvar="GUARD_HTPASSWD",
                     help="Require proxy authentication (Basic) against this htpasswd file (bcrypt or {SHA} hashes)."),
    ] = None,  # fmt: skip
    identity_header: Annotated[
        str,
        typer.Option("--identity-header", envvar="GUARD_IDENTITY_HEADER",
                     help="Trusted header naming the user, set by an upstream corporate proxy (removed before forwarding)."),
    ] = "",  # fmt: skip
    body_limit: Annotated[
        str,
        typer.Option("--body-limit", envvar="GUARD_BODY_LIMIT",
                     help="Largest request body guard scans, e.g. 8m; larger requests to LLM hosts are blocked."),
    ] = "8m",  # fmt: skip
    engine_factory: Annotated[
        str,
        typer.Option("--engine-factory", envvar="GUARD_ENGINE_FACTORY",
                     help="module:function that builds the detection engine in each worker (a site's own engine)."),
    ] = "guard.detect.engine:build_engine",  # fmt: skip
    no_models: Annotated[
        bool, typer.Option("--no-models", envvar="GUARD_NO_MODELS", help="Pattern rules only: no spaCy / jieba models.")
    ] = False,
    verbosity: Annotated[
        str, typer.Option("--log-level", envvar="GUARD_LOG_LEVEL", help="mitmproxy log level: error, warn, info, debug.")
    ] = "warn",
    private_model: Annotated[
        str,
        typer.Option("--private-model", envvar="GUARD_PRIVATE_MODEL_URL",
                     help="OpenAI-compatible base URL of the company's private model (e.g. http://llm:8000/v1); "
                          "route_private decisions go there. More models: rules/destinations.yaml `private:`."),
    ] = "",  # fmt: skip
    metrics_port: Annotated[
        int,
        typer.Option("--metrics-port", envvar="GUARD_METRICS_PORT", min=0, max=65535,
                     help="Port of the Prometheus /metrics and the /healthz, /livez endpoints (0: off)."),
    ] = 9464,  # fmt: skip
    metrics_host: Annotated[
        str,
        typer.Option("--metrics-host", envvar="GUARD_METRICS_HOST",
                     help="Address of the metrics and health endpoints (default loopback; 0.0.0.0 for Prometheus "
                          "and Kubernetes probes)."),
    ] = "127.0.0.1",  # fmt: skip
    detect_budget: Annotated[
        int,
        typer.Option("--detect-budget", envvar="GUARD_DETECT_BUDGET_MS", min=1,
                     help="Detection time budget per request in milliseconds; a request over it is blocked "
                          "(fail closed, recorded in the audit event) and its worker replaced."),
    ] = 30_000,  # fmt: skip
    websocket: Annotated[
        str,
        typer.Option("--websocket", envvar="GUARD_WEBSOCKET",
                     help="WebSocket connections to guarded hosts (ChatGPT web, OpenAI Realtime): 'block' refuses "
                          "them; 'inspect' scans every client message and drops it, and all after it, unless allowed."),
    ] = "block",  # fmt: skip
    unreadable_attachments: Annotated[
        str,
        typer.Option("--unreadable-attachments", envvar="GUARD_UNREADABLE_ATTACHMENTS",
                     help="Attachments guard cannot read (encrypted PDF, images, unknown binary, files by id): "
                          "'block' the request, or 'skip' them (forwarded, named in the audit event)."),
    ] = "block",  # fmt: skip
    ocr: Annotated[
        bool,
        typer.Option("--ocr/--no-ocr", envvar="GUARD_OCR",
                     help="Read the text of images (chat image parts with inline data, image attachments and "
                          "uploads) with tesseract and scan it; off: images in chat stay unscanned and image "
                          "files are unreadable."),
    ] = False,  # fmt: skip
) -> None:
    """Run the guard proxy: intercept LLM hosts, redact, restore replies, block, audit."""
    from guard.proxy import ProxyConfig, run

    try:
        limit = parse_size(body_limit)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--body-limit") from None
    if unreadable_attachments not in ("block", "skip"):
        raise typer.BadParameter("use block or skip", param_hint="--unreadable-attachments")
    if websocket not in ("block", "inspect"):
        raise typer.BadParameter("use block or inspect", param_hint="--websocket")
    cfg = ProxyConfig(
        port=port, host=host, confdir=confdir, rules_dir=rules, db_url=db, upstream_ca=upstream_ca, mode=mode,
        workers=workers or None, htpasswd=htpasswd, identity_header=identity_header, body_limit=limit,
        engine_factory=engine_factory, models=not no_models, verbosity=verbosity, private_model=private_model,
        metrics_host=metrics_host, metrics_port=metrics_port, detect_budget_ms=detect_budget,
        websocket=websocket, unreadable_attachments=unreadable_attachments, ocr=ocr,
    )  # fmt: skip
    raise typer.Exit(run(cfg))


INSTALL = """\
Install guard's CA certificate ({path}) on every client that goes through the proxy:

  Windows   certutil -addstore -f Root mitmproxy-ca-cert.cer   (DER: guard ca export --format der > mitmproxy-ca-cert.cer)
            or Group Policy: Computer Configuration > Windows Settings > Security Settings > Public Key Policies
  macOS     sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain mitmproxy-ca-cert.pem
  Linux     Debian/Ubuntu: sudo cp mitmproxy-ca-cert.pem /usr/local/share/ca-certificates/guard.crt && sudo update-ca-certificates
            RHEL/Fedora:   sudo cp mitmproxy-ca-cert.pem /etc/pki/ca-trust/source/anchors/guard.pem && sudo update-ca-trust
  Firefox   Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import,
            or policies.json: {{"policies": {{"Certificates": {{"ImportEnterpriseRoots": true}}}}}}
  Node      export NODE_EXTRA_CA_CERTS=/path/to/mitmproxy-ca-cert.pem
  Python    export SSL_CERT_FILE=/path/to/mitmproxy-ca-cert.pem REQUESTS_CA_BUNDLE=/path/to/mitmproxy-ca-cert.pem
            (httpx / openai / anthropic SDKs: httpx.Client(verify="/path/to/mitmproxy-ca-cert.pem"))
  Java      keytool -importcert -cacerts -storepass changeit -noprompt -alias guard -file mitmproxy-ca-cert.pem

Then point clients at the proxy: HTTPS_PROXY=http://GUARD_HOST:8080 (or a PAC file: guard pac --proxy GUARD_HOST:8080).
"""


@ca_app.command("export")
def ca_export(
    fmt: Annotated[str, typer.Option("--format", help="Certificate format: pem, der or p12 (PKCS#12, no key).")] = "pem",
    confdir: Annotated[
        Path | None, typer.Option("--confdir", envvar="GUARD_CONFDIR", help="The proxy's CA directory (default GUARD_HOME/ca).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the certificate here, not stdout.")] = None,
) -> None:
    """Print guard's CA certificate (created if missing) and how to install it on clients."""
    fmt = fmt.lower()
    if fmt not in ("pem", "der", "p12"):
        raise typer.BadParameter("use pem, der or p12", param_hint="--format")
    data, path = export_ca(confdir or default_home() / "ca", fmt)
    if output is not None:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    print(INSTALL.format(path=path), file=sys.stderr)


def export_ca(confdir: Path, fmt: str) -> tuple[bytes, Path]:
    """Return the CA certificate in `fmt` (pem, der, p12), creating the CA in confdir if needed."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from mitmproxy.certs import CertStore

    confdir = Path(confdir)
    confdir.mkdir(parents=True, exist_ok=True)
    CertStore.from_store(str(confdir), "mitmproxy", 2048)  # creates the CA files on first use
    pem_path = confdir / "mitmproxy-ca-cert.pem"
    if fmt == "pem":
        return pem_path.read_bytes(), pem_path
    if fmt == "p12":
        p12 = confdir / "mitmproxy-ca-cert.p12"
        return p12.read_bytes(), p12
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return cert.public_bytes(Encoding.DER), pem_path
