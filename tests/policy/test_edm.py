"""guard edm import: salted hashes only, lookups by normalised value, the store feeds the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from guard.cli import app
from guard.core import Action, Segment
from guard.policy import RequestContext, load_policy
from guard.policy.edm import EdmError, build_store, candidates, load_store, normalise

CSV = "customer_id,name,iban,notes\nCUST-004711,Acme Widgets Ltd,DE89 3704 0044 0532 0130 00,vip\nCUST-9,Bo,,x\n"


def test_normalise_ignores_case_width_and_separators() -> None:
    assert normalise("DE89 3704-0044.0532") == normalise("de8937040044０５３２") == "de89370400440532"


def test_candidates_are_token_runs() -> None:
    c = candidates("pay  Acme Widgets Ltd today", 3)
    assert "acmewidgetsltd" in c and "widgetsltd" in c and "paya" not in c
    assert all(len(x) >= 4 for x in c)


def test_cli_import_stores_only_hashes(tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text(CSV)
    edm = tmp_path / "edm"
    r = CliRunner().invoke(app, ["edm", "import", str(csv), "--column", "customer_id", "--column", "iban",
                                 "--column", "name", "--dir", str(edm)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "imported 4 values" in r.output and "skipped 1 values" in r.output  # "Bo" is too short to match safely
    raw = (edm / "customers.edm").read_bytes()
    for clear in (b"CUST-004711", b"cust004711", b"DE89", b"de89370400440532013000", b"Acme", b"acmewidgetsltd"):
        assert clear not in raw
    assert (edm / "customers.edm").stat().st_mode & 0o777 == 0o600
    store = load_store(edm / "customers.edm")
    assert store.columns == ("customer_id", "iban", "name") and len(store.hashes) == 4
    assert store.hits("wire to de89370400440532013000 now") and store.hits("ACME WIDGETS LTD")
    assert not store.hits("CUST-004712 and Acme Widgets")


def test_cli_import_unknown_column(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text(CSV)
    r = CliRunner().invoke(app, ["edm", "import", str(csv), "--column", "account", "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "no column 'account'" in r.output and "customer_id" in r.output


def test_same_values_different_salt_different_hashes() -> None:
    a, b = build_store("a", ["c"], ["CUST-004711"]), build_store("b", ["c"], ["CUST-004711"])
    assert a.salt != b.salt and a.hashes[0] != b.hashes[0]


def test_corrupt_store_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad.edm").write_bytes(b'GUARD-EDM-1\n{"name":"bad","salt":"00","count":3}\n' + b"\0" * 8)
    with pytest.raises(EdmError, match="truncated"):
        load_store(tmp_path / "bad.edm")


def test_edm_hit_routes_private(rules_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "accounts.csv"
    csv.write_text("account\nACC-77-1234-5678\n")
    edm = tmp_path / "edm"
    assert CliRunner().invoke(app, ["edm", "import", str(csv), "--column", "account", "--dir", str(edm)]).exit_code == 0
    pol = load_policy(rules_dir, private_model_url="http://127.0.0.1:9/v1", edm_dir=edm)
    seg = Segment("Why was acc-77-1234-5678 charged twice?")
    classes = pol.classify([seg])
    assert [(c.label, c.rule_id) for c in classes] == [("edm", "edm-accounts")]
    d = pol.decide(RequestContext(destination="openai", destination_kind="public"), [], classes)
    assert d.action == Action.ROUTE_PRIVATE and "edm-accounts" in d.rules
