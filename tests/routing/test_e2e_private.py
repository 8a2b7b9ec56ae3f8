"""route_private end to end: official openai and anthropic SDK clients -> `guard proxy` -> a local
OpenAI-compatible private model, while the public upstream receives nothing. Also: the private
model failing (block with a clear message, or - after a hot-reloaded policy change - redact and send
public)."""

from __future__ import annotations

import json
import os
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import GuardProcess, audit_rows, start_guard, write_rules
from tests.e2e.upstream import Upstream, make_tls
from tests.routing.private_server import PrivateModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET_PLAN = "CONFIDENTIAL - Project Bluefin launch moves to 14 March, budget 2.4M"
EMAIL = "dana.whitfield@gmail.com"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GuardProcess, Upstream, PrivateModel, Path]]:
    home = tmp_path_factory.mktemp("guard-private")
    tls = make_tls(home / "tls")
    upstream = Upstream(tls[1], tls[2]).start()
    private = PrivateModel().__enter__()
    rules = write_rules(home / "rules")
    old = os.environ.get("GUARD_PRIVATE_MODEL")
    os.environ["GUARD_PRIVATE_MODEL"] = "llama-private"  # every client model maps to this one
    try:
        proc = start_guard(home, rules, tls[0], "--private-model", private.url, "--no-models")
    finally:
        os.environ.pop("GUARD_PRIVATE_MODEL") if old is None else os.environ.update(GUARD_PRIVATE_MODEL=old)
    yield proc, upstream, private, home
    proc.stop()
    private.__exit__(None, None, None)
    upstream.stop()


def _verify(home: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(home / "ca" / "mitmproxy-ca-cert.pem"))


@pytest.fixture
def oai(world) -> Iterator[openai.OpenAI]:
    proc, upstream, _, home = world
    http = httpx.Client(proxy=proc.url, verify=_verify(home), trust_env=False, timeout=60)
    yield openai.OpenAI(base_url=f"https://localhost:{upstream.port}/v1", api_key="sk-public-openai-key",
                        http_client=http, max_retries=0)  # fmt: skip
    http.close()


@pytest.fixture
def claude(world) -> Iterator[anthropic.Anthropic]:
    proc, upstream, _, home = world
    http = anthropic.DefaultHttpxClient(proxy=proc.url, verify=_verify(home), trust_env=False)
    client = anthropic.Anthropic(base_url=f"https://127.0.0.1:{upstream.port}", api_key="sk-ant-public-key",
                                 http_client=http, max_retries=0, timeout=60)  # fmt: skip
    yield client
    client.close()


