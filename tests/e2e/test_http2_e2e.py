"""HTTP/2 end to end: an h2 client through `guard proxy` to an h2 upstream (tests/e2e/h2upstream.py).

guard (mitmproxy, lazy connection strategy) speaks h2 with a client that offers it, and h2 upstream
when the upstream offers it too; with an HTTP/1.1-only upstream it translates. Every request is
scanned whole and every reply restored, whatever the framing: DATA frames, concurrent streams
multiplexed on one connection, SSE over h2.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import audit_rows
from tests.e2e.h2upstream import H2Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "Alice Johnson"
EMAIL = "alice.johnson@gmail.com"
PHONE = "+1 415 555 0134"
PROMPT = f"Please call {NAME} on {PHONE} or write to {EMAIL} about the invoice."
PLACEHOLDER = re.compile(r"\[(?:PERSON|EMAIL|PHONE)_\d+\]")
# One person per concurrent stream: a reply restored with another stream's vault would show it.
PEOPLE = [
    ("Alice Johnson", "alice.johnson@gmail.com", "+1 415 555 0134"),
    ("Marta Kowalska", "marta.kowalska@gmail.com", "+1 212 555 0187"),
    ("Daniel Okafor", "daniel.okafor@yahoo.com", "+1 312 555 0162"),
    ("Sofia Marquez", "sofia.marquez@outlook.com", "+1 646 555 0119"),
]


@pytest.fixture(scope="module")
def h2_upstream(tls) -> Iterator[H2Upstream]:
    server = H2Upstream(tls[1], tls[2]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def h1_only_upstream(tls) -> Iterator[H2Upstream]:
    server = H2Upstream(tls[1], tls[2], alpn=("http/1.1",)).start()
    yield server
    server.stop()


class _H2First(ssl.SSLContext):
    """Offer h2 before http/1.1 in ALPN, as browsers and curl do.

    httpcore offers ["http/1.1", "h2"] through a proxy tunnel and relies on the server preferring h2;
    mitmproxy honours the client's order, so an httpx (or openai / anthropic SDK) client gets HTTP/1.1.
    """

    def set_alpn_protocols(self, protocols) -> None:  # type: ignore[no-untyped-def]
        super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))


def _verify(guard_ca) -> ssl.SSLContext:
    ctx = _H2First(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(guard_ca))
    return ctx


@pytest.fixture
def h2_client(guard, guard_ca) -> Iterator[httpx.Client]:
    client = httpx.Client(http2=True, proxy=guard.url, verify=_verify(guard_ca), trust_env=False, timeout=60)
    yield client
    client.close()


@pytest.fixture
async def h2_async_client(guard, guard_ca) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(http2=True, proxy=guard.url, verify=_verify(guard_ca), trust_env=False,
                                 timeout=60) as client:  # fmt: skip
        yield client


def _chat(prompt: str, **extra: object) -> dict:
    return {"model": f"gpt-h2-{uuid.uuid4().hex[:8]}", "messages": [{"role": "user", "content": prompt}], **extra}


def _url(server: H2Upstream, path: str = "/v1/chat/completions", host: str = "localhost") -> str:
    return f"https://{host}:{server.port}{path}"


def _upstream_got(server: H2Upstream, model: str):
    recs = [r for r in server.received if r.json.get("model") == model]
    assert len(recs) == 1, f"the upstream got {len(recs)} requests for {model}"
    return recs[0]


def _assert_clean(server: H2Upstream, *values: str) -> None:
    seen = server.seen()
    for v in values:
        assert v not in seen, "a sensitive value reached the upstream"


def _sse_events(lines: list[str]) -> list[dict]:
    """The JSON of every `data:` line; each one must parse on its own (events arrive whole)."""
    return [json.loads(line[5:]) for line in lines if line.startswith("data:") and line != "data: [DONE]"]


def _deltas(events: list[dict]) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))


def test_when_client_and_upstream_speak_h2_then_prompt_is_redacted_and_reply_restored(h2_client, h2_upstream):
    body = _chat(PROMPT)
    reply = h2_client.post(_url(h2_upstream), json=body)
    assert reply.http_version == "HTTP/2"
    assert reply.status_code == 200, reply.text
    rec = _upstream_got(h2_upstream, body["model"])
    assert rec.http_version == "2", "guard did not speak HTTP/2 to the h2 upstream"
    _assert_clean(h2_upstream, NAME, EMAIL, PHONE)
    assert len(PLACEHOLDER.findall(rec.json["messages"][0]["content"])) == 3
    assert reply.json()["choices"][0]["message"]["content"] == "Echo: " + PROMPT


def test_when_sse_streams_over_h2_then_each_event_is_restored(h2_client, h2_upstream):
    body = _chat(PROMPT, stream=True)
    with h2_client.stream("POST", _url(h2_upstream), json=body) as reply:
        assert reply.http_version == "HTTP/2" and reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        lines = list(reply.iter_lines())
    assert _upstream_got(h2_upstream, body["model"]).http_version == "2"
    _assert_clean(h2_upstream, NAME, EMAIL, PHONE)
    events = _sse_events(lines)
    assert lines[-1] == "data: [DONE]" or "data: [DONE]" in lines
    # The upstream sent 3-character deltas, so placeholders arrived split across events and frames;
    # the client still gets one event per delta (not one buffered blob) with the real values.
    assert len(events) > 20
    text = _deltas(events)
    assert text == "Echo: " + PROMPT
    assert not PLACEHOLDER.search(text)


@pytest.mark.parametrize(
    ("host", "path", "error_of"),
    [
        ("localhost", "/v1/chat/completions", lambda j: j["error"]["message"]),  # openai
        ("127.0.0.1", "/v1/messages", lambda j: j["type"] == "error" and j["error"]["message"]),  # anthropic
    ],
    ids=["openai", "anthropic"],
)
def test_when_policy_blocks_over_h2_then_client_gets_provider_error(h2_client, h2_upstream, host, path, error_of):
    # A document marking routes to the private model; with none configured, policy blocks.
    body = {**_chat("CONFIDENTIAL: Q3 plan for the board."), "max_tokens": 64}
    before = len(h2_upstream.received)
    reply = h2_client.post(_url(h2_upstream, path, host), json=body)
    assert reply.http_version == "HTTP/2"
    assert reply.status_code == 400
    assert "guard blocked this request" in error_of(reply.json())
    assert len(h2_upstream.received) == before, "a blocked request reached the upstream"


async def test_when_streams_are_multiplexed_on_one_connection_then_each_is_scanned_alone(h2_async_client, h2_upstream):
    group = uuid.uuid4().hex
    bodies = [
        _chat(f"Please call {n} on {p} or write to {e}.", stream=i % 2 == 0) for i, (n, e, p) in enumerate(PEOPLE)
    ]

    async def send(body: dict) -> tuple[httpx.Response, str]:
        headers = {"x-test-barrier": f"{group}:{len(bodies)}"}
        async with h2_async_client.stream("POST", _url(h2_upstream), json=body, headers=headers) as reply:
            raw = await reply.aread()
        text = raw.decode()
        if body["stream"]:
            return reply, _deltas(_sse_events(text.splitlines()))
        return reply, json.loads(text)["choices"][0]["message"]["content"]

    # Open the h2 connection first: requests issued before ALPN is known each get a connection of their own.
    warm = await h2_async_client.post(_url(h2_upstream), json=_chat("Hello."))
    assert warm.http_version == "HTTP/2"
    results = await asyncio.gather(*(send(b) for b in bodies))

    # Client side: one h2 connection, one stream per request.
    assert {r.http_version for r, _ in results} == {"HTTP/2"}
    assert {id(r.extensions["network_stream"]) for r, _ in results} == {id(warm.extensions["network_stream"])}
    assert len({r.extensions["stream_id"] for r, _ in results}) == len(bodies)
    # Upstream side: h2, one connection, and all requests were in flight at the same time.
    recs = [_upstream_got(h2_upstream, b["model"]) for b in bodies]
    assert {r.http_version for r in recs} == {"2"}
    assert {r.connection for r in recs} == {
        _upstream_got(h2_upstream, json.loads(warm.request.content)["model"]).connection
    }
    assert all(r.barrier_met for r in recs), "the streams were not in flight together"
    _assert_clean(h2_upstream, *(v for person in PEOPLE for v in person))
    # Every stream was redacted to the same text ([PERSON_1], [PHONE_1], [EMAIL_1]): only restoring
    # each stream from its own conversation gives each client its own values back.
    assert len({r.json["messages"][0]["content"] for r in recs}) == 1
    # Each stream has its own placeholders and gets exactly its own values back, nobody else's.
    for body, (reply, text) in zip(bodies, results, strict=True):
        assert reply.status_code == 200
        assert text == "Echo: " + body["messages"][0]["content"]


@pytest.mark.parametrize("server", ["h2_upstream", "h1_only_upstream"])
def test_when_body_comes_in_many_data_frames_then_it_is_scanned_whole(request, h2_client, server):
    h2_upstream = request.getfixturevalue(server)
    body = _chat(PROMPT)
    raw = json.dumps(body).encode()

    def frames() -> Iterator[bytes]:
        for i in range(0, len(raw), 7):  # httpx sends each piece as its own DATA frame: values split mid-token
            yield raw[i : i + 7]

    reply = h2_client.post(_url(h2_upstream), content=frames(), headers={"content-type": "application/json"})
    assert reply.http_version == "HTTP/2"
    assert reply.status_code == 200, reply.text
    _assert_clean(h2_upstream, NAME, EMAIL, PHONE)
    assert _upstream_got(h2_upstream, body["model"]).http_version == ("2" if server == "h2_upstream" else "1.1")
    assert reply.json()["choices"][0]["message"]["content"] == "Echo: " + PROMPT


@pytest.mark.parametrize("length", [False, True], ids=["no-length", "content-length"])
def test_when_h2_body_is_too_large_then_it_is_blocked(h2_client, h2_upstream, length):
    # Without content-length (allowed on h2) the limit must hold on the body as received; with one,
    # guard answers before the client has sent all its DATA frames.
    raw = json.dumps(_chat("x" * 100_000)).encode()
    before = len(h2_upstream.received)
    content = raw if length else iter([raw[:50_000], raw[50_000:]])
    reply = h2_client.post(_url(h2_upstream), content=content, headers={"content-type": "application/json"})
    assert reply.http_version == "HTTP/2"
    assert reply.status_code == 400 and "larger than guard's limit" in reply.json()["error"]["message"]
    assert len(h2_upstream.received) == before


@pytest.mark.parametrize("stream", [False, True])
def test_when_upstream_speaks_only_http11_then_h2_client_is_translated(h2_client, h1_only_upstream, stream):
    body = _chat(PROMPT, stream=stream)
    with h2_client.stream("POST", _url(h1_only_upstream), json=body) as reply:
        assert reply.http_version == "HTTP/2"
        assert reply.status_code == 200
        raw = reply.read().decode()
    assert _upstream_got(h1_only_upstream, body["model"]).http_version == "1.1"
    _assert_clean(h1_only_upstream, NAME, EMAIL, PHONE)
    text = _deltas(_sse_events(raw.splitlines())) if stream else json.loads(raw)["choices"][0]["message"]["content"]
    assert text == "Echo: " + PROMPT


@pytest.mark.parametrize("stream", [False, True])
def test_when_h2_reply_has_no_length_and_ends_in_a_trailer_then_it_is_restored(h2_client, h2_upstream, stream):
    body = _chat(PROMPT, stream=stream)
    with h2_client.stream("POST", _url(h2_upstream), json=body,
                          headers={"te": "trailers", "x-test-trailer": "done-42"}) as reply:  # fmt: skip
        assert reply.http_version == "HTTP/2" and reply.status_code == 200
        raw = reply.read().decode()  # httpx drops h2 trailers: the body is what the client can check
    assert _upstream_got(h2_upstream, body["model"]).headers.get("te") == "trailers"  # so the upstream sent one
    _assert_clean(h2_upstream, NAME, EMAIL, PHONE)
    text = _deltas(_sse_events(raw.splitlines())) if stream else json.loads(raw)["choices"][0]["message"]["content"]
    assert text == "Echo: " + PROMPT


class _RawH2:
    """A bare h2 client (the h2 library) through guard's CONNECT tunnel: sees trailers, can reset a stream."""

    def __init__(self, guard, guard_ca, server: H2Upstream) -> None:
        import h2.config
        import h2.connection

        self.authority = f"localhost:{server.port}"
        sock = socket.create_connection(("127.0.0.1", guard.port), timeout=30)
        sock.sendall(f"CONNECT {self.authority} HTTP/1.1\r\nHost: {self.authority}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context(cafile=str(guard_ca))
        ctx.set_alpn_protocols(["h2"])
        self.sock = ctx.wrap_socket(sock, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.streams: dict[int, dict] = {}

    def post(self, body: dict, *headers: tuple[str, str]) -> int:
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "POST"), (":scheme", "https"), (":authority", self.authority),
                                     (":path", "/v1/chat/completions"), ("content-type", "application/json"),
                                     *headers])  # fmt: skip
        self.conn.send_data(sid, json.dumps(body).encode(), end_stream=True)
        self.streams[sid] = {"headers": {}, "data": b"", "trailers": {}, "ended": False, "reset": False}
        self.sock.sendall(self.conn.data_to_send())
        return sid

    def pump(self, until) -> None:  # type: ignore[no-untyped-def]
        """Read frames until `until()` holds."""
        import h2.events

        while not until():
            data = self.sock.recv(65536)
            assert data, "guard closed the h2 connection"
            for ev in self.conn.receive_data(data):
                st = self.streams.get(getattr(ev, "stream_id", 0))
                if isinstance(ev, h2.events.ResponseReceived) and st is not None:
                    st["headers"] = {k.decode(): v.decode() for k, v in ev.headers}
                elif isinstance(ev, h2.events.TrailersReceived) and st is not None:
                    st["trailers"] = {k.decode(): v.decode() for k, v in ev.headers}
                elif isinstance(ev, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if st is not None and not st["reset"]:
                        st["data"] += ev.data
                elif isinstance(ev, h2.events.StreamEnded) and st is not None:
                    st["ended"] = True
            self.sock.sendall(self.conn.data_to_send())

    def reset(self, sid: int) -> None:
        self.streams[sid]["reset"] = True
        self.conn.reset_stream(sid)
        self.sock.sendall(self.conn.data_to_send())


def test_when_client_resets_one_stream_then_the_other_finishes_with_its_trailer(guard, guard_ca, guard_home,
                                                                                 h2_upstream):  # fmt: skip
    client = _RawH2(guard, guard_ca, h2_upstream)
    try:
        # The cut reply is long (~1,000 paced frames, over a second) so the reset surely lands mid-reply.
        kept, cut = _chat(PROMPT, stream=True), _chat(PROMPT + " Thanks." * 200, stream=True)
        a = client.post(kept, ("te", "trailers"), ("x-test-trailer", "kept-7"))
        b = client.post(cut)
        client.pump(lambda: client.streams[b]["data"])
        client.reset(b)  # RST_STREAM on b only, mid-reply
        client.pump(lambda: client.streams[a]["ended"])
    finally:
        client.sock.close()
    got = client.streams[a]
    assert got["headers"][":status"] == "200"
    assert _deltas(_sse_events(got["data"].decode().splitlines())) == "Echo: " + PROMPT
    assert got["trailers"] == {"x-upstream-trailer": "kept-7"}
    _assert_clean(h2_upstream, NAME, EMAIL, PHONE)
    # The cut stream is audited as such, not as a reply the client received whole.
    assert audit_rows(guard_home, cut["model"])[0]["error"].startswith("connection: stream reset by client")
    assert audit_rows(guard_home, kept["model"])[0]["upstream_status"] == 200
