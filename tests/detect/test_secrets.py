"""Credential detectors: what they find, the span they report, and what they leave alone."""

from __future__ import annotations

import time

import pytest

from guard.detect.engine import Engine
from guard.detect.rules import load_detectors
from guard.detect.secretcheck import jwt, not_placeholder, password_like, secret_like

RULES = load_detectors()
SECRET_RULES = [r for r in RULES if r.category == "secret"]
ENGINE = Engine(RULES)


def _secrets(text: str) -> list[str]:
    return [text[f.start : f.end] for f in ENGINE.scan(text) if f.category == "secret"]


# (text, the exact secret value a redactor must hide). Values are made up for these tests.
FOUND = [
    ("aws_access_key_id=AKIAQ3EGV6NB2XKPLR7T", "AKIAQ3EGV6NB2XKPLR7T"),
    ('aws_secret_access_key = "h5Tq/9wZ+Lm3Kd8Rp2Xv7Nc4Bf6Gy1Js0Ae5Uo3I"', "h5Tq/9wZ+Lm3Kd8Rp2Xv7Nc4Bf6Gy1Js0Ae5Uo3I"),
    ("export GH_TOKEN=ghp_Xq7Lm2Pz9Kd4Rt6Wv1Bn8Cy3Fh5Js0Ga2Ue7", "ghp_Xq7Lm2Pz9Kd4Rt6Wv1Bn8Cy3Fh5Js0Ga2Ue7"),
    ("token glpat-Rk2mX9qLp4Zt7Wv1Bn8C in CI", "glpat-Rk2mX9qLp4Zt7Wv1Bn8C"),
    (
        "SLACK_WEBHOOK=https://hooks.slack.com/services/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",
        "https://hooks.slack.com/services/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",
    ),
    ("stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc here", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("DATABASE_URL=postgres://app:Vq8#mZ2rLx@db.internal:5432/crm", "Vq8#mZ2rLx"),
    ("mongodb+srv://svc:Tr0ub4dor3xK@cluster0.abcde.mongodb.net/app", "Tr0ub4dor3xK"),
    ("Server=sql01;Database=crm;User Id=app;Password=Kx7!pQ2vLm9;", "Kx7!pQ2vLm9"),
    ('db_password = "Hs83!kdPq2"', "Hs83!kdPq2"),
    ("DB_PASSWORD=Zr9fQ2xLp7Wm", "Zr9fQ2xLp7Wm"),
    ('{"api_key": "f3b9c2a17d4e8b6a0c5d9e2f1a7b3c8d"}', "f3b9c2a17d4e8b6a0c5d9e2f1a7b3c8d"),
    ("client_secret: 9Fq2LxW7pZr4Kt1VnB8mC3yH6dJs0GaE", "9Fq2LxW7pZr4Kt1VnB8mC3yH6dJs0GaE"),
    ("the staging password is Maple7731& and the VPN is up", "Maple7731&"),
    ("I set the router password to kRt9#vLm2Q, is that strong?", "kRt9#vLm2Q"),
    ("测试库的密码是Qw8#zLp2Vm，请保密。", "Qw8#zLp2Vm"),
    ("生产环境的API密钥是Zt7Wv1Bn8Cy3Fh5Js0Ga2Ue7IXq7Lm2Pz，请轮换。", "Zt7Wv1Bn8Cy3Fh5Js0Ga2Ue7IXq7Lm2Pz"),
    ("mysql -h db -u root -p'Lk3#vQ9zRt' shop", "Lk3#vQ9zRt"),
    (
        "钉钉机器人 https://oapi.dingtalk.com/robot/send?access_token=" + "7f3a9c" * 10 + "e1b2 发送失败",
        "https://oapi.dingtalk.com/robot/send?access_token=" + "7f3a9c" * 10 + "e1b2",
    ),
    ("the API wants Bearer Zt7Wv1Bn8Cy3Fh5Js0Ga2Ue7IXq7Lm2 but says 401", "Zt7Wv1Bn8Cy3Fh5Js0Ga2Ue7IXq7Lm2"),
    ("PGPASSWORD=Hn4$wq8Lz psql -h db -U app", "Hn4$wq8Lz"),
    ("the wifi passphrase is GreenTea#2291", "GreenTea#2291"),
    ("curl -u deploy:Pq7Lm2Zx9Kd https://api.example.org/", "Pq7Lm2Zx9Kd"),
    (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0NzExIiwicm9sZSI6ImFkbWluIn0."
        "k2Vx8Lq9Zr4Tm7Wp1Bn3Cy5Fh0Js6Ga2Ue8IoQd",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0NzExIiwicm9sZSI6ImFkbWluIn0."
        "k2Vx8Lq9Zr4Tm7Wp1Bn3Cy5Fh0Js6Ga2Ue8IoQd",
    ),
]


@pytest.mark.parametrize(("text", "value"), FOUND)
def test_when_text_holds_a_credential_then_the_finding_covers_exactly_the_value(text, value):
    assert value in _secrets(text)


def test_when_a_private_key_block_is_pasted_then_the_whole_block_is_one_finding():
    body = "\n".join(["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDQ8x3Kp2Lm9Zr4"] * 4)
    block = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"
    assert _secrets(f"why is this rejected?\n{block}\nthanks") == [block]


CLEAN = [
    "API_KEY=<your-key>\nDB_PASSWORD=changeme\nPORT=8080",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    'api_key = "YOUR_API_KEY"',
    "password: ${DB_PASSWORD}",
    'token = "{{ vault_token }}"',
    "postgres://user:password@localhost:5432/db",
    "Explain this checksum: sha256:389950d8e6c4cd307a3f73dcddd5d67305db63daf7091212791b0eed0ef863fb",
    "What does `git rebase -i 03423bc1da29eea9c85f46c4f789690670ff1af2` do?",
    "id: UUID = b226712a-e2e0-7bc1-a5ec-b7f5102745d7",
    "self.password = password\ntoken = self._tokens[0]\nsecret_length = X25519.secret_length",
    "max_tokens: 4096\nnum_tokens = len(tokens)\ncsrf_token = request.cookies.get('csrf')",
    "The password is incorrect. Please reset your password to something memorable.",
    "请输入密码：",
    "publicKey = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE'",
    'password_hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"',
    "if passwd is None:\n    $pass = !$pass;",
]


@pytest.mark.parametrize("text", CLEAN)
def test_when_text_holds_placeholders_hashes_or_code_then_no_secret_is_reported(text):
    assert _secrets(text) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("YOUR_API_KEY", False), ("changeme", False), ("xxxxxxxxxxxx", False), ("<token>", False),
     ("${VAR}", False), ("Hs83!kdPq2", True)],
)  # fmt: skip
def test_placeholder_check_rejects_documentation_values(value, expected):
    assert not_placeholder(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("f3b9c2a17d4e8b6a0c5d9e2f1a7b3c8d", True), ("getPagesInConfluenceSpace", False),
     ("settings.SECRET_KEY", False), ("prod-db-01", False), ("1.2.3", False)],
)  # fmt: skip
def test_secret_like_separates_keys_from_identifiers(value, expected):
    assert secret_like(value) is expected