def _model(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _private_got(private: PrivateModel, text: str) -> dict:
    hits = [r for r in private.requests if text in json.dumps(r["body"], ensure_ascii=False)]
    assert len(hits) == 1, "the private model did not get the original prompt exactly once"
    return hits[0]


def _assert_public_got_nothing(upstream: Upstream, model: str) -> None:
    assert model not in upstream.seen() and "Bluefin" not in upstream.seen()


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_confidential_prompt_goes_to_private_model(world, oai, stream: bool) -> None:
    _, upstream, private, home = world
    model = _model("gpt-4o")
    prompt = f"{SECRET_PLAN} ({model})"
    msgs = [{"role": "user", "content": prompt}]
    if stream:
        chunks = list(oai.chat.completions.create(model=model, messages=msgs, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = oai.chat.completions.create(model=model, messages=msgs).choices[0].message.content
    assert text == "echo: " + prompt
    got = _private_got(private, prompt)
    assert got["body"]["model"] == "llama-private" and got["body"].get("stream", False) is stream
    assert "sk-public-openai-key" not in json.dumps(got["headers"])  # the public key never reaches it
    _assert_public_got_nothing(upstream, model)
    row = audit_rows(home, model)[0]
    assert row["action"] == "route_private" and row["route"] == "private"
    assert "marking-en-caps" in row["policy_rules"] and "codenames" in row["policy_rules"]


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_confidential_prompt_goes_to_private_model_in_anthropic_format(
    world, claude, stream: bool
) -> None:
    _, upstream, private, home = world
    model = _model("claude-3-5-sonnet")
    prompt = f"{SECRET_PLAN} ({model})"
    msgs = [{"role": "user", "content": prompt}]
    if stream:
        with claude.messages.stream(model=model, max_tokens=64, messages=msgs) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        assert final.stop_reason == "end_turn"
    else:
        reply = claude.messages.create(model=model, max_tokens=64, system="Be brief.", messages=msgs)
        assert reply.model == model and reply.role == "assistant" and reply.usage.output_tokens == 3
        text = reply.content[0].text
    assert text == "echo: " + prompt
    got = _private_got(private, prompt)
    assert got["path"] == "/v1/chat/completions" and got["body"]["messages"][-1] == {"role": "user", "content": prompt}
    assert "sk-ant-public-key" not in json.dumps(got["headers"])
    _assert_public_got_nothing(upstream, model)
    assert audit_rows(home, model)[0]["route"] == "private"


def test_ordinary_prompt_still_goes_public_redacted(world, oai) -> None:
    _, upstream, private, _ = world
    model = _model("gpt-4o")
    before = len(private.requests)
    text = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": f"Write to {EMAIL}"}])
    assert EMAIL in text.choices[0].message.content  # restored in the reply
    assert model in upstream.seen() and EMAIL not in upstream.seen()
    assert len(private.requests) == before


def test_private_model_down_blocks_with_clear_message_then_policy_reload_falls_back_to_redact(
    world, oai, claude
) -> None:
    proc, upstream, private, home = world
    private.status = 503
    try:
        model = _model("gpt-4o")
        with pytest.raises(openai.APIStatusError) as err:
            oai.chat.completions.create(model=model, messages=[{"role": "user", "content": SECRET_PLAN}])
        assert "private model" in err.value.message and "not responding" in err.value.message
        with pytest.raises(anthropic.APIStatusError, match="not responding"):
            claude.messages.create(
                model=_model("claude"), max_tokens=8, messages=[{"role": "user", "content": SECRET_PLAN}]
            )
        _assert_public_got_nothing(upstream, model)
        assert "private-model-unavailable" in audit_rows(home, model)[0]["policy_rules"]

        # Hot reload: the security team switches the fallback to redact-and-send-public.
        policy = home / "rules" / "policy.yaml"
        original = policy.read_text()
        policy.write_text(original.replace("on_private_unavailable: block", "on_private_unavailable: redact"))
        try:
            deadline = time.time() + 20
            prompt = f"{SECRET_PLAN}; reply to {EMAIL}"
            while True:
                model = _model("gpt-4o")  # one per attempt: its audit row is that attempt's
                try:
                    reply = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
                    break
                except openai.APIStatusError:
                    assert time.time() < deadline, "policy reload did not take effect"
                    time.sleep(0.5)
            assert EMAIL in reply.choices[0].message.content
            assert model in upstream.seen() and EMAIL not in upstream.seen()  # redacted, sent public
            assert "private-unavailable-redact" in audit_rows(home, model)[0]["policy_rules"]
        finally:
            policy.write_text(original)
    finally:
        private.status = 200


def test_monitor_mode_records_the_decision_but_forwards_unchanged(world, oai) -> None:
    _, upstream, private, home = world
    policy = home / "rules" / "policy.yaml"
    original = policy.read_text()
    policy.write_text(original.replace("  monitor: false", "  monitor: true"))
    try:
        deadline = time.time() + 20
        while True:  # until the proxy has reloaded the policy (it checks every second)
            model = _model("gpt-4o")
            prompt = f"{SECRET_PLAN} ({model})"
            before = len(private.requests)
            oai.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
            if model in upstream.seen():
                break
            assert time.time() < deadline, "monitor mode did not take effect"
            time.sleep(0.5)
        assert prompt in upstream.seen()  # not enforced: the public upstream got the prompt as sent
        assert len(private.requests) == before
        row = audit_rows(home, model)[0]
        assert row["monitor"] and row["action"] == "route_private" and "marking-en-caps" in row["policy_rules"]
    finally:
        policy.write_text(original)
        time.sleep(1.5)  # let the proxy reload the enforcing policy before other tests run
