"""guard's limits through `guard proxy`: over any of them, the request is blocked, never forwarded unscanned.

Each limit (body size, JSON depth, messages per request, strings per request, attachments per
request, attachment size, attachment text, image pixels) gives the employee a message that names the limit and
says what to do, and the audit event records which limit (`error` "limit <name>: ...", policy rule
`guard-limit-<name>`). The shared proxy runs with a 64 KiB body limit; a second one with a 40 MiB
body limit, `--unreadable-attachments skip` and `--ocr` reaches the attachment, image and string
limits, and shows that a limit blocks even where unreadable attachments would be let through.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guard.attachments import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_TEXT_CHARS
from guard.ocr import MAX_PIXELS
from guard.providers import MAX_DEPTH, MAX_MESSAGES
from guard.providers._wire import MAX_STRINGS
from tests.attachments import docs
from tests.e2e.conftest import BODY_LIMIT, EXTRA_ADAPTERS, GuardProcess, start_guard, write_rules

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "dana.whitfield@example.org"
HOSTS = {"openai": "localhost", "anthropic": "127.0.0.1", **{a: h for h, a in EXTRA_ADAPTERS.items()}}
# adapter -> (path, the field holding its list of messages, or None for the generic deep scan)
PATHS = {
    "openai": ("/v1/chat/completions", "messages"),
    "anthropic": ("/v1/messages", "messages"),
    "azure_openai": ("/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01", "messages"),
    "ollama": ("/api/chat", "messages"),
    "gemini": ("/v1beta/models/gemini-1.5-pro:generateContent", "contents"),
    "chatgpt_web": ("/backend-api/conversation", "messages"),
    "generic": ("/internal/any/path", None),
}
HEADERS = {"authorization": "Bearer sk-test", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def _messages(body: httpx.Response) -> str:
    """Every string of guard's reply joined (each provider puts the message in its own field)."""
    try:
        doc = json.loads(body.content)
    except ValueError:
        return body.text
    out: list[str] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return " ".join(out)


def audit_by_reference(home: Path, message: str, timeout: float = 15.0) -> dict:
    """The audit event the block message points to ("guard reference <event id prefix>")."""
    m = re.search(r"guard reference ([0-9a-f]{6,})", message)
    assert m, f"no guard reference in {message!r}"
    deadline = time.time() + timeout
    while True:
        row = None
        db = home / "audit.db"
        if db.exists():
            con = sqlite3.connect(db)
            con.row_factory = sqlite3.Row
            try:
                row = con.execute("SELECT * FROM audit_event WHERE event_id LIKE ?", (m.group(1) + "%",)).fetchone()
            except sqlite3.OperationalError:
                row = None
            finally:
                con.close()
        if row is not None:
            return dict(row)
        assert time.time() < deadline, "no audit event for the blocked request"
        time.sleep(0.2)


def assert_blocked(resp: httpx.Response, upstream, before: int, home: Path, limit: str, *says: str) -> str:
    """Refused with a message naming the limit and what to do; nothing forwarded; audited with the limit."""
    assert 400 <= resp.status_code < 500, resp.status_code
    assert len(upstream.received) == before, "the request went out"
    msg = _messages(resp)
    assert "guard blocked this request" in msg and f"{limit} limit" in msg, msg
    for s in says:
        assert s in msg, msg
    assert "Try again" not in msg, "retrying the same request cannot help: the message must say what to change"
    assert EMAIL not in msg
    row = audit_by_reference(home, msg)
    assert row["action"] == "block"
    slug = limit.lower().replace(" ", "-")
    assert row["error"].startswith(f"limit {slug}:"), row["error"]
    assert f"guard-limit-{slug}" in row["policy_rules"]
    assert EMAIL not in json.dumps(row)
    return msg


def _post(client: httpx.Client, port: int, adapter: str, body: bytes | Iterator[bytes], **headers: str):
    path = PATHS[adapter][0]
    return client.post(f"https://{HOSTS[adapter]}:{port}{path}", content=body,
                       headers={**HEADERS, "content-type": "application/json", **headers})  # fmt: skip


# -- the shared proxy (64 KiB body limit) ------------------------------------------------------


@pytest.mark.parametrize("adapter", list(PATHS))
def test_when_the_body_is_over_the_size_limit_then_every_adapter_blocks_it(http_client, upstream, guard_home, adapter):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"{EMAIL} " + "x" * BODY_LIMIT}]})
    before = len(upstream.received)
    resp = _post(http_client, upstream.port, adapter, body.encode())
    assert_blocked(resp, upstream, before, guard_home, "body size", f"{BODY_LIMIT} bytes", "Shorten")