def test_password_like_rejects_single_words_and_paths():
    assert not password_like("incorrect")
    assert not password_like("/home/alice")
    assert password_like("Maple7731&")


def test_jwt_check_needs_a_json_header():
    assert jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
    assert not jwt("eyJhbasdGciOi.eyJzdWIiOiIxIn0.c2ln")


def test_secret_catalog_covers_at_least_sixty_credential_detectors():
    assert len(SECRET_RULES) >= 60
    assert all(r.keywords for r in SECRET_RULES if r.id not in {"discord-bot-token"})


ADVERSARIAL = [
    "a" * 50_000,
    "=" * 50_000,
    ("A1b2+/" * 9_000)[:50_000],
    "password=" * 6_000,
    "token: " * 7_000,
    "-----BEGIN PRIVATE KEY-----\n" + "A" * 50_000,
    "eyJ" + "a" * 25_000 + "." + "eyJ" + "b" * 25_000,
    "curl " + "-u x:" * 9_000,
    "https://" + "a:" * 20_000,
    "密码是" * 15_000,
]


@pytest.mark.parametrize("rule", SECRET_RULES, ids=lambda r: r.id)
def test_when_input_is_adversarial_then_every_secret_pattern_still_finishes(rule):
    started = time.perf_counter()
    for text in ADVERSARIAL:
        for _ in rule.pattern.finditer(text):
            pass
    # a hang guard against catastrophic backtracking, not a speed assertion (bench/ measures speed)
    assert time.perf_counter() - started < 20
