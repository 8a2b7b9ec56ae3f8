"""`guard doctor` as an operator runs it: each broken part fails with what to fix, exit 1."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guard.audit.store import open_store
from guard.detect.rules import BUNDLED_RULES
from guard.doctor import (
    RELEASED,
    Target,
    check_ca,
    check_clock,
    check_database,
    check_ocr,
    check_private_model,
    check_rules,
)
from guard.testca import issue_server_cert, make_ca, write_mitmproxy_ca

GUARD = [sys.executable, "-m", "guard"]


def target(tmp_path: Path, **kw) -> Target:
    base = {"confdir": tmp_path / "ca", "rules_dir": None, "db_url": f"sqlite:///{tmp_path / 'audit.db'}"}
    return Target(**{**base, **kw})


# --- CA -------------------------------------------------------------------------------------------


def test_when_no_ca_then_fails_and_says_how_to_create_it(tmp_path):
    r = check_ca(target(tmp_path))
    assert not r.ok and "no CA" in r.detail
    assert "guard proxy --confdir" in r.fix


def test_when_ca_valid_then_ok_with_expiry_date_and_client_cert_path(tmp_path):
    cert, key = make_ca("guard test CA", days=400)
    write_mitmproxy_ca(tmp_path / "ca", cert, key)
    r = check_ca(target(tmp_path))
    assert r.ok and not r.warning
    assert cert.not_valid_after_utc.strftime("%Y-%m-%d") in r.detail
    assert "mitmproxy-ca-cert.pem" in r.detail


def test_when_mitmproxy_created_the_ca_then_doctor_accepts_it(tmp_path):
    from mitmproxy.certs import CertStore

    CertStore.from_store(tmp_path / "ca", "mitmproxy", 2048)
    assert check_ca(target(tmp_path)).ok


def test_when_ca_expires_within_30_days_then_ok_but_warns_to_roll_over(tmp_path):
    write_mitmproxy_ca(tmp_path / "ca", *make_ca(days=10))
    r = check_ca(target(tmp_path))
    assert r.ok and r.warning and "rollover" in r.fix


def test_when_ca_expired_then_fails(tmp_path):
    write_mitmproxy_ca(tmp_path / "ca", *make_ca(not_before=datetime.now(UTC) - timedelta(days=60), days=30))
    r = check_ca(target(tmp_path))
    assert not r.ok and "expired" in r.detail


def test_when_certificate_is_not_a_ca_then_fails(tmp_path):
    write_mitmproxy_ca(tmp_path / "ca", *make_ca(is_ca=False))
    r = check_ca(target(tmp_path))
    assert not r.ok and "not a CA" in r.detail


def test_when_key_does_not_belong_to_certificate_then_fails(tmp_path):
    cert, _ = make_ca()
    _, other_key = make_ca()
    write_mitmproxy_ca(tmp_path / "ca", cert, other_key)
    r = check_ca(target(tmp_path))
    assert not r.ok and "does not belong" in r.detail


def test_when_ca_file_is_garbage_then_fails_without_traceback(tmp_path):
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "mitmproxy-ca.pem").write_text("not a pem")
    r = check_ca(target(tmp_path))
    assert not r.ok and "unreadable" in r.detail


# --- rules ----------------------------------------------------------------------------------------


def test_when_bundled_rules_then_ok_with_counts(tmp_path):
    r = check_rules(target(tmp_path))
    assert r.ok and "detectors" in r.detail and "guarded hosts" in r.detail


def test_when_a_detector_is_broken_then_fails_naming_the_file(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    bad = rules / "detectors" / "zz-broken.yaml"
    bad.write_text("detectors:\n  - id: Bad_Id\n    category: secret\n    regex: '('\n", encoding="utf-8")
    r = check_rules(target(tmp_path, rules_dir=rules))
    assert not r.ok and "zz-broken.yaml" in r.detail
    assert "guard rules check" in r.fix


def test_when_the_policy_names_an_unknown_action_then_fails_naming_policy_yaml(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    policy = rules / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("secret: redact", "secret: shred"), encoding="utf-8")
    r = check_rules(target(tmp_path, rules_dir=rules))
    assert not r.ok and "policy.yaml" in r.detail


def test_when_destinations_missing_then_fails(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    (rules / "destinations.yaml").unlink()
    r = check_rules(target(tmp_path, rules_dir=rules))
    assert not r.ok and "destinations" in r.detail


# --- database -------------------------------------------------------------------------------------


def test_when_sqlite_store_migrated_then_ok(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    open_store(url).close()
    r = check_database(target(tmp_path, db_url=url))
    assert r.ok and "schema current" in r.detail


def test_when_sqlite_file_missing_then_fails_and_is_not_created(tmp_path):
    r = check_database(target(tmp_path))
    assert not r.ok and "guard up" in r.fix
    assert not (tmp_path / "audit.db").exists()


def test_when_database_not_migrated_then_fails_naming_revisions(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    open_store(url, migrate_schema=False).engine.connect().close()
    r = check_database(target(tmp_path, db_url=url))
    assert not r.ok and "schema at none" in r.detail


def test_when_postgres_unreachable_then_fails_and_never_prints_the_password(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"postgresql://guard:s3cret-pw@127.0.0.1:{port}/guard"
    r = check_database(target(tmp_path, db_url=url))
    assert not r.ok and "cannot connect" in r.detail
    assert "s3cret-pw" not in r.detail + r.fix
    assert "GUARD_DATABASE_URL" in r.fix


@pytest.mark.postgres
def test_when_postgres_migrated_then_ok_and_clock_compared_with_server(tmp_path, pg_url):
    open_store(pg_url).close()
    t = target(tmp_path, db_url=pg_url)
    assert check_database(t).ok
    clock = check_clock(t)
    assert clock.ok and "from the database server" in clock.detail


# --- private model --------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path):
    """A TLS listener on loopback with its own CA, like an internal model server."""
    certs = issue_server_cert(tmp_path / "model")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert, certs.key)
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"https://127.0.0.1:{sock.getsockname()[1]}/v1", certs.ca
    stop.set()
    t.join(2)
    sock.close()


def rules_with_private(tmp_path: Path, url: str) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    text = (rules / "destinations.yaml").read_text(encoding="utf-8")
    import yaml

    data = yaml.safe_load(text)
    data["private"] = [{"name": "inhouse", "url": url}]
    (rules / "destinations.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return rules


def test_when_private_model_answers_tls_with_trusted_ca_then_ok(tmp_path, tls_server, monkeypatch):
    url, ca = tls_server
    monkeypatch.setenv("GUARD_UPSTREAM_CA", str(ca))
    monkeypatch.delenv("GUARD_PRIVATE_MODEL_URL", raising=False)
    r = check_private_model(target(tmp_path, rules_dir=rules_with_private(tmp_path, url)))
    assert r.ok and url in r.detail


def test_when_private_model_ca_not_trusted_then_fails_and_names_upstream_ca(tmp_path, tls_server, monkeypatch):
    url, _ = tls_server
    monkeypatch.delenv("GUARD_UPSTREAM_CA", raising=False)
    monkeypatch.delenv("GUARD_PRIVATE_MODEL_URL", raising=False)
    r = check_private_model(target(tmp_path, rules_dir=rules_with_private(tmp_path, url)))
    assert not r.ok and "not trusted" in r.detail and "--upstream-ca" in r.fix


def test_when_private_model_down_then_fails(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GUARD_PRIVATE_MODEL_URL", f"http://127.0.0.1:{port}/v1")
    r = check_private_model(target(tmp_path))
    assert not r.ok and "ConnectionRefusedError" in r.detail


# --- clock ----------------------------------------------------------------------------------------


def test_when_clock_before_release_then_fails_with_ntp_advice(tmp_path):
    r = check_clock(target(tmp_path), now=datetime(1970, 1, 1, tzinfo=UTC))
    assert not r.ok and "ntp" in r.fix.lower()
    assert check_clock(target(tmp_path), now=RELEASED + timedelta(days=1)).ok


# --- OCR ------------------------------------------------------------------------------------------


def test_when_ocr_is_off_then_the_check_passes_and_says_images_are_not_read(tmp_path):
    r = check_ocr(target(tmp_path))
    assert r.ok and r.detail.startswith("off")


def test_when_ocr_is_on_and_tesseract_is_installed_then_the_check_passes(tmp_path):
    r = check_ocr(target(tmp_path, ocr=True))
    assert r.ok and "English and Chinese data" in r.detail  # setup.sh --test installs tesseract-ocr-chi-sim


def test_when_ocr_is_on_but_tesseract_is_missing_then_the_check_fails_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without tesseract
    r = check_ocr(target(tmp_path, ocr=True))
    assert not r.ok and "not on PATH" in r.detail and "tesseract-ocr" in r.fix


# --- the command ----------------------------------------------------------------------------------


def run_doctor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "GUARD_HOME": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run([*GUARD, "doctor", *args], capture_output=True, text=True, timeout=120, env=env)


def test_when_everything_is_in_place_then_exit_0(tmp_path):
    write_mitmproxy_ca(tmp_path / "ca", *make_ca(days=400))
    open_store(f"sqlite:///{tmp_path / 'audit.db'}").close()
    p = run_doctor(tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "all 6 checks ok" in p.stdout


def test_when_a_check_fails_then_exit_1_and_the_fix_is_printed(tmp_path):
    p = run_doctor(tmp_path, "--only", "ca", "--only", "clock")
    assert p.returncode == 1
    assert "FAIL ca" in p.stdout and "fix: start `guard proxy" in p.stdout and "1 of 2 checks failing" in p.stdout


def test_when_json_requested_then_results_are_machine_readable(tmp_path):
    p = run_doctor(tmp_path, "--only", "rules", "--json")
    assert p.returncode == 0
    [r] = json.loads(p.stdout)
    assert r["name"] == "rules" and r["ok"] is True


def test_when_unknown_check_named_then_exit_2_listing_the_checks(tmp_path):
    p = run_doctor(tmp_path, "--only", "dns")
    assert p.returncode == 2 and "private-model" in p.stderr
