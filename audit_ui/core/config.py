"""UI settings: one pydantic Settings read from GUARD_* environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from guard.config import default_home

# The development secret is public (it is in this file); it must never sign a real session.
DEV_SECRET = "changethis-guard-ui-development-secret"


class Settings(BaseSettings):
    """Everything `guard ui` can be told, as GUARD_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="GUARD_", extra="ignore")

    environment: Literal["local", "production"] = "local"
    database_url: str = ""
    home: Path = Field(default_factory=default_home)
    rules: Path | None = None
    secret_key: str = DEV_SECRET
    session_max_age: int = 8 * 3600  # seconds; the session ends this long after login
    cookie_secure: bool = False  # set the Secure flag (turn on behind TLS)
    cookie_samesite: Literal["lax", "strict"] = "lax"
    login_attempts: int = 5  # failed logins per username and client address per window
    login_window: int = 300  # seconds
    sso_header: str = ""  # e.g. X-Forwarded-User; empty turns single sign-on off
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list
    )  # addresses/networks allowed to send sso_header
    page_size: int = 50
    search_indexes: bool = True  # create the PostgreSQL search/group indexes at start-up (audit_ui/pgindex.py)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        # GUARD_TRUSTED_PROXIES=10.0.0.5,10.1.0.0/16 (comma-separated) reads better than JSON.
        return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        # A signed-cookie session is only as strong as its key: refuse the known development key
        # (or a short one) anywhere but a developer's machine.
        if self.environment != "local" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "GUARD_SECRET_KEY must be set to a random value of at least 32 characters outside local "
                "development (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        for net in self.trusted_proxies:
            ipaddress.ip_network(net, strict=False)  # fail at start-up, not per request
        if self.sso_header and not self.trusted_proxies:
            raise ValueError("GUARD_SSO_HEADER needs GUARD_TRUSTED_PROXIES (the reverse proxy's addresses)")
        return self

    @property
    def db_url(self) -> str:
        """The audit store URL: GUARD_DATABASE_URL, else the SQLite file under GUARD_HOME."""
        return self.database_url or f"sqlite:///{self.home / 'audit.db'}"

    @property
    def rules_dir(self) -> Path:
        """The rules directory: GUARD_RULES, else the bundled rules/."""
        from guard.detect.rules import BUNDLED_RULES  # the checkout's rules/, or the wheel's guard/_rules

        return self.rules or BUNDLED_RULES

    def is_trusted_proxy(self, host: str | None) -> bool:
        """True when `host` is one of the configured reverse-proxy addresses."""
        if not host or not self.trusted_proxies:
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies)
