"""deploy/systemd: units systemd accepts, running guard as an unprivileged user with known settings."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.guardcli import known_env_names

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED_GUARD = "/opt/guard/.venv/bin/guard"


def unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(path.read_text(encoding="utf-8"))
    return cp


def test_when_listing_units_then_proxy_ui_and_exporter_exist():
    assert [u.name for u in UNITS] == ["guard-exporter.service", "guard-proxy.service", "guard-ui.service"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_when_verified_by_systemd_then_no_complaint(path, tmp_path):
    # systemd-analyze checks the executable exists: point the unit at this checkout's guard.
    text = path.read_text(encoding="utf-8").replace(INSTALLED_GUARD, str(ROOT / ".venv" / "bin" / "guard"))
    local = tmp_path / path.name
    local.write_text(text, encoding="utf-8")
    p = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(local)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in (p.stdout + p.stderr).splitlines() if path.name in line or "Unknown" in line]
    assert p.returncode == 0 and not complaints, p.stdout + p.stderr


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_when_service_runs_then_as_the_guard_user_with_the_shared_env_file_and_restart(path):
    svc = unit(path)["Service"]
    assert svc["User"] == "guard" and svc["Group"] == "guard"
    assert svc["EnvironmentFile"] == "/etc/guard/guard.env"
    assert svc["Restart"] in ("on-failure", "always")
    assert svc["ExecStart"].startswith(INSTALLED_GUARD + " ")
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectSystem"] == "strict"


def test_when_env_file_read_then_guard_knows_every_variable():
    lines = (ROOT / "deploy" / "systemd" / "guard.env").read_text(encoding="utf-8").splitlines()
    names = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert names - {"GUARD_EXPORT_ARGS"} <= known_env_names(), names - known_env_names()
    assert "GUARD_DATABASE_URL" in names and "GUARD_SECRET_KEY" in names
