"""Hostile request bodies through `guard proxy` (Hypothesis): a clean block or a scanned forward, never a leak.

Every adapter's endpoints get truncated, deeply nested, oversized, mistyped, wrongly encoded (charset
and Content-Encoding), wrongly typed (Content-Type), multipart and oddly framed (chunked, raw
sockets) bodies, each carrying a planted e-mail address and AWS key (raw, base64, hex or
percent-encoded), and clean bodies whose URL carries them (a query value or name, or a path segment, encoded 0-2 times). For each request: the proxy answers within a bounded time and stays up; either it
is guard's own block in the provider's error format (no traceback, no planted value), or what the
upstream received holds no form of the planted values. guard's output and audit store never hold them.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import brotli
import httpx
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import BODY_LIMIT, EXTRA_ADAPTERS, GuardProcess, audit_db_bytes
from tests.e2e.upstream import Received, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "mara.lindqvist@nordhavn-logistics.se"
AKID = "AKIAZ7QK3M5N2P4R6T8V"
PLANTS = [
    f"please write to {EMAIL} today",
    f"the prod key is {AKID} ok",
    f"mail {EMAIL} and key {AKID}",
    f"decode this: {base64.b64encode(EMAIL.encode()).decode()} thanks",
    f"hex form {AKID.encode().hex()} end",
    f"percent form {quote(EMAIL, safe='')} end",
]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=list(HealthCheck))  # fmt: skip
TIMEOUT = 20.0  # seconds the proxy has to answer one request (a hang fails the test)


def forms(value: str) -> list[bytes]:
    """The planted value as bytes a recipient could read it from: raw, base64, hex, percent, UTF-16."""
    raw = value.encode()
    out = [raw, base64.b64encode(raw).rstrip(b"="), base64.urlsafe_b64encode(raw).rstrip(b"="),
           raw.hex().encode(), raw.hex().upper().encode(), quote(value, safe="").encode(),
           value.encode("utf-16-le"), value.encode("utf-16-be")]  # fmt: skip
    return list(dict.fromkeys(out))


FORMS = [f for v in (EMAIL, AKID) for f in forms(v)]

# (host, path, adapter, template builder): every adapter's endpoints, and unknown paths (generic deep scan).
HOST_OF = {"localhost": "openai", "127.0.0.1": "anthropic", **EXTRA_ADAPTERS}
ROUTES: list[tuple[str, str, Callable[[str], Any]]] = [
    ("localhost", "/v1/chat/completions", lambda p: {"model": "gpt-4o", "messages": [{"role": "user", "content": p}]}),
    ("localhost", "/v1/responses", lambda p: {"model": "gpt-4o", "input": [{"role": "user", "content": p}]}),
    ("localhost", "/v1/completions", lambda p: {"model": "gpt-3.5-turbo-instruct", "prompt": p}),
    ("localhost", "/v1/embeddings", lambda p: {"model": "text-embedding-3-small", "input": [p]}),
    ("localhost", "/v1/fine_tuning/alpha/graders/run", lambda p: {"grader": {"input": p}}),
    ("127.0.0.2", "/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01",
     lambda p: {"messages": [{"role": "user", "content": p}], "stream": True}),
    ("127.0.0.3", "/api/chat", lambda p: {"model": "llama3", "messages": [{"role": "user", "content": p}]}),
    ("127.0.0.3", "/api/generate", lambda p: {"model": "llama3", "prompt": p, "system": "be brief"}),
    ("127.0.0.1", "/v1/messages", lambda p: {"model": "claude-3-5-sonnet", "max_tokens": 64, "system": "hi",
                                              "messages": [{"role": "user", "content": [{"type": "text", "text": p}]}]}),
    ("127.0.0.4", "/v1beta/models/gemini-1.5-pro:generateContent",
     lambda p: {"contents": [{"role": "user", "parts": [{"text": p}]}]}),
    ("127.0.0.4", "/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse",
     lambda p: {"contents": [{"role": "user", "parts": [{"text": p}]}], "systemInstruction": {"parts": [{"text": "x"}]}}),
    ("127.0.0.5", "/backend-api/conversation", lambda p: {"action": "next", "model": "auto", "messages": [
        {"id": "m1", "author": {"role": "user"}, "content": {"content_type": "text", "parts": [p]}}]}),
    ("127.0.0.6", "/internal/any/path", lambda p: {"query": {"text": p}}),
]  # fmt: skip
ROUTE = st.sampled_from(ROUTES)
PLANT = st.sampled_from(PLANTS)


# -- the proxy and the upstreams ------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstreams(upstream: Upstream, tls: tuple[Path, Path, Path]) -> Iterator[dict[str, Upstream]]:
    """One recording upstream per guarded host (localhost and 127.0.0.1 share the session's)."""
    extra = {ip: Upstream(tls[1], tls[2], host=ip).start() for ip in EXTRA_ADAPTERS}
    yield {"localhost": upstream, "127.0.0.1": upstream, **extra}
    for server in extra.values():
        server.stop()


@pytest.fixture(scope="module")
def client(guard: GuardProcess, guard_ca: Path) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=str(guard_ca))
    with httpx.Client(proxy=guard.url, verify=ctx, trust_env=False, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def fuzz(guard: GuardProcess, guard_ca: Path, upstreams: dict[str, Upstream], client: httpx.Client) -> Iterator[Fuzz]:
    f = Fuzz(guard, guard_ca, upstreams, client)
    yield f
    time.sleep(0.5)  # let the last log lines and audit events land
    f.check_output()


class Fuzz:
    """Sends one hostile request and checks the proxy's answer and what the upstream received."""

    def __init__(self, guard: GuardProcess, ca: Path, upstreams: dict[str, Upstream], client: httpx.Client) -> None:
        self.guard, self.ca, self.upstreams, self.client = guard, ca, upstreams, client
        self.first_line = len(guard.lines)
        self.outcomes: dict[str, int] = {}

    def url(self, host: str, path: str) -> str:
        return f"https://{host}:{self.upstreams[host].port}{path}"

    def marks(self) -> dict[int, int]:
        return {id(u): len(u.received) for u in self.upstreams.values()}

    def received_since(self, marks: dict[int, int]) -> list[Received]:
        seen: dict[int, Upstream] = {id(u): u for u in self.upstreams.values()}
        return [r for key, u in seen.items() for r in u.received[marks[key] :]]

    def send(self, host: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        """One request with httpx: the answer is a guard block or the body left scanned."""
        marks = self.marks()
        try:
            resp = self.client.post(
                self.url(host, path), content=body, headers={"authorization": "Bearer sk-test", **headers}
            )
        except httpx.TimeoutException:
            pytest.fail(f"no answer within {TIMEOUT} s ({host}{path}, {headers})")
        self.judge(HOST_OF[host], marks, resp.status_code, resp.headers.get("content-type", ""), resp.content)

    def judge(self, adapter: str, marks: dict[int, int], status: int | None, ctype: str, content: bytes) -> None:
        assert self.guard.proc.poll() is None, "guard proxy died:\n" + "\n".join(self.guard.lines[-30:])
        got = self.received_since(marks)
        for rec in got:
            leaked = leaks_in(rec)
            assert not leaked, f"the upstream received a planted value ({leaked}) at {rec.path}: {rec.body[:300]!r}"
        if got:
            self.outcomes["forwarded"] = self.outcomes.get("forwarded", 0) + 1
            return
        if status is None:  # raw framing: the proxy closed the connection without an answer, nothing left
            self.outcomes["closed"] = self.outcomes.get("closed", 0) + 1
            return
        assert b"Traceback" not in content and not [f for f in FORMS if f in content], content[:300]
        if "json" not in ctype:  # mitmproxy's own answer to broken HTTP framing (never forwarded)
            assert status >= 400 and adapter == "raw", (status, ctype, content[:300])
            self.outcomes["protocol error"] = self.outcomes.get("protocol error", 0) + 1
            return
        message = block_message(json.loads(content))
        assert 400 <= status < 600 and message, f"not a guard block: {status} {content[:300]!r}"
        assert "guard" in message and "guard reference" in message, message
        assert any(hint in message for hint in ("Try again", "IT team", "Send ", "Shorten", "emove", "ask ")), message
        self.outcomes["blocked"] = self.outcomes.get("blocked", 0) + 1

    def check_output(self) -> None:
        out = "\n".join(self.guard.lines[self.first_line :]).encode()
        assert b"Traceback" not in out, out[-2000:]
        assert not [f for f in FORMS if f in out], "a planted value reached guard's output"
        assert not [f for f in FORMS if f in audit_db_bytes(self.guard_home())], (
            "a planted value reached the audit store"
        )

    def guard_home(self) -> Path:
        return self.ca.parent.parent


def block_message(doc: Any) -> str:
    """The user-facing message of an error body in any provider's format ('' when there is none)."""
    if not isinstance(doc, dict):
        return ""
    err = doc.get("error", doc.get("detail"))
    if isinstance(err, dict):
        err = err.get("message")
    return err if isinstance(err, str) else ""


def decoded(rec: Received) -> bytes:
    """The recorded body with its Content-Encoding undone (independently of guard's decoder)."""
    body = rec.body
    for coding in reversed([c.strip() for c in rec.headers.get("content-encoding", "").split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = zlib.decompressobj(47).decompress(body, 1 << 24)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompressobj(-15).decompress(body, 1 << 24)
            elif coding == "br":
                body = brotli.decompress(body)
            elif coding == "zstd":
                body = zstandard.ZstdDecompressor().stream_reader(body).read(1 << 24)
        except Exception:  # noqa: BLE001 - garbage stays as it is; the raw bytes are checked
            break
    return body


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def leaks_in(rec: Received) -> list[str]:
    """Which planted forms the upstream could read in what it received (raw bytes, decoded, JSON strings)."""
    views = [rec.body, decoded(rec)]
    url = rec.path  # the request target: its query string leaves the company too (decoded up to twice)
    views += [url.encode("latin-1", "replace"), unquote_plus(url).encode(), unquote_plus(unquote_plus(url)).encode()]
    for view in list(views):
        for charset in ("utf-8-sig", "utf-16", "utf-32"):
            try:
                views.append("\n".join(_strings(json.loads(view.decode(charset)))).encode())
            except (ValueError, RecursionError):
                pass
    return sorted({f.decode("latin-1")[:6] + "…" for f in FORMS for v in views if f in v})


# -- hostile bodies -------------------------------------------------------------------------------

KEYS = ["messages", "content", "role", "text", "parts", "contents", "input", "prompt", "model", "type", "stream",
        "tools", "system", "metadata", "author", "function", "arguments", "source", "data", "file"]  # fmt: skip
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))  # fmt: skip
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(KEYS), c, max_size=3),
                    max_leaves=8)  # fmt: skip


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@st.composite
def mistyped(draw: st.DrawFn, template: Any, plant: str) -> Any:
    """The valid body with 1-3 values (or the root) replaced by other types; the plant stays somewhere."""
    doc = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))  # identifier fields (model, role, ids) too: scanned, block
        new = draw(st.one_of(junk, st.just(plant), st.builds(lambda j: [j, plant], junk),
                             st.builds(lambda j: {"text": plant, "content": j}, junk),
                             st.builds(lambda j: {"type": j, "text": [plant]}, junk)))  # fmt: skip
        doc = _set(doc, path, new)
    if plant not in json.dumps(doc):
        doc = _set(doc, draw(st.sampled_from(list(_paths(doc)))), [plant])
    return doc


