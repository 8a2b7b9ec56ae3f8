"""`guard doctor`: check a deployment and say what to fix.

Each check returns a Result: ok, a one-line detail, and for a failure the fix. Nothing here prints a
password (database URLs are shown with the password hidden) or a key.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from guard.config import Settings

# guard 0.1.0 was released after this instant: a clock before it is certainly wrong (a dead RTC
# battery boots at 1970 or at the image's build date), and TLS and audit times would be wrong too.
RELEASED = datetime(2026, 11, 1, tzinfo=UTC)
CA_WARN_DAYS = 30
MAX_SKEW_S = 60.0


@dataclass(frozen=True)
class Target:
    """What to check: the CA directory, the rules directory and the audit store URL."""

    confdir: Path
    rules_dir: Path | None
    db_url: str
    ocr: bool = False  # GUARD_OCR: images are read with tesseract

    @classmethod
    def from_settings(
        cls, settings: Settings, confdir: Path | None = None, rules: Path | None = None, db: str | None = None
    ) -> Target:
        """Settings (GUARD_* env) with command-line overrides applied."""
        return cls(confdir or settings.confdir, rules or settings.rules_dir, db or settings.db_url, settings.ocr)


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # ok, but worth acting on soon


def check_ca(settings: Target, now: datetime | None = None) -> Result:
    """The interception CA exists, parses, is a CA, matches its key, and is within its validity."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = now or datetime.now(UTC)
    confdir = settings.confdir
    pem = confdir / "mitmproxy-ca.pem"
    create = f"start `guard proxy --confdir {confdir}` once (it creates the CA), or copy your CA (key + certificate, PEM) to {pem}"
    if not pem.is_file():
        return Result("ca", False, f"no CA at {pem}", create)
    try:
        raw = pem.read_bytes()
        key = serialization.load_pem_private_key(raw, None)
        cert = x509.load_pem_x509_certificates(raw)[0]
    except (OSError, ValueError, TypeError) as exc:
        return Result("ca", False, f"{pem}: unreadable ({exc.__class__.__name__})", f"replace it: {create}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        return Result("ca", False, f"{pem}: the certificate is not a CA (basicConstraints)", f"replace it: {create}")
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return Result(
            "ca", False, f"{pem}: the private key does not belong to the certificate", f"replace it: {create}"
        )
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    subject = cert.subject.rfc4514_string()
    if now < start:
        return Result(
            "ca", False, f"{subject} is not valid before {start:%Y-%m-%d}", "check the clock (see the clock check)"
        )
    if now >= end:
        return Result(
            "ca", False, f"{subject} expired on {end:%Y-%m-%d}", f"create a new CA and roll it out to clients: {create}"
        )
    days = (end - now).days
    detail = f"{subject}, expires {end:%Y-%m-%d} (in {days} days); clients trust {confdir / 'mitmproxy-ca-cert.pem'}"
    if days < CA_WARN_DAYS:
        return Result(
            "ca", True, detail, "plan a CA rollover: new CA to clients first, then to the proxies", warning=True
        )
    return Result("ca", True, detail)


def check_rules(settings: Target) -> Result:
    """Detectors, destinations (and the policy, when present) load without error."""
    from guard.detect.rules import BUNDLED_RULES, RuleError, load_detectors
    from guard.pac import PacError, destination_hosts

    root = settings.rules_dir or BUNDLED_RULES
    fix = f"run `guard rules check --rules {root}` and correct the file, line and field it names"
    try:
        detectors = load_detectors(root)
        hosts = destination_hosts(root)
        from guard.policy import load_policy

        policy = load_policy(root)
    except (RuleError, PacError, ValueError, OSError) as exc:
        return Result("rules", False, f"{root}: {exc}", fix)
    except Exception as exc:  # noqa: BLE001 - a policy loader's own error type; its message names file and line
        return Result("rules", False, f"{root}: {exc.__class__.__name__}: {exc}", fix)
    name = getattr(policy, "name", type(policy).__name__)
    return Result("rules", True, f"{root}: {len(detectors)} detectors, {len(hosts)} guarded hosts, policy {name!r}")


def check_database(settings: Target) -> Result:
    """The audit store answers and its schema is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    from guard.audit.store import MIGRATIONS, make_engine, normalize_url, redact_url

    url = settings.db_url
    shown = redact_url(url)
    u = make_url(normalize_url(url))
    if u.get_backend_name() == "sqlite" and u.database and not Path(u.database).exists():
        return Result(
            "database",
            False,
            f"{shown}: no database file yet",
            "start `guard up` or `guard proxy` once: they create and migrate it",
        )
    try:
        engine = make_engine(url, connect_timeout=5)
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable"; the class says which
        return Result(
            "database", False, f"{shown}: cannot connect ({exc.__class__.__name__})",
            "check GUARD_DATABASE_URL (host, port, user, database), that the server runs and accepts this host",
        )  # fmt: skip
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return Result(
            "database", False, f"{shown}: schema at {have}, guard needs {', '.join(sorted(heads))}",
            "start `guard proxy` once (it migrates on start), after a backup",
        )  # fmt: skip
    return Result("database", True, f"{shown}: reachable, schema current ({', '.join(sorted(heads))})")


def private_model_urls(settings: Target) -> list[str]:
    """The private model URLs: GUARD_PRIVATE_MODEL_URL and destinations.yaml's `private:` entries."""
    import os

    import yaml

    from guard.detect.rules import BUNDLED_RULES

    urls = [os.environ["GUARD_PRIVATE_MODEL_URL"]] if os.environ.get("GUARD_PRIVATE_MODEL_URL") else []
    path = Path(settings.rules_dir or BUNDLED_RULES) / "destinations.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return urls  # the rules check reports it
    urls += [str(p["url"]) for p in data.get("private") or [] if isinstance(p, dict) and p.get("url")]
    return list(dict.fromkeys(urls))


def probe_url(url: str, timeout: float = 5.0, cafile: str | None = None) -> str | None:
    """Open a connection (TLS verified for https) to the URL's host; None when it answers."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if parts.scheme == "https":
                ctx = ssl.create_default_context(cafile=cafile)
                with ctx.wrap_socket(sock, server_hostname=host):
                    pass
    except ssl.SSLCertVerificationError as exc:
        return f"TLS certificate not trusted ({exc.verify_message})"
    except OSError as exc:
        return f"{exc.__class__.__name__}: {exc.strerror or exc}"
    return None


def check_private_model(settings: Target) -> Result:
    """Every configured private model accepts a (TLS-verified) connection."""
    import os

    urls = private_model_urls(settings)
    if not urls:
        return Result("private-model", True, "none configured (confidential prompts are blocked, not routed)")
    cafile = os.environ.get("GUARD_UPSTREAM_CA") or None
    failed = [(u, why) for u in urls if (why := probe_url(u, cafile=cafile))]
    if failed:
        detail = "; ".join(f"{u}: {why}" for u, why in failed)
        return Result(
            "private-model", False, detail,
            "start the model server or fix its URL in rules/destinations.yaml; for an internal CA set --upstream-ca / GUARD_UPSTREAM_CA",
        )  # fmt: skip
    return Result("private-model", True, f"{len(urls)} reachable: {', '.join(urls)}")


def check_clock(settings: Target, now: datetime | None = None) -> Result:
    """The clock is after guard's release and agrees with the database server's (PostgreSQL)."""
    now = now or datetime.now(UTC)
    fix = "enable time synchronisation (timedatectl set-ntp true, chrony or systemd-timesyncd)"
    if now < RELEASED:
        return Result("clock", False, f"system time {now:%Y-%m-%d %H:%M} UTC is before this guard release", fix)
    skew = _db_skew(settings, now)
    if skew is not None and abs(skew) > MAX_SKEW_S:
        return Result("clock", False, f"{skew:+.0f} s off the database server's clock", fix + " on both machines")
    extra = f", {skew:+.1f} s from the database server" if skew is not None else ""
    return Result("clock", True, f"{now:%Y-%m-%d %H:%M:%S} UTC{extra}")


def _db_skew(settings: Target, now: datetime) -> float | None:
    """Seconds this clock is ahead of PostgreSQL's, or None (SQLite, or unreachable: see the database check)."""
    if not settings.db_url.startswith(("postgres", "postgresql")):
        return None
    try:
        from sqlalchemy import text

        from guard.audit.store import make_engine

        engine = make_engine(settings.db_url, connect_timeout=5)
        with engine.connect() as conn:
            server = conn.execute(text("SELECT now()")).scalar_one()
        engine.dispose()
    except Exception:  # noqa: BLE001 - the database check reports connection problems
        return None
    return (now - server.astimezone(UTC)).total_seconds()


def check_ocr(settings: Target) -> Result:
    """With GUARD_OCR on, tesseract is installed and has its English data (and says whether it reads Chinese)."""
    import subprocess

    from guard.ocr import Ocr

    if not settings.ocr:
        return Result("ocr", True, "off (GUARD_OCR): images in chat are not scanned, image files are unreadable")
    fix = "install Debian's tesseract-ocr (apt-get install tesseract-ocr), or turn OCR off"
    exe = Ocr().path()
    if exe is None:
        return Result("ocr", False, "OCR is on but tesseract is not on PATH: every image is blocked as unreadable", fix)
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, timeout=10, check=False).stdout.decode()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Result("ocr", False, f"{exe} does not run ({exc.__class__.__name__})", fix)
    if "eng" not in out.split():
        return Result("ocr", False, f"{exe} has no English data (eng.traineddata)", fix)
    from guard.ocr import installed_langs

    langs = installed_langs(exe).split("+")
    if "chi_sim" in langs or "chi_tra" in langs:
        return Result("ocr", True, f"{exe} with English and Chinese data ({'+'.join(langs)})")
    return Result("ocr", True, f"{exe} with English data; Chinese in images is not read "
                               "(apt-get install tesseract-ocr-chi-sim to add it)")  # fmt: skip


