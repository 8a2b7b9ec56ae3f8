"""`guard demo`: every feature in a minute, offline, without an API key.

Starts a stand-in LLM (guard.demo_llm, TLS with its own throwaway CA), a guard proxy whose rules
treat the stand-in as a public provider plus a private model, and sends four realistic prompts
through the proxy with the official openai and anthropic SDKs: one allowed, one redacted and
restored, one routed to the private model, one blocked. It prints what each side saw, links the
audit events in the review UI, and exits 1 if any of the four did not behave as described.
"""

from __future__ import annotations

import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from guard.config import default_home
from guard.demo_llm import Received, StandInLLM
from guard.detect.rules import BUNDLED_RULES
from guard.events import load_fingerprint_key
from guard.testca import issue_server_cert
from guard.up import START_TIMEOUT_S, Child, StartError, child_env, proxy_args, wait_http

NAME, EMAIL, PHONE = "Maria Gonzalez", "maria.gonzalez@gmail.com", "+44 20 7946 0958"
TOKEN = "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"  # a made-up GitHub token of the real format


@dataclass
class Scenario:
    title: str
    sdk: str  # openai | anthropic
    model: str
    prompt: str
    expect: str  # the action guard should take
    stream: bool = False
    sensitive: tuple[str, ...] = ()


SCENARIOS = (
    Scenario("Allowed: an ordinary question", "openai", "gpt-4o-mini",
             "In two sentences: when does a modular monolith beat microservices?", "allow"),
    Scenario("Redacted and restored: personal data (streamed)", "anthropic", "claude-3-5-haiku-latest",
             f"Draft a two-line reply to {NAME} ({EMAIL}, {PHONE}) confirming her refund.", "redact",
             stream=True, sensitive=(NAME, EMAIL, PHONE)),
    Scenario("Routed to the company's private model: a CONFIDENTIAL document", "openai", "gpt-4o",
             "CONFIDENTIAL - Q3 board pack. Summarize for the board: enterprise churn rose from 2.1% to 3.4%.",
             "route_private"),
    Scenario("Blocked: a credential", "openai", "gpt-4.1-mini",
             f"Our CI fails with 'Bad credentials'. The workflow sets GITHUB_TOKEN={TOKEN}. What is wrong?",
             "block", sensitive=(TOKEN,)),
)  # fmt: skip


@dataclass
class Outcome:
    scenario: Scenario
    ok: bool
    lines: list[str] = field(default_factory=list)


def write_demo_rules(dest: Path, source: Path | None, port: int, ca: Path) -> Path:
    """Copy the rules; the stand-in becomes a public provider and a private model; secrets are blocked."""
    shutil.copytree(source or BUNDLED_RULES, dest)
    dpath = dest / "destinations.yaml"
    dests = yaml.safe_load(dpath.read_text(encoding="utf-8")) or {}
    dests["public"] = list(dests.get("public") or []) + [
        {"name": "demo-openai", "hosts": ["localhost"], "adapter": "openai"},
        {"name": "demo-anthropic", "hosts": ["127.0.0.1"], "adapter": "anthropic"},
    ]
    dests["private"] = [{"name": "demo-private", "url": f"https://localhost:{port}/private/v1",
                         "default_model": "company-llm", "ca_file": str(ca)}]  # fmt: skip
    dpath.write_text(yaml.safe_dump(dests, sort_keys=False), encoding="utf-8")
    ppath = dest / "policy.yaml"
    if ppath.exists():
        doc = yaml.safe_load(ppath.read_text(encoding="utf-8"))
        doc["policy"]["categories"]["secret"] = "block"  # the demo's policy: credentials never leave
        ppath.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dest


def clients(proxy_url: str, guard_ca: Path, port: int) -> dict[str, Callable[[Scenario], str]]:
    """One call per SDK, each going through guard and trusting guard's CA, as a company's apps do."""
    import anthropic
    import openai

    # Each SDK brings its own HTTP client class; both go through guard and trust guard's CA.
    def via_guard(sdk: object) -> object:
        verify = ssl.create_default_context(cafile=str(guard_ca))
        return sdk.DefaultHttpxClient(proxy=proxy_url, verify=verify, trust_env=False, timeout=60)  # type: ignore[attr-defined]

    oa = openai.OpenAI(
        api_key="demo-key", base_url=f"https://localhost:{port}/v1", http_client=via_guard(openai), max_retries=0
    )
    an = anthropic.Anthropic(
        api_key="demo-key", base_url=f"https://127.0.0.1:{port}", http_client=via_guard(anthropic), max_retries=0
    )

    def call_openai(s: Scenario) -> str:
        r = oa.chat.completions.create(model=s.model, messages=[{"role": "user", "content": s.prompt}])
        return r.choices[0].message.content or ""

    def call_anthropic(s: Scenario) -> str:
        with an.messages.stream(model=s.model, max_tokens=300, messages=[{"role": "user", "content": s.prompt}]) as st:
            return "".join(st.text_stream)

    return {"openai": call_openai, "anthropic": call_anthropic}


def judge(s: Scenario, reply: str | None, error: str, seen: list[Received]) -> Outcome:
    """Compare what happened with what the scenario promises; describe both sides."""
    public = [r for r in seen if not r.private]
    private = [r for r in seen if r.private]
    out = Outcome(s, False, [f"prompt:        {s.prompt}"])
    if public:
        out.lines.append(f"public model:  received {public[0].user_text()!r}")
    if private:
        out.lines.append(f"private model: received {private[0].user_text()!r}")
    if not seen:
        out.lines.append("models:        received nothing")
    out.lines.append(f"your app got:  {reply!r}" if error == "" else f"your app got:  an error: {error}")
    if s.expect == "allow":
        out.ok = len(public) == 1 and public[0].user_text() == s.prompt and s.prompt in (reply or "") and not private
    elif s.expect == "redact":
        upstream = public[0].user_text() if len(public) == 1 else ""
        out.ok = bool(upstream) and not any(v in upstream for v in s.sensitive) and "[" in upstream
        out.ok = out.ok and all(v in (reply or "") for v in s.sensitive) and not private
    elif s.expect == "route_private":
        out.ok = not public and len(private) == 1 and private[0].user_text() == s.prompt
    elif s.expect == "block":
        out.ok = not seen and bool(error) and not any(v in error for v in s.sensitive)
    return out


