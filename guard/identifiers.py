"""Identifier fields (model names, roles, types, ids): scanned with the prompt, never rewritten.

Adapters do not make segments of the identifiers their formats define (guard.providers.leftover
STRUCTURAL): a placeholder in `model` or a tool-call id would break the request. Those values still
leave the company, and `model` is copied into the audit event, so they are scanned in the same
detection batch as the prompt. Only categories whose rules are exact (vendor key formats, an `@` and a
domain, checksummed card / national id / IBAN numbers) count there: the NLP and date-like detectors
see names and dates in ids like "claude-3-5-sonnet-20241022", which must not raise alarms. A finding
blocks the request, whatever the policy says for the same value in text: no model or id is ever an
e-mail address or a key, and an identifier cannot be redacted.

Object keys that are not plain field names are segments of their own (kind `key`), decided by the
policy like text; `key_refusal` turns a finding the policy would redact or block in one into a BLOCK.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from guard.core import Action, Decision, Finding, Segment, mask
from guard.providers._wire import key_label, path_str
from guard.providers.leftover import KEY_KIND, STRUCTURAL

BLOCKING = frozenset({"secret", "email", "payment_card", "national_id", "bank_account"})
PATH_MODEL: tuple[str | int, ...] = ("<url>", "model")  # a model named in the URL (Gemini, Azure deployment)
QUERY = ("<url>", "query")  # a query-string parameter: ("<url>", "query", name); its name alone: QUERY
PATH_SEGMENT = ("<url>", "path")  # a segment of the URL path: ("<url>", "path", index)
# The provider's own API key where its API takes it in the URL (Gemini: ?key=), like the Authorization
# header: it goes where it is meant to go, and is not scanned.
QUERY_CREDENTIALS = frozenset({"key", "api-key", "api_key"})
MAX_QUERY_FIELDS = 200
_WORDS = {"payment_card": "a payment card number", "national_id": "a national id number",
          "bank_account": "a bank account number", "email": "an e-mail address", "secret": "a secret"}  # fmt: skip

_KEY_WORDS = {**_WORDS, "person": "a person's name", "phone": "a phone number", "ip_address": "an IP address",
              "address": "a postal address"}  # fmt: skip

Hit = tuple[Segment, Finding]


def segments(parsed: Any) -> list[Segment]:
    """The identifier strings of a parsed request that no segment covers, each at its JSON path."""
    covered = {s.path for s in parsed.segments}
    out: dict[str, Segment] = {}  # one per distinct value: a long chat repeats "user" / "text" thousands of times
    # A walk of containers only (the parser already bounded depth and size): paths are built for
    # identifier strings alone, so a long chat costs a fraction of its parse.
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(parsed.body, ())]
    while stack:
        node, path = stack.pop()
        inner: list[tuple[Any, tuple[str | int, ...]]] = []
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str):
                    if v and v not in out and k in STRUCTURAL and (p := (*path, k)) not in covered:
                        out[v] = Segment(v, p, "", "identifier")
                elif isinstance(v, dict | list):
                    inner.append((v, (*path, k)))
        elif isinstance(node, list):
            inner = [(v, (*path, i)) for i, v in enumerate(node) if isinstance(v, dict | list)]
        stack.extend(reversed(inner))  # document order: the first field holding a value is the one named
    model = parsed.model
    if model and model not in out and not any(s.text == model for s in parsed.segments):
        out[model] = Segment(model, PATH_MODEL, "", "identifier")  # named in the URL, not the body
    return list(out.values())


def url_segments(path: str) -> list[Segment]:
    """The request URL's path segments and query-string parameters (percent-decoded), each an identifier segment.

    Text in a URL leaves the company as surely as text in a body (`?q=` of a search, a note in a
    parameter, an address as a path segment), and a URL cannot take a placeholder either; query names
    that are not plain field names are scanned too. The provider credential parameters
    (QUERY_CREDENTIALS) are left alone.
    """
    parts = urlsplit(path)
    out: dict[str, Segment] = {}
    for i, seg in enumerate(parts.path.split("/")[:MAX_QUERY_FIELDS]):
        text = unquote(seg)
        if text and text not in out:
            out[text] = Segment(text, (*PATH_SEGMENT, i), "", "identifier")
    if not parts.query:
        return list(out.values())
    for name, value in parse_qsl(parts.query, keep_blank_values=True)[:MAX_QUERY_FIELDS]:
        if name.lower() in QUERY_CREDENTIALS:
            continue
        if name and name not in out and key_label(name) != name:
            out[name] = Segment(name, QUERY, "", "identifier")
        if value and value not in out:
            out[value] = Segment(value, (*QUERY, name), "", "identifier")
    return list(out.values())


def split(idents: Sequence[Segment], found: list[list[Finding]]) -> tuple[list[list[Finding]], list[Hit]]:
    """Split a batch's results (identifiers last) into the other texts' and the identifier findings that block."""
    cut = len(found) - len(idents)
    hits = [(s, f) for s, fs in zip(idents, found[cut:], strict=True) for f in fs if f.category in BLOCKING]
    return found[:cut], hits


def decision(blocking: Sequence[Hit]) -> Decision:
    """A BLOCK naming the field kind(s) and what was found, never the value."""
    names = list(dict.fromkeys(_field(s.path) for s, _ in blocking))
    fields = f"{names[0]} field" if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]} fields"
    what = " and ".join(dict.fromkeys(_WORDS.get(f.category, f.category.replace("_", " ")) for _, f in blocking))
    cats = dict.fromkeys(f.category.replace("_", "-") for _, f in blocking)
    message = (f"guard blocked this request: its {fields} {'hold' if len(names) > 1 else 'holds'} {what}, which "
               f"guard cannot replace with a placeholder in an identifier. Remove it from the {fields} and send "
               "the request again")  # fmt: skip
    return Decision(Action.BLOCK, tuple(f"guard-identifier-{c}" for c in cats), message)


def key_refusal(segments: Sequence[Segment], found: Sequence[Sequence[Finding]], decision: Decision) -> Decision | None:
    """A BLOCK when an object key (guard.providers.leftover.key_segments) holds what the policy redacts or blocks.

    A key cannot hold a placeholder, so a finding the policy would redact blocks the request instead;
    one it blocks gets this message, which says where to look. `found` holds the findings the policy
    counts (after thresholds and allow-lists), one list per segment. The message never holds the value.
    """
    if decision.monitor or decision.action not in (Action.REDACT, Action.BLOCK):
        return None
    cats: dict[str, None] = {}
    for seg, fs in zip(segments, found, strict=True):
        if seg.kind != KEY_KIND:
            continue
        for f in fs:
            slug = f.category.replace("_", "-")
            if (decision.action is Action.REDACT and f.category in decision.redact_categories) or (
                decision.action is Action.BLOCK and f"category-{slug}" in decision.rules
            ):
                cats[f.category] = None
    if not cats:
        return None
    what = " and ".join(_KEY_WORDS.get(c, c.replace("_", " ")) for c in cats)
    message = (f"guard blocked this request: a field name in the request holds {what}, and guard cannot "
               "replace a field name with a placeholder. Put that data in a value instead of a key, or remove "
               "it, and send the request again")  # fmt: skip
    rules = tuple(f"guard-field-name-{c.replace('_', '-')}" for c in cats)
    return Decision(Action.BLOCK, rules + decision.rules, message)


def known_key_refusal(decision: Decision) -> Decision:
    """A BLOCK when an object key holds a value replaced earlier in the conversation (it has no finding now)."""
    message = ("guard blocked this request: a field name in the request holds a value guard replaced with a "
               "placeholder earlier in this conversation, and guard cannot replace a field name with a placeholder. "
               "Put that data in a value instead of a key, or remove it, and send the request again")  # fmt: skip
    return Decision(Action.BLOCK, ("guard-field-name-known-value", *decision.rules), message)


def audit_model(model: str, pairs: Iterable[Hit]) -> str:
    """The model as the audit event may store it: masked when any exact-category finding lies inside it."""
    for seg, f in pairs:
        if f.category in BLOCKING and seg.text[f.start : f.end] in model:
            return mask(model)
    return model


def unchecked(model: str) -> str:
    """The model for an event ended before detection ran: masked, as nobody has checked it yet."""
    return mask(model) if model else ""


def _field(path: Sequence[str | int]) -> str:
    if tuple(path) == PATH_MODEL:
        return "model (in the URL)"
    if tuple(path) == QUERY:
        return "URL parameter name"
    if tuple(path[:2]) == PATH_SEGMENT:
        return "URL path"
    if tuple(path[:2]) == QUERY:
        return f"URL parameter {key_label(str(path[2]))}"  # a name that is not a plain field name: <key:digest>
    last = path[-1] if path else ""
    return str(last).replace("_", " ") if isinstance(last, str) else path_str(path)
