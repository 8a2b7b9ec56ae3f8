"""Audit event → ArcSight CEF line, wrapped in an RFC 5424 syslog message.

CEF: "CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension"
(Micro Focus "ArcSight Common Event Format" 25). Header fields escape `\\` and `|`; extension values
escape `\\`, `=` and line breaks. Syslog: RFC 5424 header with the IANA-registered `meta`
structured data (sequenceId = the event's chain seq), facility 13 (log audit).
"""

from __future__ import annotations

import ipaddress
import os
import socket

from guard import __version__ as GUARD_VERSION
from guard.siem.ecs import Exported

CEF_SEVERITY = {"allow": 1, "redact": 3, "route_private": 5, "block": 7}
# RFC 5424 severities: 4 warning, 5 notice, 6 informational.
SYSLOG_SEVERITY = {"allow": 6, "redact": 5, "route_private": 5, "block": 4}
FACILITY_LOG_AUDIT = 13


def _hdr(v: str) -> str:
    return v.replace("\\", "\\\\").replace("|", "\\|")


def _ext(v: object) -> str:
    s = str(v)
    return s.replace("\\", "\\\\").replace("=", "\\=").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def to_cef(x: Exported) -> str:
    """The CEF line for one exported event."""
    e = x.event
    admin = e.kind != "request"
    name = f"guard admin {e.action}" if admin else f"LLM request {e.action}"
    sev = 5 if admin else CEF_SEVERITY.get(e.action, 3)
    ext: list[tuple[str, object]] = [
        ("rt", int(e.time.timestamp() * 1000)),
        ("externalId", e.event_id),
        ("cat", "guard/" + e.kind),
        ("act", e.action),
        ("suser", e.identity),
        ("dhost", e.destination),
        ("msg", e.reason),
        ("outcome", "failure" if e.error else "success"),
        ("in", e.request_bytes),
        ("out", e.response_bytes),
        ("cs1Label", "provider"),
        ("cs1", e.provider),
        ("cs2Label", "model"),
        ("cs2", e.model),
        ("cs3Label", "policyRules"),
        ("cs3", ",".join(e.policy_rules)),
        ("cs4Label", "categories"),
        ("cs4", ",".join(sorted({f.category for f in e.findings}))),
        ("cs5Label", "conversationId"),
        ("cs5", e.conversation_id),
        ("cs6Label", "route"),
        ("cs6", e.route),
        ("cn1Label", "findingCount"),
        ("cn1", len(e.findings)),
        ("cn3Label", "sequence"),
        ("cn3", x.seq),
        ("flexString1Label", "hash"),
        ("flexString1", x.hash),
    ]
    if e.client_address:
        ext.append(("src" if _is_ip(e.client_address) else "shost", e.client_address))
    if e.upstream_status is not None:
        ext += [("cn2Label", "upstreamStatus"), ("cn2", e.upstream_status)]
    body = " ".join(f"{k}={_ext(v)}" for k, v in ext)
    head = "|".join(_hdr(p) for p in ("guard", "guard", GUARD_VERSION, e.action, name))
    return f"CEF:0|{head}|{sev}|{body}"


def _is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


def syslog_5424(x: Exported, msg: str, hostname: str | None = None, facility: int = FACILITY_LOG_AUDIT) -> bytes:
    """One RFC 5424 message carrying `msg`: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [meta sequenceId] MSG."""
    e = x.event
    sev = 5 if e.kind != "request" else SYSLOG_SEVERITY.get(e.action, 6)
    ts = e.time.isoformat(timespec="microseconds").replace("+00:00", "Z")
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "-")
    # meta sequenceId is 1..2147483647 (RFC 5424 7.3.1); wrap rather than emit an invalid value.
    seqid = (x.seq - 1) % 2147483647 + 1
    return f'<{facility * 8 + sev}>1 {ts} {host} guard {os.getpid()} audit [meta sequenceId="{seqid}"] {msg}'.encode()
