"""Prometheus metrics for guard, rendered in the text exposition format 0.0.4. No mitmproxy here.

For the proxy: call `record_event(event)` once per audit event (the same event handed to the
AuditWriter), `watch_writer(writer)` once at start, and serve `render()` with `CONTENT_TYPE` on the
metrics endpoint. Labels are closed vocabularies (provider, action, category, source), never
identities, models, hosts or values, so nothing sensitive and no unbounded cardinality reaches them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; detection is milliseconds on short prompts and seconds on huge ones.
LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(x: float) -> str:
    x = float(x)
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


class _Metric:
    kind = ""

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_, tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, Any]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape(self.help)}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: Any) -> None:
        """Add `amount` (>= 0) to the series with these labels."""
        if amount < 0:
            raise ValueError("counters only go up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: Any) -> float:
        return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_num(v)}" for k, v in items]


class Gauge(_Metric):
    """A value read when rendering, from a callback (queue depth, spool size)."""

    kind = "gauge"

    def __init__(self, name: str, help_: str) -> None:
        super().__init__(name, help_)
        self._fn: Callable[[], float] = lambda: 0.0

    def set_function(self, fn: Callable[[], float]) -> None:
        self._fn = fn

    def lines(self) -> list[str]:
        try:
            v = float(self._fn())
        except Exception:  # noqa: BLE001  (a broken source must not break the metrics page)
            v = math.nan
        return [f"{self.name} {'NaN' if math.isnan(v) else _num(v)}"]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self, name: str, help_: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ):
        super().__init__(name, help_, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count

    def observe(self, value: float, **labels: Any) -> None:
        """Record one observation."""
        key = self._key(labels)
        with self._lock:
            s = self._series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for i, b in enumerate(self.buckets):
                if value <= b:
                    s[i] += 1
            s[-2] += value
            s[-1] += 1

    def lines(self) -> list[str]:
        out: list[str] = []
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        for key, s in items:
            for i, b in enumerate(self.buckets):
                le = f'le="{_num(b)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {_num(s[i])}")
            inf = 'le="+Inf"'
            out.append(f"{self.name}_bucket{_labels(self.labelnames, key, inf)} {_num(s[-1])}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_num(s[-2])}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {_num(s[-1])}")
        return out


class Registry:
    def __init__(self) -> None:
        self.metrics: list[_Metric] = []

    def add(self, metric: Any) -> Any:
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for m in self.metrics:
            lines += m.header() + m.lines()  # type: ignore[attr-defined]
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
REQUESTS = REGISTRY.add(
    Counter("guard_requests_total", "Guarded LLM requests decided, by provider and source.", ("provider", "source"))
)
ACTIONS = REGISTRY.add(
    Counter("guard_actions_total", "Policy outcomes, by action (allow, redact, route_private, block).", ("action",))
)
FINDINGS = REGISTRY.add(Counter("guard_findings_total", "Sensitive values found, by category.", ("category",)))
ERRORS = REGISTRY.add(
    Counter("guard_errors_total", "Requests that failed closed because detection or policy raised.", ())
)
DETECT_SECONDS = REGISTRY.add(Histogram("guard_detection_seconds", "Time spent detecting sensitive data per request."))
TOTAL_SECONDS = REGISTRY.add(
    Histogram("guard_request_seconds", "Time guard added to a request (parse, detect, decide, apply).")
)
QUEUE_DEPTH = REGISTRY.add(Gauge("guard_audit_queue_depth", "Audit events submitted and not yet stored or spooled."))
SPOOL_SIZE = REGISTRY.add(
    Gauge("guard_audit_spool_events", "Audit events waiting in the local spool for the database.")
)


class _Event(Protocol):
    provider: str
    source: str
    action: str
    kind: str
    error: str
    findings: Sequence[Any]
    timings_ms: dict[str, float]


class _Writer(Protocol):
    @property
    def queue_depth(self) -> int: ...
    @property
    def spool_size(self) -> int: ...


def record_event(event: _Event) -> None:
    """Count one audit event: request, action, findings by category, and its latencies.

    Latencies come from `timings_ms["detect"]` and `timings_ms["total"]` when present.
    """
    if event.kind != "request":
        return
    REQUESTS.inc(provider=event.provider or "unknown", source=event.source or "unknown")
    ACTIONS.inc(action=event.action)
    if event.error:
        ERRORS.inc()
    for f in event.findings:
        FINDINGS.inc(category=f.category)
    if "detect" in event.timings_ms:
        DETECT_SECONDS.observe(event.timings_ms["detect"] / 1000.0)
    if "total" in event.timings_ms:
        TOTAL_SECONDS.observe(event.timings_ms["total"] / 1000.0)


def watch_writer(writer: _Writer) -> None:
    """Report this AuditWriter's queue depth and spool size on every render."""
    QUEUE_DEPTH.set_function(lambda: writer.queue_depth)
    SPOOL_SIZE.set_function(lambda: writer.spool_size)


def render() -> str:
    """Every metric in the Prometheus text format (serve it with CONTENT_TYPE)."""
    return REGISTRY.render()
