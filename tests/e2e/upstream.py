"""A local TLS "LLM provider" for end-to-end tests: records what it receives, echoes it back.

It speaks enough of the OpenAI chat/completions and Anthropic messages wire formats for the official
SDKs: JSON and SSE replies (sent with HTTP/1.1 chunked encoding, events split mid-JSON into several
chunks and text split into 3-character deltas, so placeholders arrive split across events), and
tool calls whose arguments echo the prompt.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PIECE = 3  # characters per streamed delta
# Loopback addresses the server certificate covers: tests map each to another adapter (Linux routes all 127/8).
LOOPBACK_IPS = tuple(f"127.0.0.{i}" for i in range(1, 8))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """Create a test CA and a server certificate for localhost / 127.0.0.1; return (ca, cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "guard test upstream CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS)]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "upstream-ca.pem", directory / "upstream.pem", directory / "upstream.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    out = []
    for part in content or []:
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            elif "content" in part:
                out.append(_text_of(part["content"]))
    return " ".join(out)


def last_user_text(body: dict[str, Any]) -> str:
    """The text the fake model answers to: the last user (or tool) message."""
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") in ("user", "tool"):
            return _text_of(msg.get("content"))
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _read_body(self) -> bytes:
        """Read a Content-Length or chunked (RFC 9112 section 7.1) request body, as real APIs accept both."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_POST(self) -> None:
        body = self._read_body()
        rec = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        self.server.received.append(rec)
        try:
            req = json.loads(body)
        except ValueError:
            return self._json(400, {"error": {"message": "upstream: bad json"}})
        try:
            self._answer(req)
        except (AttributeError, TypeError):  # a body of another shape (fuzzing): refuse it as an API would
            self._json(400, {"error": {"message": "upstream: unexpected body shape"}})

    def do_PUT(self) -> None:
        """A blob store's upload (ChatGPT web PUTs files to its blob host): record the bytes, answer 201."""
        body = self._read_body()
        self.server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(201)
        self.send_header("content-length", "0")
        self.end_headers()

    def _answer(self, req: Any) -> None:
        echo = "Echo: " + last_user_text(req)
        tool = bool(req.get("tools")) and not any(m.get("role") == "tool" for m in req.get("messages", []))
        if self.path.startswith("/v1/chat/completions"):
            if req.get("stream"):
                return self._sse(openai_events(req.get("model", ""), echo, tool, bool(req.get("stream_options"))))
            return self._json(200, openai_reply(req.get("model", ""), echo, tool))
        if self.path.startswith("/v1/messages"):
            tool = bool(req.get("tools")) and not _has_tool_result(req)
            if req.get("stream"):
                return self._sse(anthropic_events(req.get("model", ""), echo, tool))
            return self._json(200, anthropic_reply(req.get("model", ""), echo, tool))
        return self._json(404, {"error": {"message": "upstream: unknown path"}})

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for ev in events:
            half = len(ev) // 2  # split every event mid-JSON: arbitrary chunk boundaries
            for part in (ev[:half], ev[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _has_tool_result(req: dict[str, Any]) -> bool:
    for m in req.get("messages", []):
        if isinstance(m.get("content"), list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in m["content"]
        ):
            return True
    return False


def _pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)]


def _data(obj: Any, event: str = "") -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(obj)}\n\n".encode()


def openai_reply(model: str, text: str, tool: bool) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if tool:
        msg = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": json.dumps({"query": text})}}]}  # fmt: skip
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if tool else "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}  # fmt: skip


def openai_events(model: str, text: str, tool: bool, usage: bool) -> list[bytes]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    out = [
        _data({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
    ]
    if tool:
        args = json.dumps({"query": text})
        out.append(_data({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1",
                   "type": "function", "function": {"name": "lookup", "arguments": ""}}]}, "finish_reason": None}]}))  # fmt: skip
        for p in _pieces(args):
            out.append(_data({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                       "function": {"arguments": p}}]}, "finish_reason": None}]}))  # fmt: skip
    else:
        for p in _pieces(text):
            out.append(_data({**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}))
    out.append(
        _data({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if tool else "stop"}]})
    )
    if usage:
        out.append(
            _data({**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
        )
    out.append(b"data: [DONE]\n\n")
    return out


def anthropic_reply(model: str, text: str, tool: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if tool:
        block = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"query": text}}
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [block],
            "stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 13, "output_tokens": 9}}  # fmt: skip


def anthropic_events(model: str, text: str, tool: bool) -> list[bytes]:
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
           "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 13, "output_tokens": 1}}  # fmt: skip
    out = [_data({"type": "message_start", "message": msg}, "message_start")]
    if tool:
        start = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(json.dumps({"query": text}))]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _pieces(text)]
    out.append(_data({"type": "content_block_start", "index": 0, "content_block": start}, "content_block_start"))
    out += [_data({"type": "content_block_delta", "index": 0, "delta": d}, "content_block_delta") for d in deltas]
    out.append(_data({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    out.append(_data({"type": "message_delta", "delta": {"stop_reason": "tool_use" if tool else "end_turn",
               "stop_sequence": None}, "usage": {"output_tokens": 9}}, "message_delta"))  # fmt: skip
    out.append(_data({"type": "message_stop"}, "message_stop"))
    return out


class Upstream(ThreadingHTTPServer):
    """The TLS server on 127.0.0.1 (or another loopback address) with a free port; `received` lists every request it got."""

    daemon_threads = True

    def __init__(self, cert: Path, key: Path, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.received: list[Received] = []
        self.handshake_errors: list[str] = []  # server-side TLS failures, for a test's failure message
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        # The handshake runs in each connection's own thread, not in accept(): one slow or failing
        # client then never holds up or drops the others.
        self.socket = ctx.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.handshake_errors.append(f"{type(exc).__name__}: {exc}")
            return
        super().finish_request(request, client_address)

    def start(self) -> Upstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def seen(self) -> str:
        """Everything the upstream received (paths, headers, bodies) as one string, for leak checks."""
        return "\n".join(f"{r.path} {r.headers} {r.body.decode('utf-8', 'replace')}" for r in self.received)