CHECKS: dict[str, Callable[[Target], Result]] = {
    "ca": check_ca,
    "rules": check_rules,
    "database": check_database,
    "private-model": check_private_model,
    "clock": check_clock,
    "ocr": check_ocr,
}


def run_checks(settings: Target, only: list[str] | None = None) -> list[Result]:
    """Run the named checks (all by default); a check that raises is reported as failed."""
    results = []
    for name, fn in CHECKS.items():
        if only and name not in only:
            continue
        try:
            results.append(fn(settings))
        except Exception as exc:  # noqa: BLE001 - a broken check must fail visibly, not crash the report
            results.append(Result(name, False, f"check crashed: {exc.__class__.__name__}", "report this as a bug"))
    return results


def doctor_command(settings: Target, only: list[str] | None, as_json: bool) -> int:
    """Print the report; return 1 if any check failed, 2 for an unknown check name."""
    unknown = sorted(set(only or ()) - set(CHECKS))
    if unknown:
        print(f"guard doctor: unknown check {', '.join(unknown)}; choose from {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    results = run_checks(settings, only)
    if as_json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            status = "FAIL" if not r.ok else ("WARN" if r.warning else "ok")
            print(f"{status:<5}{r.name:<15}{r.detail}")
            if r.fix:
                print(f"{'':<5}{'':<15}fix: {r.fix}")
        failed = sum(not r.ok for r in results)
        print(f"\n{failed} of {len(results)} checks failing" if failed else f"\nall {len(results)} checks ok")
    return 1 if any(not r.ok for r in results) else 0