def deep(plant: str, depth: int, kind: str) -> bytes:
    inner = json.dumps(plant)
    if kind == "list":
        return b'{"messages": ' + ("[" * depth + inner + "]" * depth).encode() + b"}"
    if kind == "dict":
        return ('{"a": ' * depth + inner + "}" * depth).encode()
    return ("[" * depth + inner).encode()  # never closed


def huge(body: bytes, size: int, where: str) -> bytes:
    pad = b" " * size
    return pad + body if where == "front" else body[:-1] + b"," + b'"pad": "' + b"x" * size + b'"}'


def invalid_utf8(body: bytes, seq: bytes, at: int) -> bytes:
    quote_at = body.find(b'"', min(at, len(body) - 1))
    at = quote_at + 1 if quote_at >= 0 else len(body) // 2
    return body[:at] + seq + body[at:]


@st.composite
def byte_bodies(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """Truncated, deeply nested, huge, mistyped and wrongly-charset JSON bodies, with a matching header set."""
    host, path, template = draw(ROUTE)
    plant = draw(PLANT)
    body = json.dumps(template(plant)).encode()
    headers = {"content-type": "application/json"}
    kind = draw(st.sampled_from(["mistyped", "truncated", "deep", "huge", "charset", "invalid-utf8", "literal"]))
    if kind == "mistyped":
        body = json.dumps(draw(mistyped(template(plant), plant))).encode()
    elif kind == "truncated":
        body = body[: draw(st.integers(1, len(body) - 1))]
    elif kind == "deep":
        body = deep(
            plant, draw(st.sampled_from([65, 200, 1500, 20_000])), draw(st.sampled_from(["list", "dict", "open"]))
        )
    elif kind == "huge":
        body = huge(
            body, draw(st.integers(BODY_LIMIT - len(body), 3 * BODY_LIMIT)), draw(st.sampled_from(["front", "end"]))
        )
    elif kind == "charset":
        charset = draw(st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"]))
        text = body.decode().replace(plant, plant + " café ñ")
        body = text.encode(charset)
        if draw(st.booleans()):
            headers["content-type"] = f"application/json; charset={charset}"
    elif kind == "invalid-utf8":
        seq = draw(
            st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\x00"])
        )
        body = invalid_utf8(body, seq, draw(st.integers(0, len(body))))
    else:  # JSON literals Python reads specially: lone surrogates, huge numbers, NaN, duplicate keys
        extra = draw(st.sampled_from(['"\\ud800"', "1" + "0" * 5000, "NaN", "-Infinity", "1e999", '"\\u0000"']))
        body = body[:-1] + b', "x": ' + extra.encode() + b', "model": ' + extra.encode() + b"}"
    return host, path, body, headers


def _compress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, 1)
    if coding == "deflate":
        return zlib.compress(data, 1)
    if coding == "raw-deflate":
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    if coding == "br":
        return brotli.compress(data, quality=1)
    return zstandard.ZstdCompressor(level=1).compress(data)


@st.composite
def encoded_bodies(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """Correct, stacked, lying, truncated, garbage and bomb Content-Encodings."""
    host, path, template = draw(ROUTE)
    plant = draw(PLANT)
    body = json.dumps(template(plant)).encode()
    codings = draw(st.lists(st.sampled_from(["gzip", "deflate", "raw-deflate", "br", "zstd"]), min_size=1, max_size=2))
    kind = draw(st.sampled_from(["correct", "lying", "truncated", "garbage", "bomb", "unknown", "unlabelled"]))
    if kind == "bomb":  # decodes far beyond the body limit; the plant sits at the end
        body = huge(body, draw(st.sampled_from([BODY_LIMIT + 1, 4 * BODY_LIMIT, 16 * 1024 * 1024])), "end")
        body = body.replace(b'"pad": "', b'"pad": "' + plant.encode() + b" ", 1)
    data = body
    for c in codings:
        data = _compress(c, data)
    names = ", ".join("deflate" if c == "raw-deflate" else c for c in codings)
    if kind == "lying":
        data = body  # says compressed, is plain JSON
    elif kind == "truncated":
        data = data[: draw(st.integers(1, max(1, len(data) - 1)))]
    elif kind == "garbage":
        data = draw(st.binary(min_size=1, max_size=64)) + data[len(data) // 2 :]
    elif kind == "unknown":
        names = draw(st.sampled_from(["compress", "x-custom", "gzip;q=1", "identity, chunked", "gzip, gzip"]))
    elif kind == "unlabelled":
        names = draw(st.sampled_from(["", "identity"]))
    headers = {"content-type": "application/json"}
    if names:
        headers["content-encoding"] = names
    return host, path, data, headers


@st.composite
def typed_bodies(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """Wrong Content-Types, form bodies and multipart garbage."""
    host, path, template = draw(ROUTE)
    plant = draw(PLANT)
    body = json.dumps(template(plant)).encode()
    kind = draw(st.sampled_from(["wrong-type", "form", "multipart", "multipart-nested", "multipart-broken"]))
    b = "XyZzYb0undary"
    if kind == "wrong-type":
        ctype = draw(st.sampled_from(["text/plain", "application/octet-stream", "application/xml", "",
                                      "application/x-www-form-urlencoded", "multipart/form-data", "image/png"]))  # fmt: skip
        return host, path, body, {"content-type": ctype} if ctype else {}
    if kind == "form":
        return (
            host,
            path,
            f"prompt={quote(plant)}&model=x".encode(),
            {"content-type": "application/x-www-form-urlencoded"},
        )
    cte = draw(st.sampled_from(["", "base64", "quoted-printable", "8bit", "x-unknown"]))
    payload = base64.b64encode(plant.encode()) if cte == "base64" else plant.encode()
    part_head = f'Content-Disposition: form-data; name="{draw(st.sampled_from(["purpose", "file"]))}"'
    if draw(st.booleans()):
        part_head += '; filename="notes.txt"\r\nContent-Type: text/plain'
    if cte:
        part_head += f"\r\nContent-Transfer-Encoding: {cte}"
    part = part_head.encode() + b"\r\n\r\n" + payload + b"\r\n"
    if kind == "multipart-nested":
        inner = b"--inner\r\nContent-Type: text/plain\r\n\r\n" + plant.encode() + b"\r\n--inner--\r\n"
        part = (b'Content-Disposition: form-data; name="files"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n'
                + inner)  # fmt: skip
    multi = f"--{b}\r\n".encode() + part + f"--{b}--\r\n".encode()
    if kind == "multipart-broken":
        multi = draw(st.sampled_from([multi[: len(multi) // 2], multi.replace(f"--{b}".encode(), b"--other"),
                                      b"garbage before\r\n" + multi, part, multi.replace(b"\r\n\r\n", b"\r\n")]))  # fmt: skip
    ctype = draw(st.sampled_from([f"multipart/form-data; boundary={b}", f'multipart/form-data; boundary="{b}"',
                                  "multipart/form-data", "multipart/form-data; boundary=",
                                  f"multipart/mixed; boundary={b}", f"multipart/form-data; charset=utf-16; boundary={b}"]))  # fmt: skip
    return host, path, multi, {"content-type": ctype}


# -- the tests ------------------------------------------------------------------------------------


@SETTINGS
@given(case=byte_bodies())
def test_when_a_body_is_truncated_nested_huge_mistyped_or_misencoded_then_it_is_blocked_or_scanned(fuzz, case):
    host, path, body, headers = case
    fuzz.send(host, path, body, headers)


@SETTINGS
@given(case=encoded_bodies())
def test_when_content_encoding_is_bombed_lying_or_garbage_then_it_is_blocked_or_scanned(fuzz, case):
    host, path, body, headers = case
    fuzz.send(host, path, body, headers)


@SETTINGS
@given(case=typed_bodies())
def test_when_content_type_is_wrong_or_multipart_is_garbage_then_it_is_blocked_or_scanned(fuzz, case):
    host, path, body, headers = case
    fuzz.send(host, path, body, headers)


# -- the URL's query string ----------------------------------------------------------------------

QUERY_NAMES = ["q", "note", "user", "ref", "api-version", "alt", "filter[email]", "x"]


@st.composite
def query_strings(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """A clean body whose URL carries the planted value: a parameter's value or name, or a path segment,
    encoded 0-2 times."""
    host, path, template = draw(ROUTE)
    plant = draw(PLANT)
    encode = draw(st.sampled_from([lambda v: quote(v, safe=""), quote_plus, lambda v: quote(quote(v, safe=""), safe="")]))
    pairs = [f"{draw(st.sampled_from(QUERY_NAMES))}={quote(draw(st.text(max_size=8)), safe='')}"
             for _ in range(draw(st.integers(0, 3)))]  # fmt: skip
    planted = encode(plant) if draw(st.booleans()) else encode(plant.split(" ")[-2] if " " in plant else plant)
    pairs.insert(draw(st.integers(0, len(pairs))), draw(st.sampled_from([f"{draw(st.sampled_from(QUERY_NAMES))}={planted}",
                                                                         planted])))  # fmt: skip
    body = json.dumps(template("Summarise the attached plan.")).encode()
    if draw(st.booleans()):  # or as a path segment
        bare, _, query = path.partition("?")
        pairs = [p for p in pairs if p != planted and not p.endswith("=" + planted)]
        path = f"{bare}/{planted}" + (f"?{query}" if query else "")
    sep = "&" if "?" in path else "?"
    return host, path + (sep + "&".join(pairs) if pairs else ""), body, {"content-type": "application/json"}


@SETTINGS
@given(case=query_strings())
def test_when_the_url_carries_a_value_then_it_is_blocked_or_never_reaches_the_upstream(fuzz, case):
    host, path, body, headers = case
    fuzz.send(host, path, body, headers)


# -- framing, with raw sockets through CONNECT ----------------------------------------------------


def _chunked(body: bytes, cuts: list[int], ext: bool) -> bytes:
    out, last = b"", 0
    for cut in [*sorted(set(cuts)), len(body)]:
        piece = body[last:cut]
        if piece:
            out += b"%x%s\r\n%s\r\n" % (len(piece), b";x=1" if ext else b"", piece)
        last = cut
    return out + b"0\r\n\r\n"


@st.composite
def framed_requests(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """(host, raw request bytes, complete?): chunked bodies, good and broken, and lying lengths."""
    host, path, template = draw(ROUTE)
    body = json.dumps(template(draw(PLANT))).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:PORT\r\nContent-Type: application/json\r\n"
    kind = draw(st.sampled_from(["chunked", "chunked-trailer", "bad-size", "cl-and-te", "short-cl", "pipelined",
                                 "long-cl", "unfinished-chunks", "te-obfuscated"]))  # fmt: skip
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=6))
    chunked = _chunked(body, cuts, draw(st.booleans()))
    te = "Transfer-Encoding: chunked\r\n"
    if kind == "chunked":
        return host, (head + te + "\r\n").encode() + chunked, True
    if kind == "chunked-trailer":  # guard.http1_trailers: a 400 naming the reason, nothing forwarded
        return host, (head + te + "\r\n").encode() + chunked[:-2] + b"X-Trailer: 1\r\n\r\n", True
    if kind == "bad-size":
        bad = draw(st.sampled_from([b"zz", b"-5", b"fffffffffffffffffff", b" 10", b"0x10"]))
        # a chunk of 2**76 bytes is a promise the client never keeps: the proxy waits for it
        return (
            host,
            (head + te + "\r\n").encode() + bad + b"\r\n" + body + b"\r\n0\r\n\r\n",
            bad != b"fffffffffffffffffff",
        )
    if kind == "cl-and-te":  # request smuggling shape: the proxy must read one body, and scan it
        return (
            host,
            (head + f"Content-Length: {draw(st.integers(0, len(chunked)))}\r\n" + te + "\r\n").encode() + chunked,
            True,
        )
    if kind == "te-obfuscated":
        te = draw(st.sampled_from(["Transfer-Encoding: xchunked\r\n", "Transfer-Encoding : chunked\r\n",
                                   "Transfer-Encoding: chunked, identity\r\n", "Transfer-Encoding:\tchunked\r\n"]))  # fmt: skip
        return host, (head + te + "\r\n").encode() + chunked, True
    if kind == "short-cl":  # the rest of the body follows as if it were the next request
        cl = draw(st.integers(0, len(body) - 1))
        return host, (head + f"Content-Length: {cl}\r\n\r\n").encode() + body, True
    if kind == "pipelined":  # a clean request, then a second one carrying the plant on the same connection
        first = json.dumps(template("hello there")).encode()
        one = (head + f"Content-Length: {len(first)}\r\n\r\n").encode() + first
        return host, one + (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body, True
    if kind == "long-cl":  # the client announces more than it sends, then goes away
        return host, (head + f"Content-Length: {len(body) + 100}\r\n\r\n").encode() + body, False
    return host, (head + te + "\r\n").encode() + chunked[: -len(b"0\r\n\r\n")], False  # no last chunk, then gone


def _responses(data: bytes) -> list[tuple[int, str, bytes]]:
    """Parse the HTTP/1.1 responses in data (Content-Length or chunked bodies)."""
    out = []
    while data.startswith(b"HTTP/1.1 "):
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "chunked" in fields.get("transfer-encoding", ""):
            body, rest2 = b"", rest
            while True:
                size_line, sep, rest2 = rest2.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16) if sep else -1
                if size == 0 and b"\r\n" in rest2:
                    rest = rest2.partition(b"\r\n")[2]
                    break
                if size <= 0 or len(rest2) < size + 2:
                    return out  # not all of it yet
                body, rest2 = body + rest2[:size], rest2[size + 2 :]
        else:
            n = int(fields.get("content-length", "0"))
            if len(rest) < n:
                break  # not all of it yet
            body, rest = rest[:n], rest[n:]
        out.append((int(lines[0].split()[1]), fields.get("content-type", ""), body))
        data = rest
    return out


def raw_exchange(proxy_port: int, ca: Path, host: str, port: int, payload: bytes, wait: float) -> tuple[bytes, bool]:
    """CONNECT through the proxy, TLS with guard's CA, send payload; (what came back, whether it was all of it)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=TIMEOUT) as sock:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            got = sock.recv(4096)
            assert got, "the proxy closed the CONNECT"
            reply += got
        assert reply.split(b" ")[1] == b"200", reply
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            tls.sendall(payload)
            tls.settimeout(0.2)
            data, deadline = b"", time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    got = tls.recv(65536)
                except TimeoutError:
                    continue
                except (ssl.SSLError, OSError):
                    return data, True
                if not got:
                    return data, True  # the proxy closed the connection
                data += got
                if payload.count(b"HTTP/1.1\r\n") == len(_responses(data)):
                    return data, True
            return data, False


@settings(SETTINGS, max_examples=30)
@given(case=framed_requests())
def test_when_http_framing_is_chunked_smuggled_or_cut_then_nothing_leaves_unscanned(fuzz, case):
    host, payload, complete = case
    port = fuzz.upstreams[host].port
    payload = payload.replace(b":PORT", b":%d" % port)
    marks = fuzz.marks()
    data, done = raw_exchange(fuzz.guard.port, fuzz.ca, host, port, payload, TIMEOUT if complete else 1.0)
    answers = _responses(data)
    # A complete request is answered (or the connection closed) in bounded time; a cut one may wait for its rest.
    assert done or not complete, f"no answer within {TIMEOUT} s: {data[:200]!r}"
    if not answers:
        fuzz.judge("raw", marks, None, "", b"")
    for status, ctype, body in answers:
        fuzz.judge(HOST_OF[host] if "json" in ctype else "raw", marks, status, ctype, body)
