"""Actions per category and classification, overrides per group / user / destination, thresholds,
allow-lists and monitor mode, with the shipped rules/policy.yaml (copied, then edited per test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.core import Action, Classification, Segment
from guard.policy import DefaultPolicy, RequestContext, load_policy
from guard.policy.engine import Policy
from tests.policy.conftest import hit

PUBLIC = RequestContext(user="carol", destination="openai", destination_kind="public")
PRIVATE_URL = "http://127.0.0.1:9/v1"
CONF = Classification("confidential", "marking-en-caps", "CONFIDENTIAL")


def _edit(rules_dir: Path, old: str, new: str, name: str = "policy.yaml") -> None:
    p = rules_dir / name
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))


def _add_override(rules_dir: Path, yaml_text: str) -> None:
    """Append an override at the end of the shipped overrides list (the last key of policy.yaml)."""
    p = rules_dir / "policy.yaml"
    p.write_text(p.read_text() + yaml_text)


def _policy(rules_dir: Path, private: str = "", edm_dir: Path | None = None) -> Policy:
    pol = load_policy(rules_dir, private_model_url=private, edm_dir=edm_dir or rules_dir / "no-edm")
    assert isinstance(pol, Policy)
    return pol


def test_without_policy_yaml_the_default_policy_redacts(tmp_path: Path) -> None:
    (tmp_path / "destinations.yaml").write_text("public: []\nprivate: []\n")
    pol = load_policy(tmp_path)
    assert type(pol) is DefaultPolicy
    d = pol.decide(PUBLIC, [hit("mail bob@corp.com", "bob@corp.com", "email")])
    assert d.action == Action.REDACT and d.redact_categories == {"email"}


@pytest.mark.parametrize(
    "category,value",
    [("secret", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"), ("email", "bob@corp.com"), ("person", "Jane Roe"),
     ("bank_account", "DE89370400440532013000"), ("payment_card", "4000 0566 5566 5556")],
)  # fmt: skip
def test_when_secret_or_personal_data_then_redact(rules_dir: Path, category: str, value: str) -> None:
    pol = _policy(rules_dir)
    d = pol.decide(PUBLIC, [hit(f"see {value} here", value, category)])
    assert d.action == Action.REDACT
    assert d.redact_categories == {category}
    assert f"category-{category.replace('_', '-')}" in d.rules
    assert value not in d.reason


def test_when_nothing_found_then_allow(rules_dir: Path) -> None:
    d = _policy(rules_dir).decide(PUBLIC, [])
    assert d.action == Action.ALLOW and not d.redact_categories


def test_extra_categories_are_allowed_by_the_wildcard(rules_dir: Path) -> None:
    d = _policy(rules_dir).decide(PUBLIC, [hit("at Acme Ltd", "Acme Ltd", "organization")])
    assert d.action == Action.ALLOW


def test_when_marking_and_no_private_model_then_block_with_explanation(rules_dir: Path) -> None:
    d = _policy(rules_dir).decide(PUBLIC, [], [CONF])
    assert d.action == Action.BLOCK
    assert "no-private-model" in d.rules and "marking-en-caps" in d.rules
    assert "confidentiality marking" in d.reason and "private model" in d.reason


def test_when_marking_and_private_model_then_route_private(rules_dir: Path) -> None:
    pol = _policy(rules_dir, PRIVATE_URL)
    d = pol.decide(PUBLIC, [hit("x bob@corp.com", "bob@corp.com", "email")], [CONF])
    assert d.action == Action.ROUTE_PRIVATE
    assert d.target == "private"
    assert {"classification-confidential", "marking-en-caps"} <= set(d.rules)
    assert d.redact_categories == {"email"}  # for the redact-and-send-public fallback


@pytest.mark.parametrize("label,rule", [("codename", "codenames"), ("customer", "customers"), ("edm", "edm-x")])
def test_codename_customer_edm_route_private(rules_dir: Path, label: str, rule: str) -> None:
    d = _policy(rules_dir, PRIVATE_URL).decide(PUBLIC, [], [Classification(label, rule)])
    assert d.action == Action.ROUTE_PRIVATE and rule in d.rules


def test_source_code_is_recorded_but_allowed_by_default(rules_dir: Path) -> None:
    d = _policy(rules_dir).decide(PUBLIC, [], [Classification("source_code", "source-code-large")])
    assert d.action == Action.ALLOW


def test_block_action_per_category(rules_dir: Path) -> None:
    _edit(rules_dir, "    secret: redact", "    secret: block")
    d = _policy(rules_dir).decide(PUBLIC, [hit("k AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP", "secret"),
                                           hit("mail bob@corp.com", "bob@corp.com", "email")])  # fmt: skip
    assert d.action == Action.BLOCK and d.rules[0] == "category-secret"
    assert "secret" in d.reason and "AKIA" not in d.reason


def test_internal_destination_is_allowed_whatever_it_contains(rules_dir: Path) -> None:
    ctx = RequestContext(user="carol", destination="private", destination_kind="private")
    d = _policy(rules_dir, PRIVATE_URL).decide(ctx, [hit("x ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                                                         "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "secret")], [CONF])  # fmt: skip
    assert d.action == Action.ALLOW and d.rules == ("internal-destinations",)


def test_group_override_from_groups_file(rules_dir: Path) -> None:
    _edit(rules_dir, "  pentest: []", '  pentest: [mallory, "*@redteam.example.com"]', "groups.yaml")
    pol = _policy(rules_dir)
    secret = [hit("x AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP", "secret")]
    assert pol.decide(PUBLIC, secret).action == Action.REDACT
    for user in ("mallory", "Eve@RedTeam.example.com"):
        d = pol.decide(RequestContext(user=user, destination="openai", destination_kind="public"), secret)
        assert d.action == Action.ALLOW and "pentest-credentials" in d.rules
    # a group that comes with the identity (proxy auth) counts too
    d = pol.decide(RequestContext(user="zed", groups=("pentest",), destination="openai"), secret)
    assert d.action == Action.ALLOW


def test_finance_may_send_iban_to_private_but_not_public(rules_dir: Path) -> None:
    _edit(rules_dir, "  finance: []", "  finance: [fiona]", "groups.yaml")
    _add_override(rules_dir, "    - id: finance-iban-public-block\n"
          "      when: {groups: [finance], destination_kind: public}\n      categories: {bank_account: block}\n")  # fmt: skip
    pol = _policy(rules_dir, PRIVATE_URL)
    iban = [hit("pay DE89370400440532013000", "DE89370400440532013000", "bank_account")]
    pub = pol.decide(RequestContext(user="fiona", destination="openai", destination_kind="public"), iban)
    assert pub.action == Action.BLOCK and "finance-iban-public-block" in pub.rules
    priv = pol.decide(RequestContext(user="fiona", destination="private", destination_kind="private"), iban)
    assert priv.action == Action.ALLOW


def test_destination_and_user_override(rules_dir: Path) -> None:
    _add_override(rules_dir, "    - id: gemini-no-email\n"
          "      when: {destinations: [gemini], users: [\"c*\"]}\n      categories: {email: block}\n")  # fmt: skip
    pol = _policy(rules_dir)
    email = [hit("x bob@corp.com", "bob@corp.com", "email")]
    assert pol.decide(RequestContext(user="carol", destination="gemini"), email).action == Action.BLOCK
    assert pol.decide(RequestContext(user="dave", destination="gemini"), email).action == Action.REDACT
    assert pol.decide(RequestContext(user="carol", destination="openai"), email).action == Action.REDACT


def test_later_override_wins(rules_dir: Path) -> None:
    _add_override(rules_dir, "    - id: first\n      categories: {email: block}\n"
          "    - id: second\n      categories: {email: allow}\n")  # fmt: skip
    d = _policy(rules_dir).decide(PUBLIC, [hit("x bob@corp.com", "bob@corp.com", "email")])
    assert d.action == Action.ALLOW


def test_threshold_drops_low_scores(rules_dir: Path) -> None:
    pol = _policy(rules_dir)
    low = [hit("met Jane Roe", "Jane Roe", "person", score=0.3)]
    assert pol.decide(PUBLIC, low).action == Action.ALLOW
    assert pol.applicable(PUBLIC, low) == []
    ev = pol.evaluate(PUBLIC, low)
    assert ev.dropped[0][1] == "threshold-person"
    assert pol.decide(PUBLIC, [hit("met Jane Roe", "Jane Roe", "person", score=0.8)]).action == Action.REDACT


def test_allowlists_company_domain_support_number_test_card(rules_dir: Path) -> None:
    pol = _policy(rules_dir)
    text = "alice@example.com, bob@dev.example.com, call +1 (800) 555-0199, card 4111-1111-1111-1111"
    hits = [hit(text, "alice@example.com", "email"), hit(text, "bob@dev.example.com", "email"),
            hit(text, "+1 (800) 555-0199", "phone"), hit(text, "4111-1111-1111-1111", "payment_card")]  # fmt: skip
    assert pol.applicable(PUBLIC, hits) == []
    d = pol.decide(PUBLIC, hits)
    assert d.action == Action.ALLOW
    assert {"company-email-domain", "public-support-numbers", "known-test-cards"} <= set(d.rules)
    other = [hit("x mallory@example.org", "mallory@example.org", "email"), hit("x 4000 0566 5566 5556",
             "4000 0566 5566 5556", "payment_card"), hit("x bob@notexample.com", "bob@notexample.com", "email")]  # fmt: skip
    assert len(pol.applicable(PUBLIC, other)) == 3


def test_allowlist_keeps_only_hashes(rules_dir: Path) -> None:
    pol = _policy(rules_dir)
    cards = next(a for a in pol.spec.allowlists if a.id == "known-test-cards")
    assert all(len(h) == 64 for h in cards.hashes)
    assert "4111111111111111" not in repr(pol.spec)


def test_allowlist_by_sha256(rules_dir: Path) -> None:
    from guard.policy.spec import value_key

    digest = value_key("phone", "+44 20 7946 0000")
    _edit(
        rules_dir, '      values: ["+1 800 555 0199"]', f'      values: ["+1 800 555 0199"]\n      sha256: ["{digest}"]'
    )
    pol = _policy(rules_dir)
    assert pol.applicable(PUBLIC, [hit("ring 020 7946 0000 or +44 20 7946 0000", "+44 20 7946 0000", "phone")]) == []


def test_monitor_mode_decides_and_records_without_enforcing(rules_dir: Path) -> None:
    _edit(rules_dir, "  monitor: false", "  monitor: true")
    pol = _policy(rules_dir)
    d = pol.decide(PUBLIC, [hit("x bob@corp.com", "bob@corp.com", "email")], [CONF])
    assert d.monitor is True
    assert d.action == Action.BLOCK  # what would have happened, recorded
    assert "no-private-model" in d.rules


def test_monitor_per_override(rules_dir: Path) -> None:
    _edit(rules_dir, "  finance: []", "  finance: [fiona]", "groups.yaml")
    _add_override(rules_dir, "    - id: finance-pilot\n      when: {groups: [finance]}\n"
          "      monitor: true\n")  # fmt: skip
    pol = _policy(rules_dir)
    email = [hit("x bob@corp.com", "bob@corp.com", "email")]
    assert pol.decide(RequestContext(user="fiona", destination="openai"), email).monitor is True
    assert pol.decide(PUBLIC, email).monitor is False


def test_route_private_names_the_configured_target(rules_dir: Path) -> None:
    _edit(rules_dir, "private: []", "private:\n  - name: internal-llm\n    url: https://llm.corp.example/v1\n"
          "    default_model: llama3\n", "destinations.yaml")  # fmt: skip
    _edit(rules_dir, '  private_target: ""', "  private_target: internal-llm")
    d = _policy(rules_dir).decide(PUBLIC, [], [CONF])
    assert d.action == Action.ROUTE_PRIVATE and d.target == "internal-llm"


def test_classify_through_the_policy(rules_dir: Path) -> None:
    pol = _policy(rules_dir, PRIVATE_URL)
    segs = [Segment("Summarise this.", ("messages", 0, "content"), "user"),
            Segment("INTERNAL ONLY - Q3 plan for Project Bluefin", ("messages", 1, "content"), "user")]  # fmt: skip
    labels = {(c.label, c.rule_id) for c in pol.classify(segs)}
    assert labels == {
        ("confidential", "marking-en-caps"),
        ("confidential", "marking-en-phrase"),
        ("codename", "codenames"),
    }


def test_rules_name_the_allowlist_when_the_pipeline_filters_first(rules_dir: Path) -> None:
    # The pipeline calls applicable() and then decide() with what it kept: the audit still sees why.
    pol = _policy(rules_dir)
    text = "alice@example.com and bob@corp.com"
    kept = pol.applicable(PUBLIC, [hit(text, "alice@example.com", "email"), hit(text, "bob@corp.com", "email")])
    assert len(kept) == 1
    d = pol.decide(PUBLIC, kept)
    assert d.action == Action.REDACT and d.rules == ("category-email", "company-email-domain")
