"""Body decoding and the limits: what guard cannot inspect is refused with a prompt-free message."""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest
import zstandard

from guard.providers import MAX_MESSAGES, LimitError, RequestError, parse_request, rebuild_body
from guard.providers._wire import MAX_STRINGS
from tests.providers.payloads import load_bytes

BODY = load_bytes("openai/chat_request_tools.json")
SECRET = "sk-live-9f8a7b6c5d4e3f2a1b0c"


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


ENCODINGS = [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", raw_deflate),
    ("br", brotli.compress),
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ("identity", lambda b: b),
]


@pytest.mark.parametrize(("encoding", "encode"), ENCODINGS, ids=[f"{e}-{i}" for i, (e, _) in enumerate(ENCODINGS)])
def test_when_the_body_is_compressed_then_it_is_decoded_before_parsing(encoding, encode):
    plain = parse_request("openai", "POST", "/v1/chat/completions", {}, BODY)
    packed = parse_request("openai", "POST", "/v1/chat/completions", {"Content-Encoding": encoding}, encode(BODY))
    assert packed.segments == plain.segments and packed.body == plain.body


def prompt_body(extra: bytes = b"") -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": f"key {SECRET}"}]}).encode() + extra


BOMB = b"{" + b" " * (9 * 1024 * 1024) + b"}"  # just over the 8 MiB default
# name, headers, body, max_bytes, fragment of the expected message
REFUSALS = [
    ("oversize", {}, prompt_body(b" " * 2000), 1000, "over the 1000-byte limit"),
    ("gzip bomb", {"content-encoding": "gzip"}, gzip.compress(BOMB), 8 * 1024 * 1024, "decoded request body is over"),
    (
        "br bomb",
        {"content-encoding": "br"},
        brotli.compress(BOMB, quality=1),
        8 * 1024 * 1024,
        "decoded request body is over",
    ),
    ("zstd bomb", {"content-encoding": "zstd"}, zstandard.ZstdCompressor().compress(BOMB), 8 * 1024 * 1024, "over"),
    ("truncated gzip", {"content-encoding": "gzip"}, gzip.compress(prompt_body())[:-12], 8 * 1024 * 1024, "gzip"),
    ("bad gzip", {"content-encoding": "gzip"}, prompt_body(), 8 * 1024 * 1024, "could not be decoded as gzip"),
    (
        "unknown coding",
        {"content-encoding": "compress"},
        prompt_body(),
        8 * 1024 * 1024,
        "unsupported Content-Encoding",
    ),
    ("not json", {}, f"user: {SECRET}".encode(), 8 * 1024 * 1024, "not valid JSON"),
    ("truncated json", {}, prompt_body()[:-5], 8 * 1024 * 1024, "not valid JSON"),
    ("not utf-8", {}, f'{{"prompt": "{SECRET}'.encode() + b'\xff"}', 8 * 1024 * 1024, "not UTF-8"),
    ("deep", {}, b'{"messages": ' + b"[" * 100 + b"]" * 100 + b"}", 8 * 1024 * 1024, "nested deeper than 64"),
    ("very deep", {}, b"[" * 100_000 + b"]" * 100_000, 8 * 1024 * 1024, "nested deeper"),
    (
        "too many messages",
        {},
        json.dumps({"messages": [{"role": "user", "content": SECRET}] * (MAX_MESSAGES + 1)}).encode(),
        8 * 1024 * 1024,
        f"over the {MAX_MESSAGES} limit",
    ),
    ("messages not a list", {}, json.dumps({"messages": SECRET}).encode(), 8 * 1024 * 1024, "messages must be a list"),
    ("body not an object", {}, json.dumps([SECRET]).encode(), 8 * 1024 * 1024, "must be a JSON object"),
]


@pytest.mark.parametrize(("name", "headers", "body", "max_bytes", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_when_a_body_cannot_be_inspected_then_request_error_says_why_without_prompt_text(
    name, headers, body, max_bytes, fragment
):
    with pytest.raises(RequestError) as info:
        parse_request("openai", "POST", "/v1/chat/completions", headers, body, max_bytes=max_bytes)
    message = str(info.value)
    assert fragment in message
    assert SECRET not in message and "sk-live" not in message and "user:" not in message


def test_when_the_adapter_is_unknown_then_request_error():
    with pytest.raises(RequestError, match="unknown adapter"):
        parse_request("mistral", "POST", "/v1/chat/completions", {}, prompt_body())


def test_when_max_depth_is_raised_then_deeper_json_is_accepted():
    body = b'{"x": ' + b"[" * 80 + b'"deep text"' + b"]" * 80 + b"}"
    parsed = parse_request("generic", "POST", "/x", {}, body, max_depth=100)
    assert [s.text for s in parsed.segments] == ["deep text"]


@pytest.mark.parametrize(
    "path",
    [("messages", 0, "role", "x"), ("messages", 9, "content"), ("model",), ("messages", 0), ()],
)
def test_when_a_replacement_path_holds_no_string_then_rebuild_refuses(path):
    parsed = parse_request(
        "openai", "POST", "/v1/chat/completions", {}, b'{"model": 5, "messages": [{"role": "user"}]}'
    )
    with pytest.raises(RequestError):
        rebuild_body(parsed, {path: "x"})


LIMITS = {"oversize": "body size", "gzip bomb": "body size", "br bomb": "body size", "zstd bomb": "body size",
          "deep": "JSON depth", "very deep": "JSON depth", "too many messages": "messages"}  # fmt: skip


@pytest.mark.parametrize(("name", "headers", "body", "max_bytes", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_when_a_body_is_refused_then_only_a_limit_is_a_limit_error_with_advice(
    name, headers, body, max_bytes, fragment
):
    with pytest.raises(RequestError) as info:
        parse_request("openai", "POST", "/v1/chat/completions", headers, body, max_bytes=max_bytes)
    if name in LIMITS:
        assert isinstance(info.value, LimitError) and info.value.limit == LIMITS[name] and info.value.advice
    else:  # broken input is not over a limit: the user is not told to shorten anything
        assert not isinstance(info.value, LimitError)


def test_when_a_deep_scan_meets_more_strings_than_the_limit_then_it_is_a_limit_error():
    body = json.dumps({"query": ["s"] * (MAX_STRINGS + 1)}).encode()
    with pytest.raises(LimitError, match=f"more than {MAX_STRINGS} strings") as info:
        parse_request("generic", "POST", "/x", {}, body)
    assert info.value.slug == "strings"
