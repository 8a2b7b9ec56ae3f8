"""guard.metrics renders valid Prometheus text with the counts a scrape would show, and no values."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from guard import metrics
from guard.audit.writer import AuditWriter
from tests.audit.factories import SECRETS, make_event


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_when_events_recorded_then_scrape_shows_requests_actions_findings_and_latency():
    before = _samples(metrics.render())
    metrics.record_event(make_event(action="redact", timings_ms={"detect": 4.0, "total": 12.0}))
    metrics.record_event(make_event(action="block", timings_ms={"detect": 30.0, "total": 40.0}))
    metrics.record_event(make_event(action="allow", findings=(), timings_ms={}))
    after = _samples(metrics.render())

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("guard_requests_total", provider="openai", source="api") == 3
    assert delta("guard_actions_total", action="redact") == 1
    assert delta("guard_actions_total", action="block") == 1
    assert delta("guard_findings_total", category="email") == 2
    assert delta("guard_detection_seconds_count") == 2
    assert delta("guard_detection_seconds_bucket", le="0.005") == 1  # 4 ms
    assert delta("guard_detection_seconds_bucket", le="0.05") == 2  # 4 ms and 30 ms
    assert delta("guard_request_seconds_sum") == pytest.approx(0.052)


def test_admin_events_are_not_requests():
    before = _samples(metrics.render())
    metrics.record_event(make_event(action="purge", kind="admin"))
    after = _samples(metrics.render())
    assert after.get(("guard_actions_total", (("action", "purge"),)), 0) == before.get(
        ("guard_actions_total", (("action", "purge"),)), 0
    )


def test_queue_depth_and_spool_size_follow_the_writer(tmp_path):
    w = AuditWriter("postgresql://postgres@127.0.0.1:1/none", tmp_path / "spool", connect_timeout=1).start()
    metrics.watch_writer(w)
    for i in range(7):
        w.submit(make_event(i))
    assert w.flush(20)
    s = _samples(metrics.render())
    assert s[("guard_audit_spool_events", ())] == 7
    assert s[("guard_audit_queue_depth", ())] == 0
    w.close(5)


def test_rendered_metrics_hold_no_identity_or_value():
    metrics.record_event(make_event(identity="zelda.secretuser"))
    text = metrics.render()
    assert "zelda" not in text
    for v in SECRETS.values():
        assert v not in text


def test_label_values_are_escaped():
    c = metrics.Counter("t_total", "t", ("x",))
    c.inc(x='a"b\\c\nd')
    fams = list(text_string_to_metric_families("\n".join(c.header() + c.lines()) + "\n"))
    assert fams[0].samples[0].labels["x"] == 'a"b\\c\nd'
