"""restore_json and StreamRestorer on recorded replies: real values back, at any chunking, nothing half-done."""

from __future__ import annotations

import json

import pytest

from guard.restore import MAX_EVENT_BYTES, StreamRestorer, restore_json
from guard.vault import Vault
from tests.providers.payloads import issued_vault, load_bytes, load_json, restore_expected

TEXT = "Sure, I will email [PERSON_1] at [EMAIL_1] and call [PHONE_1]. The note [PERSON_9] stays as written; card [CARD_1] is blocked.\n"
ARGS = '{"to":"[EMAIL_1]","body":"Hi [PERSON_1], card [CARD_1] refunded."}'


def events(stream: bytes) -> list[dict | list | str]:
    """Data payloads of an SSE or NDJSON stream, parsed by a reader independent of guard's."""
    text = stream.decode().replace("\r\n", "\n")
    if text.lstrip().startswith("{"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    out = []
    for block in text.split("\n\n"):
        data = "\n".join(
            line[6:] if line.startswith("data: ") else line[5:]
            for line in block.split("\n")
            if line.startswith("data:")
        )
        if data:
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def openai_chat(evs):
    text, args = "", ""
    for e in evs:
        for c in e["choices"] if isinstance(e, dict) else []:
            text += c["delta"].get("content") or ""
            for t in c["delta"].get("tool_calls") or []:
                args += t["function"].get("arguments", "")
    return text, args


def responses(evs):
    text = "".join(e["delta"] for e in evs if e["type"] == "response.output_text.delta")
    args = "".join(e["delta"] for e in evs if e["type"] == "response.function_call_arguments.delta")
    done = next(e for e in evs if e["type"] == "response.completed")["response"]["output"]
    assert done[0]["content"][0]["text"] == text and done[1]["arguments"] == args  # full copies restored too
    return text, args


def anthropic(evs):
    deltas = [e["delta"] for e in evs if e["type"] == "content_block_delta"]
    return "".join(d.get("text", "") for d in deltas), "".join(d.get("partial_json", "") for d in deltas)


def gemini(evs):
    parts = [p for e in evs for p in e["candidates"][0]["content"]["parts"]]
    call = next(p["functionCall"]["args"] for p in parts if "functionCall" in p)
    return "".join(p.get("text", "") for p in parts), json.dumps(call, separators=(",", ":"))


def ollama(evs):
    return "".join(e["message"]["content"] for e in evs), ""


def chatgpt(evs):
    text = ""
    for e in evs:
        if (
            isinstance(e, dict)
            and isinstance(e.get("v"), str)
            and e.get("p", "/message/content/parts/0").endswith("parts/0")
        ):
            text += e["v"]
        elif isinstance(e, dict) and isinstance(e.get("v"), list):
            text += "".join(op["v"] for op in e["v"] if op["p"].endswith("parts/0"))
    return text, ""


GEMINI_ARGS = '{"to":"[EMAIL_1]","body":"Hi [PERSON_1]"}'
STREAMS = [
    ("openai/chat_stream.sse", openai_chat, ARGS),
    ("openai/responses_stream.sse", responses, ARGS),
    ("anthropic/messages_stream.sse", anthropic, ARGS),
    ("gemini/stream_reply.sse", gemini, GEMINI_ARGS),
    ("ollama/chat_stream.ndjson", ollama, ""),
    ("chatgpt_web/conversation_stream.sse", chatgpt, ""),
]
IDS = [s[0] for s in STREAMS]


def run(stream: bytes, chunks: list[bytes], vault: Vault | None = None) -> bytes:
    r = StreamRestorer(vault or issued_vault())
    return b"".join(r.feed(c) for c in chunks) + r.close()


@pytest.mark.parametrize(("rel", "collect", "args"), STREAMS, ids=IDS)
def test_when_a_recorded_stream_is_restored_then_the_client_reads_the_real_values(rel, collect, args):
    raw = load_bytes(rel)
    assert collect(events(raw)) == (TEXT, args)  # the recording really holds placeholders
    out = run(raw, [raw])
    assert collect(events(out)) == (restore_expected(TEXT), restore_expected(args))
    assert b"[PERSON_9]" in out  # the user's own look-alike is not ours: untouched


@pytest.mark.slow
@pytest.mark.parametrize(("rel", "collect", "args"), STREAMS, ids=IDS)
def test_when_the_stream_is_cut_at_any_byte_then_the_output_is_identical(rel, collect, args):
    raw = load_bytes(rel)
    whole = run(raw, [raw])
    for k in range(1, len(raw)):
        assert run(raw, [raw[:k], raw[k:]]) == whole, k


@pytest.mark.parametrize(("rel", "collect", "args"), STREAMS, ids=IDS)
def test_when_the_stream_arrives_one_byte_at_a_time_then_the_output_is_identical(rel, collect, args):
    raw = load_bytes(rel)
    assert run(raw, [raw[i : i + 1] for i in range(len(raw))]) == run(raw, [raw])


def split_events(raw: bytes, sep: bytes) -> list[bytes]:
    return [e + sep for e in raw.split(sep) if e]


@pytest.mark.parametrize(
    ("rel", "collect", "sep"),
    [
        ("openai/chat_stream.sse", openai_chat, b"\n\n"),
        ("anthropic/messages_stream.sse", anthropic, b"\n\n"),
        ("ollama/chat_stream.ndjson", ollama, b"\n"),
        ("gemini/stream_reply.sse", gemini, b"\r\n\r\n"),
    ],
)
def test_when_events_arrive_one_by_one_then_only_an_incomplete_placeholder_is_held_back(rel, collect, sep):
    vault = issued_vault()
    r = StreamRestorer(vault)
    raw = split_events(load_bytes(rel), sep)
    out = b""
    received = b""
    for event in raw:
        received += event
        out += r.feed(event)
        sent_text = collect_text(collect, events(received))
        emitted = collect_text(collect, events(out))
        # Everything received is out, restored, except a tail that is the start of an issued placeholder.
        cut = vault.partial_start(sent_text)
        assert emitted == restore_expected(sent_text[:cut]), event


def collect_text(collect, evs) -> str:
    try:
        return collect(evs)[0]
    except StopIteration:  # gemini's collector wants the final function call
        return "".join(p.get("text", "") for e in evs for p in e["candidates"][0]["content"]["parts"])


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    return (
        b"data: "
        + json.dumps(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        ).encode()
        + b"\n\n"
    )


def test_when_a_held_tail_never_completes_then_it_is_sent_before_the_finish_chunk():
    out = run(b"", [chunk("see ["), chunk("EMAIL_1"), chunk(None, "stop"), b"data: [DONE]\n\n"])
    evs = events(out)
    assert openai_chat(evs)[0] == "see [EMAIL_1"
    assert evs[-2]["choices"][0]["finish_reason"] == "stop" and evs[-1] == "[DONE]"


def test_when_the_finishing_chunk_itself_ends_in_a_partial_then_nothing_is_held():
    out = run(b"", [chunk("a [PHONE_1] b [PHO", "stop")])
    assert openai_chat(events(out))[0] == "a +1 415 555 0132 b [PHO"


def test_when_the_stream_ends_mid_placeholder_then_close_emits_the_tail():
    out = run(b"", [chunk("Hi [PER")])
    assert openai_chat(events(out))[0] == "Hi [PER"


def test_when_two_choices_interleave_then_each_keeps_its_own_tail():
    def c(i, text):
        return (
            b"data: "
            + json.dumps({"choices": [{"index": i, "delta": {"content": text}, "finish_reason": None}]}).encode()
            + b"\n\n"
        )

    out = run(b"", [c(0, "A [PERS"), c(1, "B [EMA"), c(0, "ON_1]."), c(1, "IL_1].")])
    texts = {0: "", 1: ""}
    for e in events(out):
        for ch in e["choices"]:
            texts[ch["index"]] += ch["delta"]["content"]
    assert texts == {0: "A Maria Lopez.", 1: "B maria.lopez@example.com."}


MALFORMED = [
    b"data: {not json\n\ndata: [DONE]\n\n",
    b"\x00\xff\xfe garbage without framing",
    b": comment only\n\nretry: 100\n\n",
    b'event: x\ndata: {"a": 1}\r\n\r\ndata: 2\n\n',
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_when_sse_is_malformed_and_holds_no_placeholder_then_bytes_pass_untouched(raw):
    for chunks in ([raw], [raw[i : i + 1] for i in range(len(raw))]):
        assert run(raw, chunks) == raw


def test_when_non_json_data_holds_a_complete_placeholder_then_it_is_restored():
    assert run(b"", [b"data: hello [EMAIL_1] <not json\n\n"]) == b"data: hello maria.lopez@example.com <not json\n\n"


def test_when_an_event_never_ends_then_it_is_passed_on_once_it_exceeds_the_limit():
    r = StreamRestorer(issued_vault())
    blob = b"data: " + b"x" * (MAX_EVENT_BYTES + 10)
    assert r.feed(blob) == blob


@pytest.mark.parametrize(("rel", "collect", "args"), STREAMS, ids=IDS)
def test_when_the_vault_is_empty_then_every_chunk_passes_through_as_is(rel, collect, args):
    raw = load_bytes(rel)
    r = StreamRestorer(Vault())
    assert [r.feed(raw[i : i + 7]) for i in range(0, len(raw), 7)] == [raw[i : i + 7] for i in range(0, len(raw), 7)]
    assert r.close() == b""


REPLIES = [
    (
        "openai/chat_reply.json",
        lambda d: (
            d["choices"][0]["message"]["content"],
            d["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        ),
    ),
    (
        "anthropic/messages_reply.json",
        lambda d: (d["content"][0]["text"], json.dumps(d["content"][1]["input"], separators=(",", ":"))),
    ),
    (
        "gemini/generate_reply.json",
        lambda d: (
            d["candidates"][0]["content"]["parts"][0]["text"],
            json.dumps(d["candidates"][0]["content"]["parts"][1]["functionCall"]["args"]),
        ),
    ),
]


@pytest.mark.parametrize(("rel", "pick"), REPLIES, ids=[r[0] for r in REPLIES])
def test_when_a_json_reply_is_restored_then_text_and_tool_arguments_carry_real_values(rel, pick):
    raw = load_bytes(rel)
    text, args = pick(json.loads(restore_json(raw, issued_vault())))
    before_text, before_args = pick(load_json(rel))
    assert text == restore_expected(before_text) and "Maria Lopez" in text
    assert args == restore_expected(before_args)
    json.loads(args)  # still valid JSON


def test_when_a_value_needs_escaping_then_restored_tool_arguments_stay_valid_json():
    from guard.core import Finding

    vault = Vault()
    vault.redact('Ann "Jr" Lee', [Finding("person", "PERSON", "r", 0, 12, 1.0)])
    reply = {"choices": [{"message": {"tool_calls": [{"function": {"arguments": '{"to":"[PERSON_1]"}'}}]}}]}
    out = json.loads(restore_json(json.dumps(reply).encode(), vault))
    assert json.loads(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"to": 'Ann "Jr" Lee'}


def test_when_a_reply_is_not_json_then_it_is_restored_as_text_and_an_empty_vault_changes_nothing():
    assert restore_json(b"plain [EMAIL_1] text", issued_vault()) == b"plain maria.lopez@example.com text"
    body = load_bytes("openai/chat_reply.json")
    assert restore_json(body, Vault()) is body


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b'data: {"a":"[EMAIL_1]"}\r\r', b"x"], b'data: {"a":"maria.lopez@example.com"}\r\r'),
        ([b'data: {"a":"[EMAIL_1]"}\r\n\r', b"d"], b'data: {"a":"maria.lopez@example.com"}\r\n\r'),
        ([b'data: {"a":"[EMAIL_1]"}\r\n', b"\r\n"], b'data: {"a":"maria.lopez@example.com"}\r\n\r\n'),
        ([b'data: {"a":"[EMAIL_1]"}\n', b"\n"], b'data: {"a":"maria.lopez@example.com"}\n\n'),
    ],
)
def test_when_sse_uses_cr_or_crlf_line_ends_then_events_complete_as_soon_as_their_blank_line_arrives(chunks, expected):
    r = StreamRestorer(issued_vault())
    assert b"".join(r.feed(c) for c in chunks) == expected


@pytest.mark.parametrize(
    ("rel", "collect"),
    [
        ("ollama/chat_stream.ndjson", ollama),
        ("openai/chat_stream.sse", openai_chat),
        ("anthropic/messages_stream.sse", anthropic),
    ],
)
def test_when_a_streamed_reply_was_buffered_whole_then_restore_json_joins_split_placeholders(rel, collect):
    out = restore_json(load_bytes(rel), issued_vault())
    assert collect(events(out))[0] == restore_expected(TEXT)
