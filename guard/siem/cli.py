"""`guard export`: ship audit events to a SIEM sink from the durable outbox."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from guard.siem.sinks import SINK_KINDS

export_app = typer.Typer(help="Ship audit events to a SIEM (JSON lines/ECS, CEF over syslog, Splunk HEC, webhook).")


@export_app.callback(invoke_without_command=True)
def export_cmd(
    sink: Annotated[str, typer.Option("--sink", help=f"Where to send events: {', '.join(SINK_KINDS)}.")],
    out: Annotated[
        str, typer.Option("--out", help="jsonl: file to append ECS JSON lines to, or '-' for stdout.")
    ] = "-",
    target: Annotated[
        str | None,
        typer.Option("--target", help="syslog: udp://host:514, tcp://host:514 or tls://host:6514 (CEF, RFC 5424)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="splunk: HEC base URL or full /services/collector/event URL; webhook: URL to POST to."
        ),
    ] = None,
    ca: Annotated[
        Path | None, typer.Option("--ca", help="CA certificate (PEM) to verify a TLS syslog or HTTPS server.")
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            help="Env var holding the Splunk HEC token or webhook bearer token (default GUARD_SPLUNK_TOKEN / GUARD_WEBHOOK_TOKEN).",
        ),
    ] = None,
    secret_env: Annotated[
        str,
        typer.Option(
            "--secret-env", help="webhook: env var with a secret to sign bodies (X-Guard-Signature: sha256=HMAC)."
        ),
    ] = "GUARD_WEBHOOK_SECRET",  # noqa: S107  (the name of an env var, not a secret)
    index: Annotated[str, typer.Option("--index", help="splunk: index to write to (default: the token's).")] = "",
    name: Annotated[
        str | None,
        typer.Option("--name", help="Cursor name: each name keeps its own position (default: the sink kind)."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep running and ship new events as they arrive.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Events per delivery.")] = 500,
    poll: Annotated[float, typer.Option("--poll", help="--follow: seconds between checks for new events.")] = 1.0,
    max_failures: Annotated[
        int,
        typer.Option(
            "--max-failures", help="Without --follow: give up (exit 1) after this many failed retries in a row."
        ),
    ] = 5,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="GUARD_DATABASE_URL", help="Audit store URL (default: SQLite under GUARD_HOME)."),
    ] = None,
) -> None:
    """Ship events after the cursor to the sink, in order, at least once; the cursor only moves on delivery."""
    from guard.audit.store import open_store
    from guard.config import settings
    from guard.siem.outbox import Exporter
    from guard.siem.sinks import JsonLinesSink, SinkError, SplunkHecSink, SyslogSink, WebhookSink

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if sink == "jsonl":
            s = JsonLinesSink(out)
        elif sink == "syslog":
            s = SyslogSink(_need(target, "--target"), ca=ca)
        elif sink == "splunk":
            s = SplunkHecSink(
                _need(url, "--url"), token=_secret(token_env or "GUARD_SPLUNK_TOKEN", True), index=index, ca=ca
            )
        elif sink == "webhook":
            s = WebhookSink(
                _need(url, "--url"),
                token=_secret(token_env or "GUARD_WEBHOOK_TOKEN"),
                secret=_secret(secret_env),
                ca=ca,
            )
        else:
            raise ValueError(f"--sink must be one of {', '.join(SINK_KINDS)}")
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    store = open_store(db or settings().db_url)
    exporter = Exporter(store, s, name or sink, batch_size=batch_size)
    try:
        n = exporter.run(follow=follow, poll=poll, max_failures=max_failures)
    except SinkError as exc:
        typer.echo(f"error: {exc}; {exporter.delivered} events delivered, cursor at seq {exporter.cursor()}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        n = exporter.delivered
    finally:
        s.close()
        store.close()
    typer.echo(f"exported {n} events to {sink}; cursor '{exporter.name}' at seq {exporter.cursor()}", err=True)


def _need(v: str | None, opt: str) -> str:
    if not v:
        raise ValueError(f"this sink needs {opt}")
    return v


def _secret(env: str, required: bool = False) -> str:
    # Tokens come from the environment, never the command line, where `ps` would show them.
    v = os.environ.get(env, "")
    if required and not v:
        raise ValueError(f"set the token in ${env}")
    return v
