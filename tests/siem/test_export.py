"""guard export: every sink delivers every field, in order, at least once; a down sink holds the cursor."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import pytest

from guard.audit import chain
from guard.siem.cef import CEF_SEVERITY, SYSLOG_SEVERITY
from guard.siem.ecs import Exported
from guard.siem.outbox import Exporter
from guard.siem.sinks import JsonLinesSink, SinkError, SplunkHecSink, SyslogSink, WebhookSink
from tests.audit.factories import make_event
from tests.siem.listeners import Collector, SyslogListener, make_cert, parse_5424, parse_cef


def _events():
    return [
        make_event(0, action="redact"),
        make_event(1, action="block", error="PolicyError: blocked by rule", upstream_status=None, usage={}),
        make_event(2, action="allow", findings=(), client_address="fd00::7", timings_ms={}),
        # characters CEF and syslog must escape: | \ = and line breaks
        make_event(3, action="route_private", identity="a|b\\c=d", reason="line one\nline=two | x", route="private"),
        make_event(4, action="purge", kind="admin", identity="ops", reason="purged 3 events", findings=()),
    ]


@pytest.fixture
def filled(store):
    events = _events()
    chain.append(store, events)
    exporter = Exporter(store, JsonLinesSink("/dev/null"), "probe")
    return store, exporter.fetch(0)


def check_ecs(doc: dict, x: Exported) -> None:
    """Every ECS field against the event it came from."""
    e = x.event
    assert datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00")) == e.time.replace(
        microsecond=e.time.microsecond // 1000 * 1000
    )
    ev = doc["event"]
    assert (ev["id"], ev["action"], ev["sequence"], ev["hash"]) == (e.event_id, e.action, x.seq, x.hash)
    assert ev["kind"] == "event" and ev["module"] == "guard" and ev["dataset"] == "guard.audit"
    assert ev["outcome"] == ("failure" if e.error else "success")
    assert ev["reason"] == e.reason
    expected_type = {
        "allow": ["allowed"],
        "block": ["denied"],
        "redact": ["allowed", "change"],
        "route_private": ["allowed", "change"],
        "purge": ["admin"],
    }[e.action]
    assert ev["type"] == expected_type
    assert ev["category"] == (["configuration"] if e.kind == "admin" else ["web"])
    if "total" in e.timings_ms:
        assert ev["duration"] == int(e.timings_ms["total"] * 1e6)
    assert doc["ecs"]["version"].startswith("8.")
    assert doc["user"]["name"] == e.identity
    assert doc["source"] == {"ip": e.client_address}
    assert doc["destination"]["domain"] == e.destination
    assert doc["rule"]["name"] == list(e.policy_rules)
    assert doc["gen_ai"]["system"] == e.provider and doc["gen_ai"]["request"]["model"] == e.model
    if e.usage:
        assert doc["gen_ai"]["usage"] == {
            "input_tokens": e.usage["prompt_tokens"],
            "output_tokens": e.usage["completion_tokens"],
        }
    else:
        assert "usage" not in doc["gen_ai"]
    assert doc["http"]["request"]["bytes"] == e.request_bytes and doc["http"]["response"]["bytes"] == e.response_bytes
    assert doc["http"]["response"].get("status_code") == e.upstream_status
    assert doc.get("error", {}).get("message", "") == e.error
    g = doc["guard"]
    assert g["kind"] == e.kind and g["route"] == e.route and g["endpoint"] == e.endpoint and g["source"] == e.source
    assert g["conversation_id"] == e.conversation_id and g["monitor"] == e.monitor
    assert g["groups"] == list(e.groups) and g["classifications"] == list(e.classifications)
    assert g["scanned"] == list(e.scanned) and g["skipped"] == list(e.skipped) and g["failed"] == list(e.failed)
    assert g["timings_ms"] == e.timings_ms and g["prev_hash"] == x.prev_hash and g["has_evidence"] is False
    assert g["categories"] == sorted({f.category for f in e.findings})
    assert [tuple(f.values()) for f in g["findings"]] == [
        (f.category, f.entity_type, f.rule_id, f.field, f.start, f.end, f.fingerprint, f.preview, f.score)
        for f in e.findings
    ]


def check_cef(header: list[str], ext: dict, x: Exported) -> None:
    """Every CEF header field and extension against the event."""
    e = x.event
    assert header[:4] == ["0", "guard", "guard", "0.1.0"]
    assert header[4] == e.action
    assert header[5] == (f"guard admin {e.action}" if e.kind == "admin" else f"LLM request {e.action}")
    assert int(header[6]) == (5 if e.kind == "admin" else CEF_SEVERITY[e.action])
    assert int(ext["rt"]) == int(e.time.timestamp() * 1000)
    assert ext["externalId"] == e.event_id and ext["act"] == e.action and ext["cat"] == f"guard/{e.kind}"
    assert ext["suser"] == e.identity and ext["dhost"] == e.destination and ext["msg"] == e.reason
    assert ext["outcome"] == ("failure" if e.error else "success")
    assert int(ext["in"]) == e.request_bytes and int(ext["out"]) == e.response_bytes
    labels = {ext[f"cs{i}Label"]: ext[f"cs{i}"] for i in range(1, 7)}
    assert labels == {
        "provider": e.provider,
        "model": e.model,
        "policyRules": ",".join(e.policy_rules),
        "categories": ",".join(sorted({f.category for f in e.findings})),
        "conversationId": e.conversation_id,
        "route": e.route,
    }
    assert (ext["cn1Label"], int(ext["cn1"])) == ("findingCount", len(e.findings))
    assert (ext["cn3Label"], int(ext["cn3"])) == ("sequence", x.seq)
    assert (ext["flexString1Label"], ext["flexString1"]) == ("hash", x.hash)
    assert ext["src"] == e.client_address
    if e.upstream_status is None:
        assert "cn2" not in ext
    else:
        assert (ext["cn2Label"], int(ext["cn2"])) == ("upstreamStatus", e.upstream_status)


def test_jsonl_sink_writes_ecs_lines_in_order(filled, tmp_path):
    store, exported = filled
    out = tmp_path / "events.jsonl"
    ex = Exporter(store, JsonLinesSink(str(out)), "jsonl", batch_size=2)  # several batches
    assert ex.run() == 5
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["event"]["sequence"] for d in docs] == [1, 2, 3, 4, 5]
    for d, x in zip(docs, exported, strict=True):
        check_ecs(d, x)
    assert ex.cursor() == 5
    assert ex.run() == 0  # nothing new: nothing resent


@pytest.mark.parametrize("proto", ["udp", "tcp", "tls"])
def test_syslog_sink_sends_cef_in_rfc5424(filled, proto, tmp_path):
    store, exported = filled
    cert = make_cert(tmp_path) if proto == "tls" else None
    listener = SyslogListener(proto, cert)
    try:
        sink = SyslogSink(listener.url, ca=cert[0] if cert else None, hostname="guard-host")
        ex = Exporter(store, sink, f"syslog-{proto}")
        assert ex.run() == 5
        msgs = listener.wait(5)
        sink.close()
    finally:
        listener.close()
    assert len(msgs) == 5
    for m, x in zip(msgs, exported, strict=True):
        s = parse_5424(m)
        e = x.event
        assert s["facility"] == 13
        assert s["severity"] == (5 if e.kind == "admin" else SYSLOG_SEVERITY[e.action])
        assert datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00")) == e.time
        assert (s["hostname"], s["app"], s["msgid"]) == ("guard-host", "guard", "audit")
        assert s["procid"].isdigit()
        assert s["sd"] == f'[meta sequenceId="{x.seq}"]'
        check_cef(*parse_cef(s["msg"]), x)


def test_tls_sink_refuses_a_server_it_cannot_verify(filled, tmp_path):
    store, _ = filled
    listener = SyslogListener("tls", make_cert(tmp_path))
    try:
        ex = Exporter(store, SyslogSink(listener.url), "tls-unverified", retry_initial=0.01)  # no --ca: system roots
        with pytest.raises(SinkError):
            ex.run(max_failures=1)
        assert ex.cursor() == 0
    finally:
        listener.close()


def test_splunk_hec_sink(filled):
    store, exported = filled
    c = Collector()
    try:
        ex = Exporter(store, SplunkHecSink(c.url, token="hec-token-1", index="sec"), "splunk", batch_size=3)
        assert ex.run() == 5
    finally:
        c.close()
    assert len(c.requests) == 2
    objs = []
    for r in c.requests:
        assert r["path"] == "/services/collector/event"
        assert r["headers"]["Authorization"] == "Splunk hec-token-1"
        objs += [json.loads(line) for line in r["body"].decode().splitlines()]
    for o, x in zip(objs, exported, strict=True):
        assert o["time"] == round(x.event.time.timestamp(), 3)
        assert (o["source"], o["sourcetype"], o["index"]) == ("guard", "guard:audit", "sec")
        assert o["host"]
        check_ecs(o["event"], x)


def test_webhook_sink_signs_bodies(filled):
    store, exported = filled
    c = Collector()
    try:
        ex = Exporter(store, WebhookSink(c.url + "/hook", token="bear", secret="s3cr3t"), "webhook")
        assert ex.run() == 5
    finally:
        c.close()
    (r,) = c.requests
    assert r["path"] == "/hook" and r["headers"]["Authorization"] == "Bearer bear"
    assert r["headers"]["X-Guard-Signature"] == "sha256=" + hmac.new(b"s3cr3t", r["body"], hashlib.sha256).hexdigest()
    for d, x in zip(json.loads(r["body"])["events"], exported, strict=True):
        check_ecs(d, x)


def test_when_sink_fails_then_cursor_holds_and_retries_deliver_everything_once(filled):
    store, exported = filled
    c = Collector()
    c.fail_next = [503, 500, 503]
    try:
        ex = Exporter(store, WebhookSink(c.url), "flaky", batch_size=2, retry_initial=0.01)
        assert ex.run(max_failures=10) == 5
        assert ex.failures == 3
    finally:
        c.close()
    seqs = [d["event"]["sequence"] for r in c.requests for d in json.loads(r["body"])["events"]]
    assert seqs == [1, 2, 3, 4, 5]


def test_when_sink_stays_down_then_export_gives_up_with_cursor_unmoved_and_resumes_later(filled):
    store, _ = filled
    c = Collector()
    c.fail_next = [503] * 3
    try:
        ex = Exporter(store, WebhookSink(c.url), "down", retry_initial=0.01)
        with pytest.raises(SinkError):
            ex.run(max_failures=3)
        assert ex.cursor() == 0
        chain.append(store, [make_event(9)])
        assert Exporter(store, WebhookSink(c.url), "down").run() == 6
    finally:
        c.close()
    assert [d["event"]["sequence"] for d in json.loads(c.requests[0]["body"])["events"]] == [1, 2, 3, 4, 5, 6]


def test_cursors_are_independent_per_name(filled, tmp_path):
    store, _ = filled
    a = Exporter(store, JsonLinesSink(str(tmp_path / "a")), "a")
    assert a.run() == 5
    b = Exporter(store, JsonLinesSink(str(tmp_path / "b")), "b", batch_size=2)
    assert b.run_once() == 2
    assert (a.cursor(), b.cursor()) == (5, 2)


def test_jsonl_sink_starts_a_fresh_line_after_a_torn_one(filled, tmp_path):
    store, exported = filled
    out = tmp_path / "torn.jsonl"
    out.write_text('{"event": {"sequence": 1, "id": "cut-off-by-a-cra')  # what kill -9 mid-write leaves
    JsonLinesSink(str(out)).send(exported[:2])
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    assert [json.loads(x)["event"]["sequence"] for x in lines[1:]] == [1, 2]
