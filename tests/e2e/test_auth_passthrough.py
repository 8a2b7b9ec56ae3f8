"""A second `guard proxy` with proxy authentication, a trusted identity header, and one guarded host.

Proves: unauthenticated clients are refused; the user name (never the password) reaches the audit
store; hosts not in destinations.yaml are not intercepted (raw TCP: the client sees the upstream's
own certificate); the identity header never reaches the provider.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import anthropic
import bcrypt
import httpx
import pytest
import yaml

from guard.detect.rules import BUNDLED_RULES
from tests.e2e.conftest import GuardProcess, audit_db_bytes, audit_rows, start_guard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "correct-horse-battery-staple"
EMAIL = "bob.martin@gmail.com"


@pytest.fixture(scope="module")
def auth_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-auth")


@pytest.fixture(scope="module")
def auth_guard(auth_home: Path, tls, upstream) -> Iterator[GuardProcess]:
    import shutil

    rules = auth_home / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    doc = yaml.safe_load((rules / "destinations.yaml").read_text())
    doc["public"] = [{"name": "test-anthropic", "hosts": ["127.0.0.1"], "adapter": "anthropic"}]
    (rules / "destinations.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    htpasswd = auth_home / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode() + "\n")
    proc = start_guard(auth_home, rules, tls[0], "--htpasswd", str(htpasswd), "--identity-header", "X-Guard-User",
                       "--no-models")  # fmt: skip
    yield proc
    proc.stop()


def _client(proxy: str, verify: Path) -> httpx.Client:
    return httpx.Client(proxy=proxy, verify=ssl.create_default_context(cafile=str(verify)), trust_env=False, timeout=30)


def test_when_no_credentials_then_proxy_refuses(auth_guard, auth_home, upstream):
    with _client(auth_guard.url, auth_home / "ca" / "mitmproxy-ca-cert.pem") as c, pytest.raises(httpx.ProxyError):
        c.get(f"https://127.0.0.1:{upstream.port}/v1/models")


def test_when_authenticated_then_user_is_audited_and_password_is_nowhere(auth_guard, auth_home, upstream):
    proxy = f"http://alice:{PASSWORD}@127.0.0.1:{auth_guard.port}"
    http = anthropic.DefaultHttpxClient(
        proxy=proxy, verify=ssl.create_default_context(cafile=str(auth_home / "ca" / "mitmproxy-ca-cert.pem")),
        trust_env=False,
    )  # fmt: skip
    model = f"claude-auth-{uuid.uuid4().hex[:8]}"
    with anthropic.Anthropic(base_url=f"https://127.0.0.1:{upstream.port}", api_key="k", http_client=http,
                             max_retries=0, default_headers={"X-Guard-User": "mallory"}) as claude:  # fmt: skip
        msg = claude.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": f"Mail {EMAIL}"}])
    assert msg.content[0].text == f"Echo: Mail {EMAIL}"
    rec = upstream.received[-1]
    assert EMAIL not in rec.body.decode()
    assert "x-guard-user" not in rec.headers and "proxy-authorization" not in rec.headers
    rows = audit_rows(auth_home, model)
    assert rows and rows[0]["identity"] == "alice", "proxy auth wins over a header the client could forge"
    assert PASSWORD.encode() not in audit_db_bytes(auth_home)
    assert PASSWORD not in auth_guard.output()


def test_when_host_is_not_guarded_then_traffic_passes_through_uninspected(auth_guard, tls, upstream):
    before = len(upstream.received)
    proxy = f"http://alice:{PASSWORD}@127.0.0.1:{auth_guard.port}"
    # Trusting only the upstream's own CA: this works only if guard did not intercept TLS.
    with _client(proxy, tls[0]) as c:
        r = c.post(f"https://localhost:{upstream.port}/v1/chat/completions",
                   json={"model": "m", "messages": [{"role": "user", "content": f"Mail {EMAIL}"}]})  # fmt: skip
    assert r.status_code == 200
    assert len(upstream.received) == before + 1
    assert EMAIL in upstream.received[-1].body.decode(), "not a guarded host: forwarded as is"
