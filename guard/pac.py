"""Generate a proxy auto-config (PAC) file from rules/destinations.yaml.

Only the LLM hosts guard knows go to the proxy; everything else goes DIRECT, so the proxy never
sees (or slows) ordinary traffic. There is deliberately no DIRECT fallback for LLM hosts: if every
guard proxy is down, prompts fail instead of leaving unscanned (fail closed).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from guard.detect.rules import BUNDLED_RULES

# RFC 1123 host name labels, with one optional leading "*." wildcard (as destinations.yaml allows).
_HOST_RE = re.compile(
    r"^(\*\.)?(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
# host:port, host a DNS name or an IPv4 address; PAC proxy entries carry no scheme.
_PROXY_RE = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")

TEMPLATE = Path(__file__).resolve().parent / "pac_template.js"


class PacError(ValueError):
    """destinations.yaml or a proxy address cannot make a valid PAC file."""


def destination_hosts(rules_dir: Path | None = None, include_private: bool = False) -> list[str]:
    """Return the guarded host patterns from destinations.yaml, lowercased, sorted, deduplicated."""
    path = Path(rules_dir or BUNDLED_RULES) / "destinations.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PacError(f"{path}: cannot read destinations: {exc.__class__.__name__}") from None
    entries = list(data.get("public") or [])
    if include_private:
        entries += list(data.get("private") or [])
    hosts: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            raise PacError(f"{path}: each destination must be a mapping, got {type(entry).__name__}")
        found = [str(h) for h in entry.get("hosts") or []]
        if entry.get("url"):
            found.append(urlsplit(str(entry["url"])).hostname or "")
        for host in found:
            host = host.strip().lower().rstrip(".")
            if not _HOST_RE.match(host):
                raise PacError(f"{path}: destination {entry.get('name', '?')!r}: invalid host {host!r}")
            hosts.add(host)
    if not hosts:
        raise PacError(f"{path}: no destination hosts: the PAC file would send nothing to guard")
    return sorted(hosts)


def render_pac(hosts: list[str], proxies: list[str]) -> str:
    """Return PAC JavaScript sending `hosts` to `proxies` (in failover order) and all else DIRECT."""
    if not proxies:
        raise PacError("at least one --proxy HOST:PORT is needed")
    for proxy in proxies:
        if not _PROXY_RE.match(proxy):
            raise PacError(f"invalid proxy address {proxy!r}: expected HOST:PORT, e.g. guard.corp.example:8080")
    exact = sorted(h for h in hosts if not h.startswith("*."))
    # "*.example.com" matches any subdomain, never example.com itself (same as the proxy's rule).
    suffixes = sorted(h[1:] for h in hosts if h.startswith("*."))
    text = TEMPLATE.read_text(encoding="utf-8")
    return (
        text.replace("@GENERATED@", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        .replace("@EXACT@", json.dumps(exact))
        .replace("@SUFFIXES@", json.dumps(suffixes))
        .replace("@PROXY@", json.dumps("; ".join(f"PROXY {p}" for p in proxies)))
    )


def pac_command(rules_dir: Path | None, proxies: list[str], output: Path | None, include_private: bool) -> int:
    """Write the PAC file to `output` or stdout; return the exit status."""
    import sys

    try:
        text = render_pac(destination_hosts(rules_dir, include_private), proxies)
    except PacError as exc:
        print(f"guard pac: {exc}", file=sys.stderr)
        return 2
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}: serve it to clients over HTTP(S) as application/x-ns-proxy-autoconfig", file=sys.stderr)
    return 0
