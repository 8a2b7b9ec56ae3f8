"""Jinja environment: autoescape everywhere, Unicode direction controls made visible, placeholders marked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape
from starlette.requests import Request

from audit_ui.core.security import new_csrf_token

# Bidirectional controls (Unicode TR9: embeddings, overrides, isolates, marks): in attacker-written
# text they reorder what a reviewer sees ("Trojan Source"), so they are never emitted raw.
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Vault placeholders, "[PREFIX_N]" (guard/vault.py PLACEHOLDER_PREFIX, notes/PROXY_CONTRACT.md).
PLACEHOLDER = re.compile(r"\[(?:PERSON|EMAIL|PHONE|CARD|ID|ACCOUNT|IP|ADDRESS|SECRET)_\d+\]")


def neutralise(value: str) -> str:
    """Replace each bidi control with a visible ‹U+XXXX› marker."""
    return BIDI.sub(lambda m: f"\u2039U+{ord(m.group()):04X}\u203a", value)


def _finalize(value: Any) -> Any:
    # Runs on every {{ expression }} before autoescaping: no template can forget it.
    if isinstance(value, str) and not isinstance(value, Markup):
        return neutralise(value)
    return "" if value is None else value


def prompt_html(text: str) -> Markup:
    """Escape a redacted prompt, mark bidi controls, and wrap placeholders in <mark>."""
    out: list[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        out.append(_marked(text[pos : m.start()]))
        out.append(f'<mark class="ph">{escape(m.group())}</mark>')
        pos = m.end()
    out.append(_marked(text[pos:]))
    return Markup("".join(out))  # noqa: S704 - built from escape()d pieces only


def _marked(text: str) -> str:
    parts = []
    pos = 0
    for m in BIDI.finditer(text):
        parts.append(str(escape(text[pos : m.start()])))
        parts.append(f'<span class="bidi" title="direction control">U+{ord(m.group()):04X}</span>')
        pos = m.end()
    parts.append(str(escape(text[pos:])))
    return "".join(parts)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


def make_templates() -> Jinja2Templates:
    """Build the template renderer used by every route."""
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # every template, whatever its extension
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["prompt"] = prompt_html
    env.globals["csrf_token"] = csrf_token
    return Jinja2Templates(env=env)


templates = make_templates()
