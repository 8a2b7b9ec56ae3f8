"""Load rules/destinations.yaml: public LLM providers (guarded hosts) and the company's private models.

A private model is an OpenAI-compatible endpoint (vLLM, Ollama, TGI, ...):

  private:
    - name: internal-llm
      url: https://llm.corp.example/v1        # OpenAI base URL, as OPENAI_BASE_URL would be
      auth: {header: Authorization, env: INTERNAL_LLM_KEY, scheme: Bearer}
      models: {"gpt-4o*": llama3.1-70b, "claude-*": qwen2.5-72b}   # client model glob -> private model
      default_model: llama3.1-70b
      ca_file: /etc/guard/internal-ca.pem      # verify TLS to it with this CA
      timeout_s: 60                            # whole reply (first byte for streams)
      connect_timeout_s: 3

`GUARD_PRIVATE_MODEL_URL` (or `--private-model URL`) adds one named `private` for the common case,
with GUARD_PRIVATE_MODEL (model name), GUARD_PRIVATE_MODEL_API_KEY and GUARD_PRIVATE_MODEL_CA.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from guard.detect.rules import BUNDLED_RULES, RuleError, load_yaml

ADAPTERS = ("openai", "azure_openai", "ollama", "anthropic", "gemini", "chatgpt_web", "generic")
_NAME_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_PUBLIC_FIELDS = {"name", "hosts", "adapter", "source", "description"}
_PRIVATE_FIELDS = {
    "name", "url", "api", "auth", "models", "default_model", "ca_file", "timeout_s", "connect_timeout_s",
    "description",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PublicDestination:
    """A public LLM provider: the hosts guard intercepts and the wire format they speak."""

    name: str
    hosts: tuple[str, ...]
    adapter: str
    source: str = "api"  # api | webapp

    def matches(self, host: str) -> bool:
        """Does this host belong to the provider (exact name, or `*.` wildcard for one label or more)?"""
        host = host.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(host, h) if h.startswith("*.") else host == h for h in self.hosts)


@dataclass(frozen=True, slots=True)
class PrivateDestination:
    """An OpenAI-compatible model the company runs itself."""

    name: str
    url: str  # base URL ending before /chat/completions
    api: str = "openai"
    auth_header: str = ""
    auth_env: str = ""
    auth_scheme: str = ""
    models: tuple[tuple[str, str], ...] = ()  # (client model glob, private model)
    default_model: str = ""
    ca_file: str = ""
    timeout_s: float = 60.0
    connect_timeout_s: float = 5.0
    source: str = ""

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    def map_model(self, client_model: str) -> str:
        """The private model name for what the client asked for (first matching glob, else default)."""
        for pattern, target in self.models:
            if fnmatch.fnmatchcase(client_model, pattern):
                return target
        return self.default_model or client_model

    def auth_headers(self) -> dict[str, str]:
        """The auth header read from the environment now (empty when none is configured or set)."""
        if not self.auth_header or not self.auth_env:
            return {}
        secret = os.environ.get(self.auth_env, "")
        if not secret:
            return {}
        return {self.auth_header: f"{self.auth_scheme} {secret}".strip()}


@dataclass(frozen=True)
class Destinations:
    """Every destination guard knows, public and private."""

    public: tuple[PublicDestination, ...] = ()
    private: tuple[PrivateDestination, ...] = ()
    files: tuple[Path, ...] = field(default=())

    def private_named(self, name: str = "") -> PrivateDestination | None:
        """The private destination with this name, or the first one when name is empty."""
        if not name:
            return self.private[0] if self.private else None
        return next((p for p in self.private if p.name == name), None)

    def lookup(self, host: str) -> tuple[str, str, str]:
        """(name, kind, adapter) for a host: kind is public, private or '' when guard does not know it."""
        host = host.lower().rstrip(".")
        for d in self.public:
            if d.matches(host):
                return d.name, "public", d.adapter
        for p in self.private:
            if p.host == host:
                return p.name, "private", "openai"
        return "", "", ""

    def kind_of(self, name: str) -> str:
        """public | private | '' for a destination name."""
        if any(d.name == name for d in self.public):
            return "public"
        if any(p.name == name for p in self.private):
            return "private"
        return ""


def _fail(path: Path, line: int, name: str, fld: str, msg: str) -> RuleError:
    who = f" (destination {name})" if name else ""
    return RuleError(f"{path}:{line}: field '{fld}'{who}: {msg}")


def _number(raw: dict[str, Any], key: str, default: float, path: Path, line: int, name: str) -> float:
    val = raw.get(key, default)
    if not isinstance(val, int | float) or isinstance(val, bool) or val <= 0:
        raise _fail(path, line, name, key, "must be a positive number of seconds")
    return float(val)


def _public(raw: Any, path: Path) -> PublicDestination:
    if not isinstance(raw, dict):
        raise RuleError(f"{path}: each public destination must be a mapping")
    line, name = raw.get("__line__", 0), raw.get("name", "")
    unknown = set(raw) - _PUBLIC_FIELDS - {"__line__"}
    if unknown:
        raise _fail(path, line, name, sorted(unknown)[0], "unknown field")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(path, line, name, "name", "required, lowercase letters, digits, '-' or '_'")
    hosts = raw.get("hosts")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise _fail(path, line, name, "hosts", "must be a non-empty list of host names")
    if any("*" in h and not (h.startswith("*.") and "*" not in h[2:]) for h in hosts):
        raise _fail(path, line, name, "hosts", "a wildcard is only allowed as a leading '*.' label")
    if raw.get("adapter") not in ADAPTERS:
        raise _fail(path, line, name, "adapter", f"must be one of {', '.join(ADAPTERS)}")
    source = raw.get("source", "api")
    if source not in ("api", "webapp"):
        raise _fail(path, line, name, "source", "must be api or webapp")
    return PublicDestination(name, tuple(h.lower() for h in hosts), raw["adapter"], source)


def _private(raw: Any, path: Path) -> PrivateDestination:
    if not isinstance(raw, dict):
        raise RuleError(f"{path}: each private destination must be a mapping")
    line, name = raw.get("__line__", 0), raw.get("name", "")
    unknown = set(raw) - _PRIVATE_FIELDS - {"__line__"}
    if unknown:
        raise _fail(path, line, name, sorted(unknown)[0], "unknown field")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(path, line, name, "name", "required, lowercase letters, digits, '-' or '_'")
    url = raw.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(path, line, name, "url", "must be an http(s) URL such as https://llm.corp/v1")
    if raw.get("api", "openai") != "openai":
        raise _fail(path, line, name, "api", "only 'openai' (OpenAI-compatible chat API) is supported")
    auth = raw.get("auth") or {}
    if not isinstance(auth, dict) or set(auth) - {"header", "env", "scheme", "__line__"}:
        raise _fail(path, line, name, "auth", "must be a mapping with header, env and optional scheme")
    if bool(auth.get("header")) != bool(auth.get("env")):
        raise _fail(path, line, name, "auth", "needs both header and env (the variable holding the secret)")
    models = raw.get("models") or {}
    if not isinstance(models, dict) or not all(isinstance(v, str) for k, v in models.items() if k != "__line__"):
        raise _fail(path, line, name, "models", "must map client model globs to private model names")
    ca_file = raw.get("ca_file", "")
    if ca_file and not isinstance(ca_file, str):
        raise _fail(path, line, name, "ca_file", "must be a path")
    return PrivateDestination(
        name=name,
        url=url.rstrip("/"),
        auth_header=str(auth.get("header", "")),
        auth_env=str(auth.get("env", "")),
        auth_scheme=str(auth.get("scheme", "")),
        models=tuple((str(k), v) for k, v in models.items() if k != "__line__"),
        default_model=str(raw.get("default_model", "")),
        ca_file=ca_file,
        timeout_s=_number(raw, "timeout_s", 60.0, path, line, name),
        connect_timeout_s=_number(raw, "connect_timeout_s", 5.0, path, line, name),
        source=f"{path}:{line}",
    )


def env_private_model(url: str) -> PrivateDestination:
    """The single private model given by --private-model / GUARD_PRIVATE_MODEL_URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleError(
            f"GUARD_PRIVATE_MODEL_URL: must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}"
        )
    key_env = "GUARD_PRIVATE_MODEL_API_KEY"
    return PrivateDestination(
        name="private",
        url=url.rstrip("/"),
        auth_header="Authorization" if os.environ.get(key_env) else "",
        auth_env=key_env if os.environ.get(key_env) else "",
        auth_scheme="Bearer",
        default_model=os.environ.get("GUARD_PRIVATE_MODEL", ""),
        ca_file=os.environ.get("GUARD_PRIVATE_MODEL_CA", ""),
        timeout_s=float(os.environ.get("GUARD_PRIVATE_MODEL_TIMEOUT", "60")),
        source="GUARD_PRIVATE_MODEL_URL",
    )