def test_when_a_chunked_body_without_length_is_over_the_size_limit_then_it_is_blocked(
    http_client, upstream, guard_home
):
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(BODY_LIMIT // 1024 + 4):
            yield b"y" * 1024
        yield b'"}]}'

    before = len(upstream.received)
    resp = _post(http_client, upstream.port, "openai", chunks())
    assert_blocked(resp, upstream, before, guard_home, "body size", "Shorten")


@pytest.mark.parametrize("adapter", list(PATHS))
def test_when_json_nests_deeper_than_the_limit_then_every_adapter_blocks_it(http_client, upstream, guard_home, adapter):
    deep: object = EMAIL
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": deep}]}).encode()
    before = len(upstream.received)
    resp = _post(http_client, upstream.port, adapter, body)
    assert_blocked(resp, upstream, before, guard_home, "JSON depth", f"{MAX_DEPTH} levels")


@pytest.mark.parametrize("adapter", [a for a, (_, field) in PATHS.items() if field])
def test_when_a_request_has_more_messages_than_the_limit_then_every_adapter_blocks_it(
    http_client, upstream, guard_home, adapter
):
    field = PATHS[adapter][1]
    body = json.dumps({"model": "m", field: [{}] * MAX_MESSAGES + [{"role": "user", "content": EMAIL}]})
    assert len(body) < BODY_LIMIT  # the messages limit, not the body size, must be what stops it
    before = len(upstream.received)
    resp = _post(http_client, upstream.port, adapter, body.encode())
    assert_blocked(resp, upstream, before, guard_home, "messages", f"{MAX_MESSAGES}", "new conversation")


def _document(text: str) -> dict:
    return {"type": "document", "source": {"type": "base64", "media_type": "text/plain",
                                           "data": base64.b64encode(text.encode()).decode()}}  # fmt: skip


def _file_part(text: str) -> dict:
    data = base64.b64encode(text.encode()).decode()
    return {"type": "file", "file": {"filename": "notes.txt", "file_data": f"data:text/plain;base64,{data}"}}


def test_when_a_message_carries_more_attachments_than_the_limit_then_it_is_blocked(http_client, upstream, guard_home):
    for adapter, part in (("anthropic", _document), ("openai", _file_part)):
        parts = [part(f"note {i}") for i in range(MAX_ATTACHMENTS + 1)] + [{"type": "text", "text": "summarise"}]
        body = json.dumps({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": parts}]})
        before = len(upstream.received)
        resp = _post(http_client, upstream.port, adapter, body.encode())
        assert_blocked(resp, upstream, before, guard_home, "attachments", f"{MAX_ATTACHMENTS}", "fewer")


# -- a second proxy: large bodies allowed, unreadable attachments skipped, OCR on ------------------


@pytest.fixture(scope="module")
def big_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-limits")


@pytest.fixture(scope="module")
def big_client(big_home: Path, tls, upstream) -> Iterator[httpx.Client]:
    rules = write_rules(big_home / "rules")
    proc: GuardProcess = start_guard(big_home, rules, tls[0], "--no-models", "--body-limit", "40m",
                                     "--unreadable-attachments", "skip", "--ocr")  # fmt: skip
    ca = big_home / "ca" / "mitmproxy-ca-cert.pem"
    client = httpx.Client(proxy=proc.url, verify=ssl.create_default_context(cafile=str(ca)), trust_env=False,
                          timeout=120)  # fmt: skip
    yield client
    client.close()
    proc.stop()


def test_when_an_attachment_is_over_the_size_limit_then_it_is_blocked_even_where_unreadable_ones_are_skipped(
    big_client, big_home, upstream
):
    text = EMAIL + " " + "z" * MAX_ATTACHMENT_BYTES
    body = json.dumps({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [_document(text)]}]})
    before = len(upstream.received)
    resp = _post(big_client, upstream.port, "anthropic", body.encode())
    assert_blocked(resp, upstream, before, big_home, "attachment size", f"{MAX_ATTACHMENT_BYTES} bytes", "smaller")


def test_when_an_attachment_holds_more_text_than_the_limit_then_it_is_blocked_even_where_unreadable_ones_are_skipped(
    big_client, big_home, upstream
):
    text = EMAIL + "\n" + "word " * (MAX_TEXT_CHARS // 5 + 10)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": [_file_part(text)]}]})
    before = len(upstream.received)
    resp = _post(big_client, upstream.port, "openai", body.encode())
    assert_blocked(resp, upstream, before, big_home, "attachment text", f"{MAX_TEXT_CHARS} characters", "smaller")


def _image(png: bytes) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                        "data": base64.b64encode(png).decode()}}  # fmt: skip


def test_when_an_image_is_over_the_ocr_pixel_limit_then_it_is_blocked_even_where_unreadable_ones_are_skipped(
    big_client, big_home, upstream
):
    # 7100 x 7100 pixels (just over 50 megapixels) in a 21 KB PNG: small enough for any body limit.
    big = docs.large_image(f"Contact {EMAIL}", 7100)
    body = json.dumps({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
        _image(big), {"type": "text", "text": "What does this say?"}]}]})  # fmt: skip
    before = len(upstream.received)
    resp = _post(big_client, upstream.port, "anthropic", body.encode())
    assert_blocked(resp, upstream, before, big_home, "image pixels", f"more than {MAX_PIXELS}", "Crop the image")
    # The same proxy forwards an image OCR cannot read (skip): only the limit made the difference.
    broken = json.dumps({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
        _image(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), {"type": "text", "text": "What does this say?"}]}]})  # fmt: skip
    resp = _post(big_client, upstream.port, "anthropic", broken.encode())
    assert resp.status_code == 200 and len(upstream.received) == before + 1


@pytest.mark.parametrize("adapter", ["generic", "openai"])
def test_when_a_request_holds_more_strings_than_the_limit_then_it_is_blocked(big_client, big_home, upstream, adapter):
    many = [EMAIL] + ["s"] * MAX_STRINGS
    doc = {"query": many} if adapter == "generic" else {"model": "m", "messages": [], "metadata": {"tags": many}}
    before = len(upstream.received)
    resp = _post(big_client, upstream.port, adapter, json.dumps(doc).encode())
    assert_blocked(resp, upstream, before, big_home, "strings", f"{MAX_STRINGS}")


def test_when_a_request_is_within_the_limits_then_it_is_still_forwarded(big_client, upstream):
    model = f"limits-{uuid.uuid4().hex[:8]}"
    parts = [_document(f"note {i}") for i in range(MAX_ATTACHMENTS)] + [{"type": "text", "text": "summarise"}]
    body = json.dumps({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": parts}]})
    before = len(upstream.received)
    resp = _post(big_client, upstream.port, "anthropic", body.encode())
    assert resp.status_code == 200 and len(upstream.received) == before + 1
