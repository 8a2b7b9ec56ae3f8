"""Scaling out: two `guard proxy` processes behind a round-robin TCP balancer share one CA, one
PostgreSQL and one rules directory; one conversation's turns alternate between them, and the
placeholders stay consistent and are restored (the vault numbers by first appearance in the
resent history, so the processes need no shared state)."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import time

import openai
import pytest
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session, select

from guard.audit.models import AuditEventRow
from guard.audit.store import open_store
from guard.proxy_cli import export_ca
from tests.e2e.conftest import start_guard, write_rules
from tests.e2e.upstream import Upstream, make_tls

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.postgres]
JANE, PHONE, OMAR = "jane.roe@gmail.com", "+1 415 555 0134", "omar.haddad@outlook.com"
TURNS = [
    f"Please email {JANE} about the overdue invoice.",
    f"Also call her on {PHONE}, and cc {JANE} on the reminder.",
    f"Forward the thread to {OMAR} as well.",
    "Summarize who we contacted and how.",
]


class RoundRobin:
    """A TCP balancer on loopback: each new connection goes to the next backend in turn."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.picks: list[int] = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = len(self.picks) % len(self.backends)
        self.picks.append(i)
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.backends[i])
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def placeholders(text: str) -> list[str]:
    return re.findall(r"\[[A-Z]+_\d+\]", text)


def test_when_turns_alternate_between_two_proxies_then_placeholders_agree_and_are_restored(tmp_path, pg_url):
    ca, cert, key = make_tls(tmp_path / "tls")
    upstream = Upstream(cert, key).start()
    rules = write_rules(tmp_path / "rules")  # one rules directory
    confdir = tmp_path / "shared-ca"
    _, guard_ca = export_ca(confdir, "pem")  # one CA, created once before the fleet starts
    shared = ("--confdir", str(confdir), "--db", pg_url, "--no-models")  # one PostgreSQL
    procs = [start_guard(tmp_path / f"home-{n}", rules, ca, *shared) for n in "ab"]
    lb = RoundRobin([p.port for p in procs])
    try:
        history: list[dict[str, str]] = []
        seen_upstream: list[str] = []
        replies: list[str] = []
        resent: list[str] = []
        for turn in TURNS:
            history.append({"role": "user", "content": turn})
            # A fresh connection per turn, as separate requests from a chat UI may be: the balancer
            # sends it to the other process.
            http = openai.DefaultHttpxClient(proxy=f"http://127.0.0.1:{lb.port}", trust_env=False, timeout=60,
                                             verify=ssl.create_default_context(cafile=str(guard_ca)))  # fmt: skip
            client = openai.OpenAI(base_url=f"https://localhost:{upstream.port}/v1", api_key="sk-test-not-a-secret",
                                   http_client=http, max_retries=0)  # fmt: skip
            before = len(upstream.received)
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=history).choices[0].message.content
            http.close()
            [got] = upstream.received[before:]
            sent = [m["content"] for m in got.json["messages"]]
            # The resent history is redacted exactly as the other process redacted it a turn ago.
            assert sent[: len(resent)] == resent
            resent = sent
            seen_upstream.append(sent[-1])
            history.append({"role": "assistant", "content": reply})
            replies.append(reply)
        assert lb.picks == [0, 1, 0, 1], "each turn must land on the other process"
        # The public model never saw a value, in any turn or any resent message.
        everything = upstream.seen()
        for value in (JANE, PHONE, OMAR):
            assert value not in everything
        # Same value -> same placeholder across processes; different values -> different ones.
        jane = placeholders(seen_upstream[0])
        assert len(jane) == 1
        assert jane[0] in placeholders(seen_upstream[1])  # cc'd again on turn 2, on the other process
        phone = [p for p in placeholders(seen_upstream[1]) if p != jane[0]]
        omar = placeholders(seen_upstream[2])
        assert len(phone) == 1 and len(omar) == 1 and omar[0] not in (jane[0], phone[0])
        # Every process restored the reply: the app sees real values, never a placeholder.
        assert JANE in replies[0] and PHONE in replies[1] and JANE in replies[1] and OMAR in replies[2]
        assert not any(placeholders(r) for r in replies)
        # Both processes audited into the one database, under one conversation.
        store = open_store(pg_url, migrate_schema=False)
        deadline = time.monotonic() + 20
        rows: list = []
        while len(rows) < 4 and time.monotonic() < deadline:  # the audit writer is asynchronous
            try:
                with Session(store.engine) as db:
                    rows = list(db.exec(select(AuditEventRow).where(AuditEventRow.model == "gpt-4o-mini")))
            except ProgrammingError:  # the writers create the schema on their first write
                rows = []
            time.sleep(0.3)
        store.close()
        rows = [(r.action, r.conversation_id) for r in rows]
        assert len(rows) == 4 and len({r[1] for r in rows}) == 1
    finally:
        lb.stop()
        for p in procs:
            p.stop()
        upstream.stop()
