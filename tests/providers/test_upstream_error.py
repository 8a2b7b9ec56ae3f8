"""guard's reply when the upstream failed (nothing was blocked): each provider's error shape, read by the SDKs.

The official SDKs get it from a real local HTTP server: a server error (5xx) they raise as such, with
OpenAI's `code` `guard_upstream_error` instead of the `guard_blocked` of a refusal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from guard.providers import ADAPTERS, block_response, upstream_error_response
from tests.providers.upstream import Upstream

MESSAGE = "guard got no complete answer from api.example.com (server closed connection). Try again."
MSGS = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.close()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_when_the_upstream_failed_then_the_openai_sdk_raises_a_server_error_not_a_block(upstream, stream):
    upstream.reply = upstream_error_response("openai", "chat.completions", MESSAGE, 502)
    with openai.OpenAI(base_url=upstream.url + "/v1", api_key="sk-test", max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="m", messages=MSGS, stream=stream)  # raises on the status
    assert info.value.status_code == 502 and MESSAGE in str(info.value)
    assert info.value.code == "guard_upstream_error" and info.value.type == "server_error"


def test_when_the_upstream_failed_then_the_azure_client_raises_a_server_error(upstream):
    upstream.reply = upstream_error_response("azure_openai", "chat.completions", MESSAGE, 502)
    with openai.AzureOpenAI(azure_endpoint=upstream.url, api_version="2024-10-21", api_key="k", max_retries=0) as az:
        with pytest.raises(openai.InternalServerError) as info:
            az.chat.completions.create(model="gpt4o-prod", messages=MSGS)
    assert info.value.code == "guard_upstream_error"


def test_when_the_upstream_failed_then_the_anthropic_sdk_raises_an_api_error_not_invalid_request(upstream):
    upstream.reply = upstream_error_response("anthropic", "messages", MESSAGE, 502)
    with anthropic.Anthropic(base_url=upstream.url, api_key="sk-ant-test", max_retries=0) as client:
        with pytest.raises(anthropic.InternalServerError) as info:
            client.messages.create(model="m", max_tokens=5, messages=MSGS)
    assert info.value.status_code == 502 and MESSAGE in str(info.value)
    assert info.value.body["error"] == {"type": "api_error", "message": MESSAGE}


# adapter -> (endpoint, where the message is, what marks it as not a block)
SHAPES = {
    "openai": ("chat.completions", ("error", "message"), ("error", "code"), "guard_upstream_error"),
    "azure_openai": ("chat.completions", ("error", "message"), ("error", "code"), "guard_upstream_error"),
    "generic": ("generic", ("error", "message"), ("error", "code"), "guard_upstream_error"),
    "ollama": ("ollama.chat", ("error",), None, None),
    "anthropic": ("messages", ("error", "message"), ("error", "type"), "api_error"),
    "gemini": ("generate", ("error", "message"), ("error", "status"), "UNAVAILABLE"),
    "chatgpt_web": ("conversation", ("detail",), None, None),
}


def _at(doc: dict, path: tuple[str, ...]) -> object:
    for key in path:
        doc = doc[key]
    return doc


def test_every_adapter_has_an_upstream_error_shape():
    assert set(SHAPES) == set(ADAPTERS)


@pytest.mark.parametrize("adapter", SHAPES)
def test_when_the_upstream_failed_then_every_adapter_answers_in_its_block_shape_with_the_failure_status(adapter):
    endpoint, message_at, marker_at, marker = SHAPES[adapter]
    status, headers, body = upstream_error_response(adapter, endpoint, MESSAGE, 502)
    doc = json.loads(body)
    assert status == 502 and headers["content-type"].startswith("application/json")
    assert _at(doc, message_at) == MESSAGE
    block = json.loads(block_response(adapter, endpoint, "blocked", False)[2])
    assert set(doc) == set(block)  # the same top-level shape the SDKs already parse for blocks
    if marker_at:
        assert _at(doc, marker_at) == marker != _at(block, marker_at)
    assert "guard_blocked" not in body.decode() and "invalid_request" not in body.decode()
