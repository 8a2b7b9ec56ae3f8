"""Images (OCR) and raw-body file uploads through `guard proxy`: read, scanned, blocked or forwarded byte for byte.

ChatGPT web uploads a file with a PUT of its bytes to a blob host (files.oaiusercontent.com); here the
test upstream plays that host (the raw-body reading is the same on every guarded host). A guard with
`--ocr` reads images with Debian's tesseract; the session's guard (OCR off) shows the default.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.attachments import docs
from tests.e2e.conftest import GuardProcess, audit_rows, start_guard, write_rules
from tests.e2e.upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "dana.whitfield@example.org"
AWS = "aws_access_key_id = AKIA6PYCDYBK155OXTZ7"
BLOB = {"x-ms-blob-type": "BlockBlob"}


@pytest.fixture
def blob(upstream) -> Upstream:
    return upstream


@pytest.fixture(scope="module")
def ocr_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-ocr")


@pytest.fixture(scope="module")
def ocr_client(ocr_home: Path, tls, upstream) -> Iterator[httpx.Client]:
    proc: GuardProcess = start_guard(ocr_home, write_rules(ocr_home / "rules"), tls[0], "--ocr", "--no-models")
    ctx = ssl.create_default_context(cafile=str(ocr_home / "ca" / "mitmproxy-ca-cert.pem"))
    with httpx.Client(proxy=proc.url, verify=ctx, trust_env=False, timeout=60) as client:
        yield client
    proc.stop()


def _put(client: httpx.Client, blob: Upstream, data: bytes, ctype: str) -> httpx.Response:
    url = f"https://localhost:{blob.port}/file-{uuid.uuid4().hex[:12]}?se=2030-01-01&sp=cw&sig=abc"
    return client.put(url, content=data, headers={**BLOB, "content-type": ctype})


def _last_seq(home: Path) -> int:
    if not (home / "audit.db").exists():
        return 0
    con = sqlite3.connect(home / "audit.db")
    try:
        return con.execute("SELECT coalesce(max(seq), 0) FROM audit_event").fetchone()[0]
    except sqlite3.OperationalError:  # the proxy has not created its tables yet
        return 0
    finally:
        con.close()


def _upload_row(home: Path, after: int, destination: str = "test-openai") -> dict:
    """The audit event of the one upload to `destination` since sequence number `after` (written asynchronously)."""
    deadline = time.time() + 15
    while True:
        rows: list[dict] = []
        if (home / "audit.db").exists():
            con = sqlite3.connect(home / "audit.db")
            con.row_factory = sqlite3.Row
            try:
                rows = [dict(r) for r in con.execute(
                    "SELECT * FROM audit_event WHERE seq > ? AND endpoint = 'upload' AND destination = ?",
                    (after, destination))]  # fmt: skip
                for r in rows:
                    r["scanned"], r["skipped"] = json.loads(r["scanned"] or "[]"), json.loads(r["skipped"] or "[]")
                    r["findings"] = [dict(f) for f in con.execute(
                        "SELECT * FROM audit_finding WHERE event_seq = ?", (r["seq"],))]  # fmt: skip
            except sqlite3.OperationalError:  # tables not created yet
                rows = []
            finally:
                con.close()
        if rows or time.time() > deadline:
            (row,) = rows
            return row
        time.sleep(0.2)


def _anthropic_image(client: httpx.Client, upstream: Upstream, model: str, png: bytes) -> httpx.Response:
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(png).decode()}},
        {"type": "text", "text": "What does this screenshot say?"}]}]}  # fmt: skip
    return client.post(f"https://127.0.0.1:{upstream.port}/v1/messages", json=body,
                       headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})  # fmt: skip


# --- OCR on --------------------------------------------------------------------------------------


def test_when_ocr_is_on_and_a_chat_image_shows_an_email_then_the_request_is_blocked(ocr_client, upstream, ocr_home):
    model, before = f"ocr-{uuid.uuid4().hex[:8]}", len(upstream.received)
    resp = _anthropic_image(ocr_client, upstream, model, docs.image(f"Contact {EMAIL}"))
    assert resp.status_code == 400 and len(upstream.received) == before
    assert "attached document contains email" in resp.json()["error"]["message"]
    (row,) = audit_rows(ocr_home, model)
    assert row["action"] == "block" and {f["category"] for f in row["findings"]} == {"email"}
    assert "messages[0].content[0].#extracted" in row["scanned"] and EMAIL not in str(row)


def test_when_ocr_is_on_and_an_openai_image_shows_an_aws_key_then_the_request_is_blocked(ocr_client, upstream):
    before = len(upstream.received)
    url = "data:image/png;base64," + base64.b64encode(docs.image(AWS)).decode()
    body = {"model": f"ocr-{uuid.uuid4().hex[:8]}", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Why does this config fail?"}, {"type": "image_url", "image_url": {"url": url}}]}]}  # fmt: skip
    resp = ocr_client.post(f"https://localhost:{upstream.port}/v1/chat/completions", json=body,
                           headers={"authorization": "Bearer sk-test"})  # fmt: skip
    assert resp.status_code == 400 and len(upstream.received) == before
    assert "secret" in resp.json()["error"]["message"]


def test_when_ocr_is_on_and_an_image_is_harmless_then_it_is_forwarded_unchanged(ocr_client, upstream, ocr_home):
    model, png = f"ocr-{uuid.uuid4().hex[:8]}", docs.image("Meeting moved to Thursday at 10am.")
    resp = _anthropic_image(ocr_client, upstream, model, png)
    assert resp.status_code == 200, resp.text
    sent = upstream.received[-1].json["messages"][0]["content"][0]["source"]["data"]
    assert base64.b64decode(sent) == png
    (row,) = audit_rows(ocr_home, model)
    assert row["action"] == "allow" and "messages[0].content[0].#extracted" in row["scanned"]
    assert "image not scanned" not in str(row["skipped"])


def test_when_ocr_is_on_and_an_uploaded_image_shows_an_email_then_the_upload_is_blocked(ocr_client, blob, ocr_home):
    before, seq = len(blob.received), _last_seq(ocr_home)
    resp = _put(ocr_client, blob, docs.image(f"Customer {EMAIL}"), "image/png")
    assert resp.status_code == 400 and len(blob.received) == before
    assert "contains email" in resp.json()["error"]["message"]
    row = _upload_row(ocr_home, seq)
    assert row["action"] == "block" and row["scanned"] == ["body.#extracted"]


# --- OCR off (the default) -----------------------------------------------------------------------


def test_when_ocr_is_off_then_an_image_upload_is_blocked_as_unreadable(http_client, blob, upstream, guard_home):
    png = docs.image(f"Customer {EMAIL}")
    before, seq = len(blob.received), _last_seq(guard_home)
    resp = _put(http_client, blob, png, "image/png")
    assert resp.status_code == 400 and len(blob.received) == before
    assert "cannot read (image (no OCR configured))" in resp.json()["error"]["message"]
    row = _upload_row(guard_home, seq)
    assert row["action"] == "block" and row["skipped"] == ["body: attachment image (no OCR configured)"]
    before, seq = len(upstream.received), _last_seq(guard_home)
    files = http_client.post(f"https://localhost:{upstream.port}/v1/files", headers={"authorization": "Bearer sk-test"},
                             data={"purpose": "vision"}, files={"file": ("shot.png", png, "image/png")})  # fmt: skip
    assert files.status_code == 400 and len(upstream.received) == before
    assert "no OCR configured" in files.json()["error"]["message"]
    assert _upload_row(guard_home, seq)["skipped"] == ["multipart[1].file: attachment image (no OCR configured)"]


# --- raw-body uploads (ChatGPT web's PUT to its blob host) ----------------------------------------


def test_when_a_raw_text_upload_holds_an_email_then_it_is_blocked_and_never_reaches_the_blob(
    http_client, blob, guard_home
):
    before, seq = len(blob.received), _last_seq(guard_home)
    resp = _put(http_client, blob, f"name,email\nDana,{EMAIL}\n".encode(), "text/csv")
    assert resp.status_code == 400 and len(blob.received) == before
    assert "attached document contains email" in resp.json()["error"]["message"]
    row = _upload_row(guard_home, seq)
    assert row["action"] == "block" and row["provider"] == "openai" and row["scanned"] == ["body.#extracted"]
    assert "email" in {f["category"] for f in row["findings"]} and EMAIL not in str(row)


@pytest.mark.parametrize(
    ("data", "ctype"),
    [
        (docs.pdf("Release notes for version 2.1"), "application/pdf"),
        (docs.docx("Quarterly plan", "Ship the new onboarding flow in May."), "application/octet-stream"),
    ],
    ids=["pdf", "docx-sniffed"],
)
def test_when_a_raw_upload_is_clean_then_the_blob_receives_it_byte_for_byte(http_client, blob, guard_home, data, ctype):
    before, seq = len(blob.received), _last_seq(guard_home)
    resp = _put(http_client, blob, data, ctype)
    assert resp.status_code == 201 and len(blob.received) == before + 1
    assert blob.received[-1].body == data and blob.received[-1].headers["x-ms-blob-type"] == "BlockBlob"
    row = _upload_row(guard_home, seq)
    assert row["action"] == "allow" and row["scanned"] == ["body.#extracted"] and not row["skipped"]


def test_when_a_raw_upload_is_unreadable_binary_then_it_is_blocked_and_the_reason_audited(
    http_client, blob, guard_home
):
    before, seq = len(blob.received), _last_seq(guard_home)
    resp = _put(http_client, blob, bytes(range(256)) * 64, "application/octet-stream")
    assert resp.status_code == 400 and len(blob.received) == before
    assert "cannot read (unsupported type application/octet-stream)" in resp.json()["error"]["message"]
    row = _upload_row(guard_home, seq)
    assert row["action"] == "block" and row["skipped"] == ["body: attachment unsupported type application/octet-stream"]