def audit_links(db_url: str, since: float, ui: str, timeout: float = 30.0) -> list[str]:
    """`action  URL` lines for the audit events recorded since `since` (the writer is asynchronous)."""
    from datetime import UTC, datetime

    from sqlmodel import Session, col, select

    from guard.audit.models import AuditEventRow
    from guard.audit.store import open_store

    start = datetime.fromtimestamp(since, UTC).replace(tzinfo=None)
    store = open_store(db_url, migrate_schema=False)
    try:
        deadline = time.monotonic() + timeout
        rows: list[AuditEventRow] = []
        while time.monotonic() < deadline and len(rows) < len(SCENARIOS):
            with Session(store.engine) as s:
                q = select(AuditEventRow).where(col(AuditEventRow.model).in_([x.model for x in SCENARIOS]))
                rows = [r for r in s.exec(q.order_by(col(AuditEventRow.seq))) if _naive(r.time) >= start]
            time.sleep(0.3)
        return [f"{r.action:<14} {r.model:<24} {ui}/events/{r.event_id}" for r in rows]
    finally:
        store.close()


def _naive(t: object) -> object:
    return t.replace(tzinfo=None) if getattr(t, "tzinfo", None) else t  # type: ignore[union-attr]


def demo_command(ui: str, rules: Path | None, db: str, no_models: bool) -> int:
    """Run the four scenarios through a fresh proxy; return 0 if all behaved as described."""
    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    db_url = db or f"sqlite:///{home / 'audit.db'}"
    from guard.audit.store import open_store

    open_store(db_url).close()  # create / migrate, so the proxy and the UI agree on the schema
    work = Path(tempfile.mkdtemp(prefix="guard-demo-"))
    proxy: Child | None = None
    llm: StandInLLM | None = None
    try:
        tls = issue_server_cert(work / "tls")
        llm = StandInLLM(tls.cert, tls.key).start()
        demo_rules = write_demo_rules(work / "rules", rules, llm.port, tls.ca)
        print(f"guard demo: stand-in LLM on https://127.0.0.1:{llm.port} (its own test CA); starting a guard proxy…",
              file=sys.stderr, flush=True)  # fmt: skip
        # The demo's proxy has a home of its own (a running `guard up` proxy holds GUARD_HOME's audit
        # spool), writes to the same audit store and fingerprints with the same key as the main one.
        demo_home = work / "home"
        demo_home.mkdir()
        load_fingerprint_key(home)
        shutil.copy2(home / "fingerprint.key", demo_home / "fingerprint.key")
        extra = ("--upstream-ca", str(tls.ca), "--workers", "1", "--metrics-port", "0")
        args = proxy_args(0, "127.0.0.1", demo_rules, db_url, no_models, extra)
        env = child_env(demo_home)
        env.pop("GUARD_CONFDIR", None)
        proxy = Child.start("proxy", args, env, "guard proxy listening on", quiet=True)
        proxy_url = "http://" + proxy.wait_ready(START_TIMEOUT_S).rsplit(" ", 1)[1]
        guard_ca = demo_home / "ca" / "mitmproxy-ca-cert.pem"
        call = clients(proxy_url, guard_ca, llm.port)
        since = time.time() - 1
        outcomes = []
        for s in SCENARIOS:
            before = len(llm.received)
            reply, error = None, ""
            try:
                reply = call[s.sdk](s)
            except Exception as exc:  # noqa: BLE001 - an SDK error is the block the user should see
                error = f"{exc.__class__.__name__}: {getattr(exc, 'message', exc)}"
            outcomes.append(judge(s, reply, error, llm.since(before)))
        print(report(outcomes, audit_links(db_url, since, ui), ui, proxy_url))
        return 0 if all(o.ok for o in outcomes) else 1
    except StartError as exc:
        print(f"guard demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if proxy is not None:
            proxy.stop()
        if llm is not None:
            llm.stop()
        shutil.rmtree(work, ignore_errors=True)


def report(outcomes: list[Outcome], links: list[str], ui: str, proxy_url: str) -> str:
    """The demo's printed story."""
    out = [f"\nguard demo: four prompts through guard ({proxy_url}) with the official SDKs\n"]
    for i, o in enumerate(outcomes, 1):
        mark = "as expected" if o.ok else f"NOT AS EXPECTED (wanted {o.scenario.expect})"
        out.append(f"{i}. {o.scenario.title}  [{o.scenario.sdk} SDK, {o.scenario.model}] - {mark}")
        out += [f"   {line}" for line in o.lines] + [""]
    try:
        wait_http(ui + "/healthz", 2)
        where = f"In the review UI ({ui}; sign in with the admin account `guard up` printed):"
    except StartError:
        where = f"In the review UI (not running at {ui}: start it with `guard up`, then open):"
    out.append(where if links else "The audit events were not found in the store (see `guard doctor`).")
    out += [f"   {line}" for line in links]
    ok = sum(o.ok for o in outcomes)
    out.append(f"\n{ok} of {len(outcomes)} scenarios behaved as described.")
    return "\n".join(out)
