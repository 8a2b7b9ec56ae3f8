"""`guard export` on the command line: sink options, tokens from the environment, usage errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from guard.audit import chain
from guard.cli import app
from tests.audit.factories import make_event
from tests.siem.listeners import Collector, SyslogListener, parse_5424, parse_cef

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sink", "kafka"], "--sink must be one of"),
        (["--sink", "syslog"], "needs --target"),
        (["--sink", "syslog", "--target", "http://siem:514"], "syslog target must look like"),
        (["--sink", "splunk", "--url", "http://127.0.0.1:1"], "GUARD_SPLUNK_TOKEN"),
        (["--sink", "webhook"], "needs --url"),
    ],
)
def test_usage_errors_exit_2(args, words, db_url, monkeypatch):
    monkeypatch.delenv("GUARD_SPLUNK_TOKEN", raising=False)
    r = runner.invoke(app, ["export", *args, "--db", db_url])
    assert r.exit_code == 2
    assert words in r.output


def test_webhook_token_and_secret_come_from_the_environment(store, db_url, monkeypatch):
    chain.append(store, [make_event(i) for i in range(3)])
    monkeypatch.setenv("SOC_TOKEN", "tok-from-env")
    monkeypatch.setenv("GUARD_WEBHOOK_SECRET", "sig")
    c = Collector()
    try:
        r = runner.invoke(
            app, ["export", "--sink", "webhook", "--url", c.url, "--token-env", "SOC_TOKEN", "--db", db_url]
        )
    finally:
        c.close()
    assert r.exit_code == 0, r.output
    assert "exported 3 events to webhook; cursor 'webhook' at seq 3" in r.output
    assert "tok-from-env" not in r.output
    (req,) = c.requests
    assert req["headers"]["Authorization"] == "Bearer tok-from-env"
    assert req["headers"]["X-Guard-Signature"].startswith("sha256=")
    assert len(json.loads(req["body"])["events"]) == 3


def test_syslog_via_cli_and_a_down_sink_exits_1_with_the_cursor_kept(store, db_url):
    chain.append(store, [make_event(i) for i in range(2)])
    listener = SyslogListener("tcp")
    try:
        r = runner.invoke(
            app, ["export", "--sink", "syslog", "--target", listener.url, "--name", "soc", "--db", db_url]
        )
        assert r.exit_code == 0, r.output
        msgs = listener.wait(2)
    finally:
        listener.close()
    assert parse_cef(parse_5424(msgs[1])["msg"])[1]["cn3"] == "2"
    chain.append(store, [make_event(5)])
    # the listener is gone now: the export retries, gives up, and keeps the cursor at 2
    r = runner.invoke(app, ["export", "--sink", "syslog", "--target", listener.url, "--name", "soc",
                            "--max-failures", "1", "--db", db_url])  # fmt: skip
    assert r.exit_code == 1
    assert "cursor at seq 2" in r.output
