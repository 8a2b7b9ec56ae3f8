"""`guard up`: proxy + review UI on the embedded SQLite store, one command, for a first run.

Starts `guard proxy` and `guard ui` as child processes (each runs its own event loop), creates the
first admin with a one-time password, prints what to do next, and stops both on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from guard.config import default_home

START_TIMEOUT_S = 240.0  # detection workers load spaCy before the proxy listens


class StartError(RuntimeError):
    """A child process did not come up; the message carries the end of its output."""


@dataclass
class Child:
    """A guard subprocess whose output is pumped to our stderr with a prefix (and kept for errors)."""

    name: str
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    ready_line: str = ""
    _ready: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(
        cls, name: str, args: list[str], env: dict[str, str], ready_marker: str = "", quiet: bool = False
    ) -> Child:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1)
        child = cls(name, proc)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                child.lines.append(line)
                del child.lines[:-200]
                if ready_marker and ready_marker in line and not child.ready_line:
                    child.ready_line = line
                    child._ready.set()
                elif not quiet:
                    print(f"[{name}] {line}", file=sys.stderr, flush=True)
            child._ready.set()

        threading.Thread(target=pump, daemon=True, name=f"pump-{name}").start()
        return child

    def wait_ready(self, timeout: float) -> str:
        """Wait for the ready line; raise StartError with the output tail if the process ends first."""
        if not self._ready.wait(timeout) or not self.ready_line:
            self.stop()
            tail = "\n".join(self.lines[-25:])
            raise StartError(f"{self.name} did not start (exit status {self.proc.poll()}):\n{tail}")
        return self.ready_line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for children that cannot report the one they chose)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, child: Child | None = None) -> None:
    """Wait until `url` answers 2xx; raise StartError if it does not (or the child exits)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.proc.poll() is not None:
            break
        try:
            with opener.open(url, timeout=2) as resp:  # noqa: S310 - a loopback http URL we built
                if 200 <= resp.status < 300:
                    return
        except OSError:
            time.sleep(0.3)
    tail = "\n".join(child.lines[-25:]) if child else ""
    if child is not None:
        child.stop()
    raise StartError(f"{url} did not answer within {timeout:.0f} s\n{tail}")


def ui_secret(home: Path) -> str:
    """The UI's cookie-signing key: kept in GUARD_HOME/ui-secret (0600), created once."""
    path = home / "ui-secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def ensure_admin(db_url: str, name: str) -> str | None:
    """Create admin `name` with a one-time password when the store has no users; return the password."""
    from sqlmodel import Session

    from audit_ui.accounts import all_users, create
    from guard.audit.store import open_store

    store = open_store(db_url)  # creates and migrates the SQLite file on a first run
    try:
        with Session(store.engine) as s:
            if list(all_users(s)):
                return None
            _, password = create(s, name, "admin", None)
            return password
    finally:
        store.close()


def proxy_args(
    port: int, host: str, rules: Path | None, db: str, no_models: bool, extra: tuple[str, ...] = ()
) -> list[str]:
    """The `guard proxy` command line a launcher runs."""
    args = [sys.executable, "-m", "guard", "proxy", "--port", str(port), "--host", host]
    if rules:
        args += ["--rules", str(rules)]
    if db:
        args += ["--db", db]
    if no_models:
        args.append("--no-models")
    return args + list(extra)


def child_env(home: Path) -> dict[str, str]:
    """Our environment for a child, with GUARD_HOME fixed and no proxy variables (they may point at guard)."""
    env = {**os.environ, "GUARD_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    for k in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        env.pop(k, None)
    return env


def summary(
    proxy: str, ca: Path, ui: str, admin: str, password: str | None, db_url: str, home: Path, metrics: str = ""
) -> str:
    """The "what to do next" block printed once everything runs."""
    from guard.audit.store import redact_url

    who = (
        f"{admin} / one-time password: {password}   (you choose a new one at first sign-in)"
        if password
        else "an account exists already (forgot it? guard users reset-password NAME)"
    )
    metrics_line = f"\n  Metrics       {metrics}   (health: /healthz, /livez)" if metrics else ""
    return f"""
guard is running.

  Proxy         {proxy}        only LLM hosts are inspected; all else passes through
  CA cert       {ca}
                clients must trust it (`guard ca export` shows how for Windows, macOS, Linux, Firefox, Node, Python, Java)
  Review UI     {ui}{metrics_line}
  Admin         {who}
  Audit store   {redact_url(db_url)}
  State         {home}

Next:
  See it work:  guard demo             stand-in LLM, no API key: one prompt allowed, redacted, routed, blocked
  Use it:       HTTPS_PROXY={proxy} SSL_CERT_FILE={ca} python your_app.py
  Company-wide: guard pac --proxy HOST:PORT > proxy.pac   (only LLM hosts go to guard)
  Check:        guard doctor

Stop with Ctrl-C.
""".rstrip()


def up_command(port: int, host: str, ui_port: int, admin: str, rules: Path | None, db: str, no_models: bool) -> int:
    """Run proxy + UI until interrupted; return the exit status."""
    from guard.proxy_cli import export_ca

    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    db_url = db or os.environ.get("GUARD_DATABASE_URL") or f"sqlite:///{home / 'audit.db'}"
    confdir = Path(os.environ.get("GUARD_CONFDIR") or home / "ca")
    _, ca = export_ca(confdir, "pem")  # create the CA now, so its path is real before the proxy runs
    password = ensure_admin(db_url, admin)
    env = child_env(home)
    env["GUARD_CONFDIR"] = str(confdir)
    env.setdefault("GUARD_SECRET_KEY", ui_secret(home))

    children: list[Child] = []

    def stop_all(*_: object) -> None:
        for c in children:
            c.stop()

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        print("guard up: starting the proxy (detection workers load their models first)…", file=sys.stderr, flush=True)
        proxy = Child.start("proxy", proxy_args(port, host, rules, db_url, no_models), env, "guard proxy listening on")
        children.append(proxy)
        listen = proxy.wait_ready(START_TIMEOUT_S).rsplit(" ", 1)[1]
        listen_host, _, listen_port = listen.rpartition(":")
        shown_host = "127.0.0.1" if listen_host in ("", "0.0.0.0", "::") else listen_host  # noqa: S104
        uport = ui_port or free_port()
        ui_args = [sys.executable, "-m", "guard", "ui", "--port", str(uport), "--host", "127.0.0.1", "--db", db_url]
        ui = Child.start("ui", ui_args, env)
        children.append(ui)
        ui_url = f"http://127.0.0.1:{uport}"
        wait_http(ui_url + "/healthz", 60, ui)
        metrics = next(
            (ln.split(" on ", 1)[1].split()[0] for ln in proxy.lines if ln.startswith("guard metrics on ")), ""
        )
        text = summary(f"http://{shown_host}:{listen_port}", ca, ui_url, admin, password, db_url, home, metrics)
        print(text, flush=True)
        while all(c.proc.poll() is None for c in children):
            time.sleep(0.5)
        dead = next(c for c in children if c.proc.poll() is not None)
        print(f"guard up: {dead.name} exited ({dead.proc.returncode}); stopping", file=sys.stderr)
        return 1
    except StartError as exc:
        print(f"guard up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nguard up: stopping", file=sys.stderr)
        return 0
    finally:
        stop_all()
