"""Passwords (argon2), CSRF tokens and the login rate limiter."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a login for an unknown name costs the same
# argon2 work as one for a real name: response time does not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    """Return the argon2id hash of `password`."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check `password` against `password_hash`; with no hash, burn the same time and fail."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_stamp(password_hash: str) -> str:
    """A short digest of the hash kept in the session: a password change ends older sessions."""
    return hmac.new(b"guard-session-stamp", password_hash.encode(), "sha256").hexdigest()[:16]


def new_csrf_token() -> str:
    """Return a fresh random CSRF token."""
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Compare CSRF tokens in constant time."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class LoginLimiter:
    """Sliding-window count of failed logins per key (username + client address, and address alone)."""

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, keys: list[str], limits: list[int]) -> int:
        """Seconds to wait if any key is over its limit, else 0."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in zip(keys, limits, strict=True):
                q = self._recent(key, now)
                if len(q) >= limit:
                    wait = max(wait, q[0] + self.window - now)
        return int(wait) + 1 if wait else 0

    def fail(self, keys: list[str]) -> None:
        """Record one failed attempt under every key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._fails) > 100_000:  # bound memory under a spraying attack
                self._fails = {k: q for k, q in self._fails.items() if q and q[-1] > now - self.window}

    def clear(self, key: str) -> None:
        """Forget failures for a key after a successful login."""
        with self._lock:
            self._fails.pop(key, None)
