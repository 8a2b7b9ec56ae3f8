"""Settings: one place for every GUARD_* environment variable and its default.

CLI options override these; `guard <cmd> --help` and README document each one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def default_home() -> Path:
    """Where guard keeps its state (CA, SQLite audit file, spool, keys): GUARD_HOME or ./var."""
    return Path(_env("GUARD_HOME") or Path.cwd() / "var").resolve()


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    rules_dir: Path | None = field(default_factory=lambda: Path(_env("GUARD_RULES")) if _env("GUARD_RULES") else None)
    database_url: str = field(default_factory=lambda: _env("GUARD_DATABASE_URL"))
    spacy_model: str = field(default_factory=lambda: _env("GUARD_SPACY_MODEL"))
    # Audit (guard/audit): purge age such as "180d" for `guard audit purge`, and the X25519 public key
    # file that turns on encrypted evidence (off when empty).
    audit_retention: str = field(default_factory=lambda: _env("GUARD_AUDIT_RETENTION"))
    evidence_public_key: str = field(default_factory=lambda: _env("GUARD_EVIDENCE_PUBLIC_KEY"))
    # OCR of images with tesseract (guard/ocr.py): `guard proxy --ocr`, read by `guard doctor`.
    ocr: bool = field(default_factory=lambda: _env("GUARD_OCR").strip().lower() in ("1", "true", "t", "yes", "y", "on"))

    @property
    def db_url(self) -> str:
        """The audit store URL: GUARD_DATABASE_URL, else a SQLite file under GUARD_HOME."""
        return self.database_url or f"sqlite:///{self.home / 'audit.db'}"

    @property
    def confdir(self) -> Path:
        return Path(_env("GUARD_CONFDIR") or self.home / "ca")


def settings() -> Settings:
    return Settings()
