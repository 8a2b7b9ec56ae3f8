"""Encrypted evidence: readable only with the private key, bound to its event, every reading audited."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from guard.audit import chain
from guard.audit.evidence import (
    EvidenceError,
    generate_keypair,
    load_private_key,
    load_public_key,
    open_sealed,
    read_evidence,
    seal,
)
from guard.audit.models import AuditEventRow
from guard.cli import app
from tests.audit.factories import PROMPT, make_event

runner = CliRunner()
REDACTED = "Please email [PERSON_1] about card [CARD_1] today"


@pytest.fixture
def keys(tmp_path):
    return generate_keypair(tmp_path / "keys")


def test_seal_opens_only_with_the_right_key_and_event(keys, tmp_path):
    priv, pub = keys
    blob = seal(load_public_key(pub), "ev1", PROMPT, REDACTED)
    assert PROMPT.encode() not in blob and b"Okonkwo" not in blob
    assert open_sealed(load_private_key(priv), "ev1", blob) == {"original": PROMPT, "redacted": REDACTED}
    other, _ = generate_keypair(tmp_path / "other")
    with pytest.raises(EvidenceError):
        open_sealed(load_private_key(other), "ev1", blob)
    with pytest.raises(EvidenceError):  # moved to another event
        open_sealed(load_private_key(priv), "ev2", blob)
    with pytest.raises(EvidenceError):  # altered
        open_sealed(load_private_key(priv), "ev1", blob[:-1] + bytes([blob[-1] ^ 1]))


def test_private_key_file_is_owner_only_and_passphrase_works(tmp_path):
    priv, pub = generate_keypair(tmp_path / "k", passphrase=b"correct horse")
    assert priv.stat().st_mode & 0o077 == 0
    load_private_key(priv, b"correct horse")
    with pytest.raises(ValueError):
        load_private_key(priv, b"wrong")


def test_reading_evidence_is_recorded_as_an_admin_event(store, keys, db_url):
    priv, pub = keys
    e = make_event()
    e = dataclasses.replace(e, evidence=seal(load_public_key(pub), e.event_id, PROMPT, REDACTED))
    chain.append(store, [e])
    assert read_evidence(store, e.event_id, load_private_key(priv), reader="dana")["original"] == PROMPT
    r = runner.invoke(app, ["audit", "evidence", e.event_id, "--key", str(priv), "--reader", "erin", "--db", db_url])
    assert r.exit_code == 0, r.output
    assert REDACTED in r.output
    with store.session() as s:
        reads = s.scalars(select(AuditEventRow).where(AuditEventRow.action == "evidence_read")).all()
    assert [(x.identity, x.kind) for x in reads] == [("dana", "admin"), ("erin", "admin")]
    assert all(e.event_id in x.reason for x in reads)
    assert chain.verify(store).ok


def test_event_without_evidence_is_an_error(store, keys):
    e = make_event()
    chain.append(store, [e])
    with pytest.raises(EvidenceError):
        read_evidence(store, e.event_id, load_private_key(keys[0]), reader="x")
