"""Shapes found by fuzzing the proxy (tests/e2e/test_fuzz_proxy_e2e.py) that used to leave text unscanned."""

from __future__ import annotations

import json

import pytest

from guard import attachments, providers

EMAIL = "mara.lindqvist@nordhavn-logistics.se"
CTYPE = {"content-type": "multipart/form-data; boundary=XyZ"}
FIELD = b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n' + EMAIL.encode() + b"\r\n"


def _texts(body: bytes) -> list[str]:
    parsed = attachments.parse_multipart("openai", CTYPE, body, 1 << 20)
    assert parsed is not None
    return [s.text for s in attachments.expand(parsed, "skip")[0].segments]


def test_when_a_form_field_nests_a_multipart_mixed_part_then_its_text_is_scanned():
    inner = b"--in\r\nContent-Type: text/plain\r\n\r\n" + EMAIL.encode() + b"\r\n--in--\r\n"
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="files"\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n'
            + inner + b"--XyZ--\r\n")  # fmt: skip
    assert any(EMAIL in t for t in _texts(body))


def test_when_text_sits_before_or_after_the_parts_then_it_is_scanned():
    assert any(EMAIL in t for t in _texts(b"note " + EMAIL.encode() + b"\r\n" + FIELD + b"--XyZ--\r\n"))
    assert any(EMAIL in t for t in _texts(FIELD + b"--XyZ--\r\nps " + EMAIL.encode() + b"\r\n"))


@pytest.mark.parametrize("body", [FIELD, FIELD.replace(b"\r\n\r\n", b"\r\n"), FIELD[:40]],
                         ids=["no-close-boundary", "no-header-end", "cut"])  # fmt: skip
def test_when_a_multipart_body_is_malformed_then_it_cannot_be_inspected(body):
    with pytest.raises(providers.RequestError, match="malformed"):
        attachments.parse_multipart("openai", CTYPE, body, 1 << 20)


@pytest.mark.parametrize("part", [[None, f"mail {EMAIL}"], {"note": EMAIL}, {"text": 5, "x": [EMAIL]}])
def test_when_a_chatgpt_web_part_has_another_shape_then_its_strings_are_scanned(part):
    body = {"action": "next", "messages": [{"author": {"role": "user"}, "content": {"parts": [part]}}]}
    parsed = providers.parse_request("chatgpt_web", "POST", "/backend-api/conversation", {}, json.dumps(body).encode())
    assert any(EMAIL in s.text for s in parsed.segments)
