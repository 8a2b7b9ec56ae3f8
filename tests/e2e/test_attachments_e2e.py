"""Documents inside requests through `guard proxy`: their text is scanned; what cannot be read blocks."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from guard import attachments
from guard.core import mask
from tests.attachments import docs
from tests.e2e.conftest import audit_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "dana.whitfield@example.org"
CARD = "5189 4386 0668 9283"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _anthropic(http_client, upstream, model: str, data: bytes):
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": attachments.PDF, "data": _b64(data)}},
        {"type": "text", "text": "Summarise this file."}]}]}  # fmt: skip
    return http_client.post(f"https://127.0.0.1:{upstream.port}/v1/messages", json=body,
                            headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})  # fmt: skip


def _openai(http_client, upstream, model: str, filename: str, media: str, data: bytes):
    body = {"model": model, "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": filename, "file_data": f"data:{media};base64,{_b64(data)}"}},
        {"type": "text", "text": "What is in this file?"}]}]}  # fmt: skip
    return http_client.post(f"https://localhost:{upstream.port}/v1/chat/completions", json=body,
                            headers={"authorization": "Bearer sk-test"})  # fmt: skip


def test_when_a_pdf_document_holds_an_email_then_the_request_is_blocked(http_client, upstream, guard_home):
    model, before = f"att-{uuid.uuid4().hex[:8]}", len(upstream.received)
    resp = _anthropic(http_client, upstream, model, docs.pdf(f"Customer contact {EMAIL}"))
    assert resp.status_code == 400 and len(upstream.received) == before
    assert "attached document contains email" in resp.json()["error"]["message"]
    (row,) = audit_rows(guard_home, model)
    assert row["action"] == "block" and {f["category"] for f in row["findings"]} == {"email"}
    assert "#extracted" in row["scanned"]


def test_when_a_spreadsheet_holds_a_card_number_then_the_request_is_blocked(http_client, upstream):
    before = len(upstream.received)
    data = docs.xlsx([["customer", "card"], ["Dana", CARD]])
    resp = _openai(http_client, upstream, f"att-{uuid.uuid4().hex[:8]}", "cards.xlsx", attachments.XLSX, data)
    assert resp.status_code == 400 and len(upstream.received) == before
    assert "payment card" in resp.json()["error"]["message"]


def test_when_a_document_is_clean_then_it_is_forwarded_unchanged(http_client, upstream, guard_home):
    model = f"att-{uuid.uuid4().hex[:8]}"
    data = docs.docx("Quarterly plan", "Ship the new onboarding flow in May.")
    resp = _openai(http_client, upstream, model, "plan.docx", attachments.DOCX, data)
    assert resp.status_code == 200
    sent = upstream.received[-1].json["messages"][0]["content"][0]["file"]["file_data"]
    assert base64.b64decode(sent.split(",", 1)[1]) == data
    (row,) = audit_rows(guard_home, model)
    assert row["action"] == "allow" and "#extracted" in row["scanned"]
    assert "not scanned" not in (row["skipped"] or "")


def test_when_a_pdf_is_encrypted_then_the_request_is_blocked_and_the_reason_audited(http_client, upstream, guard_home):
    model, before = f"{uuid.uuid4().hex[:6]}-att-{uuid.uuid4().hex[:6]}", len(upstream.received)
    resp = _anthropic(http_client, upstream, model, docs.encrypted_pdf(f"Customer contact {EMAIL}"))
    assert resp.status_code == 400 and len(upstream.received) == before
    assert "cannot read (encrypted PDF)" in resp.json()["error"]["message"]
    (row,) = audit_rows(guard_home, mask(model))  # blocked before detection: the unchecked model is stored masked
    assert row["action"] == "block" and "encrypted PDF" in json.dumps(row["skipped"])


def test_when_a_files_api_upload_holds_an_email_then_it_is_blocked_and_a_clean_one_goes_out_unchanged(
    http_client, upstream
):
    url = f"https://localhost:{upstream.port}/v1/files"
    auth = {"authorization": "Bearer sk-test"}
    before = len(upstream.received)
    bad = http_client.post(url, headers=auth, data={"purpose": "assistants"},
                           files={"file": ("customers.csv", f"name,email\nDana,{EMAIL}\n".encode(), "text/csv")})  # fmt: skip
    assert bad.status_code == 400 and len(upstream.received) == before
    assert "attached document contains email" in bad.json()["error"]["message"]
    data = docs.pdf("Release notes for version 2.1")
    ok = http_client.post(url, headers=auth, data={"purpose": "assistants"},
                          files={"file": ("notes.pdf", data, "application/pdf")})  # fmt: skip
    assert len(upstream.received) == before + 1, ok.text
    sent = upstream.received[-1]
    assert sent.headers["content-type"].startswith("multipart/form-data") and data in sent.body
