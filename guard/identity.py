"""Who sent a request: the proxy-auth user name, or a trusted header set by a corporate proxy.

Proxy authentication itself (Basic against an htpasswd file) is checked by mitmproxy's proxyauth
addon, which stores `(user, password)` in the flow's metadata; guard reads only the user name and
overwrites the password there, so nothing downstream can log or store it.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

# RFC 7230 token: what an HTTP header name may contain.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# htpasswd formats mitmproxy verifies: bcrypt ($2a$/$2b$/$2y$) and Apache {SHA}.
_HTPASSWD_HASH = re.compile(r"^(\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}|\{SHA\}[A-Za-z0-9+/]{27}=)$")
MAX_IDENTITY = 256


@dataclass(frozen=True, slots=True)
class Identity:
    user: str = ""
    groups: tuple[str, ...] = ()
    source: str = ""  # proxyauth | header | address


def check_header_name(name: str) -> str:
    """Validate an identity header name (raise ValueError) and return it."""
    if not _HEADER_NAME.match(name):
        raise ValueError(f"not a valid HTTP header name: {name!r}")
    return name


def check_htpasswd(path: Path) -> int:
    """Validate an htpasswd file at start-up; return the number of users (raise ValueError on a bad line)."""
    users = 0
    for lineno, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, pwhash = line.partition(":")
        if not sep or not user or not _HTPASSWD_HASH.match(pwhash.strip()):
            # Never echo the line: it holds a password hash.
            raise ValueError(f"{path}:{lineno}: expected 'user:<bcrypt or {{SHA}} hash>'")
        users += 1
    if not users:
        raise ValueError(f"{path}: no users")
    return users


def resolve(
    metadata: MutableMapping[str, object],
    headers: MutableMapping[str, str],
    *,
    identity_header: str = "",
    client_address: str = "",
) -> Identity:
    """Return who sent the request; drop the password from metadata and the trusted header from headers."""
    trusted = ""
    if identity_header:
        # Always remove the header so it never reaches the provider, trusted or not.
        trusted = _clean(headers.pop(identity_header, "") or "")
    auth = metadata.get("proxyauth")
    if isinstance(auth, tuple | list) and auth:
        user = _clean(str(auth[0]))
        metadata["proxyauth"] = (user, "")  # the password is not needed after mitmproxy checked it
        if user:
            return Identity(user, source="proxyauth")
    if trusted:
        return Identity(trusted, source="header")
    return Identity("", source="address") if not client_address else Identity(f"ip:{client_address}", source="address")


def _clean(value: str) -> str:
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value[:MAX_IDENTITY]