def load_destinations(rules_dir: Path | None = None, private_model_url: str | None = None) -> Destinations:
    """Load public and private destinations; a private model URL (arg or env) is added as `private`."""
    root = Path(rules_dir) if rules_dir else BUNDLED_RULES
    path = root / "destinations.yaml"
    public: list[PublicDestination] = []
    private: list[PrivateDestination] = []
    files: tuple[Path, ...] = ()
    if path.is_file():
        files = (path,)
        doc = load_yaml(path) or {}
        if not isinstance(doc, dict) or set(doc) - {"public", "private", "__line__"}:
            raise RuleError(f"{path}: top level must be a mapping with 'public' and 'private' lists")
        for key in ("public", "private"):
            if not isinstance(doc.get(key) or [], list):
                raise RuleError(f"{path}:{doc.get('__line__', 1)}: field '{key}': must be a list")
        public = [_public(r, path) for r in doc.get("public") or []]
        private = [_private(r, path) for r in doc.get("private") or []]
    url = os.environ.get("GUARD_PRIVATE_MODEL_URL", "") if private_model_url is None else private_model_url
    if url:
        private = [env_private_model(url)] + [p for p in private if p.name != "private"]
    names = [d.name for d in public] + [p.name for p in private]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise RuleError(f"{path}: field 'name': duplicate destination name {dup!r}")
    return Destinations(tuple(public), tuple(private), files)
