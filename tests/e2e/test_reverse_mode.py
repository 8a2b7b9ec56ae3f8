"""`guard proxy --mode reverse:URL`: a gateway; clients change their base URL instead of trusting a CA."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import start_guard, write_rules

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EMAIL = "olga.berg@gmail.com"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, tls, upstream):
    home = tmp_path_factory.mktemp("guard-reverse")
    proc = start_guard(home, write_rules(home / "rules"), tls[0], "--mode", f"reverse:https://localhost:{upstream.port}",
                       "--no-models")  # fmt: skip
    yield proc
    proc.stop()


def test_when_client_uses_guard_as_base_url_then_requests_are_redacted_and_restored(gateway, upstream):
    http = httpx.Client(trust_env=False, timeout=60)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-test", max_retries=0, http_client=http)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"Mail {EMAIL}"}])
    assert reply.choices[0].message.content == f"Echo: Mail {EMAIL}"
    assert EMAIL not in upstream.received[-1].body.decode()
    assert "[EMAIL_1]" in upstream.received[-1].body.decode()
