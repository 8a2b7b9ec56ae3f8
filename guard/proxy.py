"""Launch guard's proxy: an embedded mitmproxy Master (a lean set of addons) with the guard addon.

Only hosts in rules/destinations.yaml are TLS-intercepted (mitmproxy `allow_hosts`, anchored
`host:port` regexes); all other connections pass through as raw TCP. Detection runs in a pool of
worker processes started (and warmed up) before the proxy accepts its first connection.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from guard.config import default_home

if TYPE_CHECKING:
    from mitmproxy.master import Master
    from mitmproxy.options import Options

    from guard.detect.pool import DetectionPool
    from guard.pipeline import AuditSink, Pipeline, Router

log = logging.getLogger(__name__)
MiB = 1024 * 1024


@dataclass
class ProxyConfig:
    port: int = 8080
    host: str = ""
    confdir: Path | None = None
    rules_dir: Path | None = None
    db_url: str = ""
    upstream_ca: Path | None = None
    mode: str = "regular"
    workers: int | None = None
    htpasswd: Path | None = None
    identity_header: str = ""
    body_limit: int = 8 * MiB
    engine_factory: str = "guard.detect.engine:build_engine"
    models: bool = True
    home: Path | None = None
    verbosity: str = "warn"
    private_model: str = ""  # --private-model / GUARD_PRIVATE_MODEL_URL: OpenAI-compatible base URL
    detect_budget_ms: int = 30_000  # --detect-budget: a request whose detection takes longer is blocked
    websocket: str = "block"  # --websocket: block upgrades to guarded hosts, or inspect each message
    unreadable_attachments: str = "block"  # --unreadable-attachments: block | skip (guard.attachments)
    ocr: bool = False  # --ocr / GUARD_OCR: read images' text with tesseract (guard.ocr)
    metrics_host: str = "127.0.0.1"  # --metrics-host: /metrics, /healthz, /livez (guard.health)
    metrics_port: int = 0  # --metrics-port / GUARD_METRICS_PORT; 0: not served (the CLI defaults to 9464)


def make_audit_sink(cfg: ProxyConfig, home: Path) -> AuditSink:
    """The audit store writer for --db (default SQLite in GUARD_HOME); `jsonl:PATH` appends JSON lines instead."""
    if cfg.db_url.startswith("jsonl:"):
        from guard.audit_jsonl import JsonlAuditSink

        return JsonlAuditSink(Path(cfg.db_url[len("jsonl:"):]))
    from guard.audit.writer import AuditWriter

    return AuditWriter(cfg.db_url or f"sqlite:///{home / 'audit.db'}", home / "spool").start()


def build(cfg: ProxyConfig) -> tuple[Pipeline, DetectionPool, AuditSink]:
    """Build (pipeline, pool, audit sink); raise ValueError / OSError on bad configuration."""
    from guard.detect.pool import DetectionPool
    from guard.events import load_fingerprint_key
    from guard.hosts import load_destinations
    from guard.identity import check_header_name, check_htpasswd
    from guard.pipeline import Pipeline
    from guard.policy import load_policy

    home = cfg.home or default_home()
    home.mkdir(parents=True, exist_ok=True)
    if cfg.identity_header:
        check_header_name(cfg.identity_header)
    if cfg.htpasswd:
        check_htpasswd(cfg.htpasswd)
    if cfg.upstream_ca and not Path(cfg.upstream_ca).is_file():
        raise ValueError(f"--upstream-ca {cfg.upstream_ca}: no such file")
    destinations = load_destinations(cfg.rules_dir)
    from guard.policy.loader import PolicyHolder

    load_policy(cfg.rules_dir, private_model_url=cfg.private_model or None)  # fail fast on invalid rules
    policy = PolicyHolder(cfg.rules_dir, private_model_url=cfg.private_model or None)  # hot reload
    router = _router(cfg, policy)
    pool = DetectionPool(cfg.workers, cfg.rules_dir, models=cfg.models, factory=cfg.engine_factory,
                         timeout_s=cfg.detect_budget_ms / 1000)  # fmt: skip
    from guard.health import MeteredSink

    sink = MeteredSink(make_audit_sink(cfg, home))  # every audit event is also counted in guard.metrics
    from guard.audit.evidence import site_public_key
    from guard.ocr import Ocr

    ocr = Ocr() if cfg.ocr else None
    if ocr is not None and ocr.path() is None:
        log.warning("--ocr is on but tesseract is not installed: images are unreadable (on_unreadable applies)")
    pipeline = Pipeline(destinations, pool, policy, sink, load_fingerprint_key(home),
                        body_limit=cfg.body_limit, router=router, evidence_key=site_public_key(),
                        unreadable_attachments=cfg.unreadable_attachments, ocr=ocr)  # fmt: skip
    return pipeline, pool, sink


def _router(cfg: ProxyConfig, policy: object) -> Router | None:
    """Plan private routes with guard.routing.plan when the site has private destinations."""
    from guard.routing.plan import make_router

    return make_router(policy)  # private destinations of the policy in force (hot reload included)


class _Announce:
    """Print where the proxy listens once it is up (tests and scripts read this line)."""

    def running(self) -> None:
        import gc

        from mitmproxy import ctx

        # Everything loaded so far (mitmproxy, rules, policy, classifiers) lives as long as the
        # process: keep it out of the collector, whose full passes over it stalled the event loop
        # for up to 94 ms under load (measured with gc.callbacks on the proxy bench).
        gc.collect()
        gc.freeze()

        ps = ctx.master.addons.get("proxyserver")
        for addr in ps.listen_addrs():
            print(f"guard proxy listening on {addr[0]}:{addr[1]}", flush=True)


def _lean_master(opts: Options) -> Master:
    """A mitmproxy Master with only the addons a guard proxy needs.

    Every hook is dispatched to every addon; DumpMaster's 30-odd (replay, export, map-local, cookies,
    HAR, scripts...) cost CPU on each flow and add features guard does not want on LLM traffic.
    """
    from mitmproxy import master
    from mitmproxy.addons import (
        block,
        core,
        disable_h2c,
        dns_resolver,
        errorcheck,
        next_layer,
        proxyauth,
        proxyserver,
        tlsconfig,
        update_alt_svc,
    )

    m = master.Master(opts, with_termlog=True)
    m.addons.add(
        core.Core(),
        block.Block(),  # refuses clients from public addresses unless configured otherwise
        disable_h2c.DisableH2C(),
        proxyauth.ProxyAuth(),
        proxyserver.Proxyserver(),
        dns_resolver.DnsResolver(),
        next_layer.NextLayer(),
        tlsconfig.TlsConfig(),
        update_alt_svc.UpdateAltSvc(),
        errorcheck.ErrorCheck(),
    )
    return m


async def serve(cfg: ProxyConfig) -> int:
    """Run the proxy until SIGINT / SIGTERM; return the exit status."""
    from mitmproxy import options

    from guard import http1_trailers, upstream_conn
    from guard.addon import GuardAddon

    upstream_conn.install()  # re-send once when a reused upstream connection closed before replying
    http1_trailers.install()  # HTTP/1 trailers: a 400 with the reason, not mitmproxy's crash
    pipeline, pool, sink = build(cfg)
    print(f"guard proxy: starting {pool.workers} detection worker(s)…", file=sys.stderr, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, pool.start)
    home = cfg.home or default_home()
    confdir = Path(cfg.confdir or home / "ca")
    confdir.mkdir(parents=True, exist_ok=True)
    mode = cfg.mode or "regular"
    if mode.startswith("reverse:"):
        from urllib.parse import urlsplit

        target = urlsplit(mode[len("reverse:"):]).hostname or ""
        if pipeline.destinations.match(target) is None:
            raise ValueError(f"--mode {mode}: {target!r} is not a destination in destinations.yaml")
    elif mode != "regular":
        raise ValueError(f"--mode {mode!r}: use 'regular' or 'reverse:URL'")
    opts = options.Options(mode=[mode], listen_host=cfg.host, listen_port=cfg.port, confdir=str(confdir))
    master = _lean_master(opts)
    settings: dict[str, object] = {
        "termlog_verbosity": cfg.verbosity,
        "connection_strategy": "lazy",
        # Backstop only: guard blocks bodies above body_limit itself, with a readable message.
        "body_size_limit": str(max(cfg.body_limit * 4, 64 * MiB)),
    }
    if mode == "regular":
        settings["allow_hosts"] = pipeline.destinations.allow_hosts()
    if cfg.upstream_ca:
        settings["ssl_verify_upstream_trusted_ca"] = str(cfg.upstream_ca)
    if cfg.htpasswd:
        settings["proxyauth"] = f"@{cfg.htpasswd}"
    master.options.update(**settings)
    master.addons.add(GuardAddon(pipeline, identity_header=cfg.identity_header, websocket=cfg.websocket), _Announce())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    from guard import health

    metrics_server = await health.start(pool, sink, cfg.metrics_host, cfg.metrics_port)
    try:
        await master.run()
    finally:
        if metrics_server is not None:
            await metrics_server.close()
        await loop.run_in_executor(None, pool.close)
        close = getattr(sink, "close", None)
        if close:
            close()
    return 0


def run(cfg: ProxyConfig) -> int:
    """Start the proxy (blocking); print a one-line error and return 2 on bad configuration."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(cfg))
    except (ValueError, OSError) as exc:
        print(f"guard proxy: {exc}", file=sys.stderr)
        return 2
