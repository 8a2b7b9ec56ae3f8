"""`guard up` from nothing: proxy + UI running, CA written, first admin can sign in, Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from guard.up import ensure_admin, summary

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Up:
    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env["GUARD_HOME"] = str(home)
        env.pop("GUARD_DATABASE_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guard", "up", "--port", "0", "--ui-port", "0", "--no-models"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, cwd=home.parent,
        )  # fmt: skip
        self.out: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        if not self.ready.wait(240):
            self.stop()
            raise AssertionError("guard up did not print its summary:\n" + "\n".join(self.out))

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.out.append(line.rstrip("\n"))
            if line.startswith("Stop with Ctrl-C"):
                self.ready.set()
        self.ready.set()

    def field(self, label: str) -> str:
        line = next(line for line in self.out if line.strip().startswith(label))
        return line.strip()[len(label) :].strip()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(5)


def sign_in(ui: str, name: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=ui, trust_env=False, timeout=30) as c:
        token = CSRF.search(c.get("/login").text).group(1)
        return c.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"})


def echo_server() -> tuple[socket.socket, int]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(conn.recv(1024))

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def test_when_guard_up_runs_on_a_fresh_home_then_everything_it_prints_works(tmp_path):
    home = tmp_path / "var"
    up = Up(home)
    try:
        proxy, ca, ui = up.field("Proxy").split()[0], Path(up.field("CA cert")), up.field("Review UI")
        admin = up.field("Admin")
        assert "sqlite:///" in up.field("Audit store")
        # The CA clients must trust exists and is the one the proxy signs with.
        assert ca == home / "ca" / "mitmproxy-ca-cert.pem" and ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        # The proxy is a working forward proxy: an unguarded host passes through untouched.
        srv, port = echo_server()
        host, pport = proxy.removeprefix("http://").split(":")
        with socket.create_connection((host, int(pport)), timeout=10) as s:
            s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert b" 200 " in s.recv(1024).split(b"\r\n")[0] + b" "
            s.sendall(b"ping")
            assert s.recv(4) == b"ping"
        srv.close()
        # The first admin signs in with the one-time password printed; a wrong one is refused.
        m = re.match(r"(\S+) / one-time password: (\S+)", admin)
        assert m, admin
        assert sign_in(ui, m.group(1), m.group(2)).status_code == 303
        assert sign_in(ui, m.group(1), m.group(2) + "x").status_code == 401
    finally:
        assert up.stop() == 0
    # Ctrl-C stopped both children: nothing listens on the proxy or UI port any more.
    time.sleep(0.5)
    for url in (proxy, ui):
        h, p = url.removeprefix("http://").split(":")
        with pytest.raises(OSError), socket.create_connection((h, int(p)), timeout=2):
            pass
    # A second run keeps the account and says so instead of printing a new password (checked on the
    # same store without starting everything again: the start-up path is the one above).
    db_url = f"sqlite:///{home / 'audit.db'}"
    assert ensure_admin(db_url, "admin") is None
    text = summary("http://127.0.0.1:8080", ca, ui, "admin", None, db_url, home)
    assert "one-time password" not in text and "reset-password" in text
