r"""Guarded destinations from rules/destinations.yaml: which hosts guard intercepts, and their wire format.

`allow_hosts()` gives mitmproxy anchored `host:port` regexes (`^api\.openai\.com:\d+$`), so only
these connections are TLS-intercepted and everything else passes through as raw TCP. Any port: a
guarded host never passes unscanned, whatever port or scheme it is reached on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from guard.detect.rules import BUNDLED_RULES

# A DNS name or IPv4 address, with one optional leading "*." wildcard (RFC 1123 labels).
_HOST = re.compile(r"^(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


@dataclass(frozen=True, slots=True)
class Destination:
    name: str
    kind: str  # public | private
    adapter: str
    hosts: tuple[str, ...]
    source: str = "api"  # api | webapp
    url: str = ""


def host_regex(host: str) -> str:
    """Anchored `host:port` regex: `*.x.com` matches any subdomain of x.com, never x.com itself."""
    if host.startswith("*."):
        # One or more DNS labels before the suffix (RFC 1123 label characters).
        return rf"^(?:[a-z0-9-]+\.)+{re.escape(host[2:])}:\d+$"
    return rf"^{re.escape(host)}:\d+$"


class Destinations:
    """The guarded destinations, with host matching."""

    def __init__(self, destinations: list[Destination]) -> None:
        self.all = destinations
        self._any_port = [
            (re.compile(host_regex(h), re.IGNORECASE), d) for d in destinations for h in d.hosts
        ]

    def match(self, host: str) -> Destination | None:
        """Return the destination a host name belongs to (any port), or None."""
        probe = f"{host.lower().rstrip('.')}:0"
        for rex, dest in self._any_port:
            if rex.match(probe):
                return dest
        return None

    def allow_hosts(self) -> list[str]:
        """Anchored `host:port` regexes for mitmproxy's allow_hosts option."""
        return list(dict.fromkeys(host_regex(h) for d in self.all for h in d.hosts))


def load_destinations(rules_dir: Path | None = None) -> Destinations:
    """Read destinations.yaml; raise ValueError with file and entry on a bad entry."""
    path = Path(rules_dir or BUNDLED_RULES) / "destinations.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[Destination] = []
    for kind in ("public", "private"):
        for i, entry in enumerate(data.get(kind) or []):
            where = f"{path}: {kind}[{i}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: must be a mapping")
            hosts = [str(h).strip().lower().rstrip(".") for h in entry.get("hosts") or []]
            url = str(entry.get("url") or "")
            if url:
                parts = urlsplit(url)
                if parts.hostname:
                    hosts.append(parts.hostname.lower())
            for h in hosts:
                if not _HOST.match(h):
                    raise ValueError(f"{where}: invalid host {h!r}")
            if not hosts:
                raise ValueError(f"{where}: no hosts")
            out.append(
                Destination(
                    name=str(entry.get("name") or hosts[0]),
                    kind=kind,
                    adapter=str(entry.get("adapter") or ("openai" if kind == "private" else "generic")),
                    hosts=tuple(dict.fromkeys(hosts)),
                    source=str(entry.get("source") or "api"),
                    url=url,
                )
            )
    return Destinations(out)
