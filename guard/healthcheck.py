"""Container health probe: `python -m guard.healthcheck` exits 0 when this role's endpoint answers.

GUARD_HEALTHCHECK_URL names the endpoint (an http URL answering 2xx when healthy, or tcp://HOST:PORT
for a listener that only has to accept). Standard library only: it runs every 30 s in every container.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:9464/healthz"  # the proxy's health endpoint (the image's default command)


def probe(url: str, timeout: float = 4.0) -> str | None:
    """Return None when `url` is healthy, else a one-line reason."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "tcp":
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 8080), timeout=timeout):
                return None
        if parts.scheme not in ("http", "https"):
            return f"unsupported health URL scheme {parts.scheme!r} (use http, https or tcp)"
        # No proxy for the probe itself: HTTPS_PROXY may point at guard.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
            return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except OSError as exc:
        return f"{exc.__class__.__name__}: {exc}"


def main() -> int:
    url = os.environ.get("GUARD_HEALTHCHECK_URL") or DEFAULT_URL
    reason = probe(url)
    if reason:
        print(f"unhealthy: {url}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
