"""The wheel carries what an installed guard needs: its bundled rules, templates and migrations."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "guard", "audit_ui", "rules"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the tree (never in place: other builds may run in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_rules"))
        else:
            shutil.copy2(p, src / name)
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    [whl] = out.glob("guard_dlp-*.whl")
    return whl


@pytest.mark.slow
def test_when_wheel_built_then_every_rules_file_ships_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"guard/_rules/{p.relative_to(ROOT / 'rules').as_posix()}" for p in (ROOT / "rules").rglob("*.yaml")}
    assert expected and expected <= names, sorted(expected - names)
    assert "guard/pac_template.js" in names
    assert any(n.startswith("guard/audit/migrations/versions/") for n in names)
    assert any(n.startswith("audit_ui/templates/") and n.endswith(".html") for n in names)


@pytest.mark.slow
def test_when_installed_from_the_wheel_then_guard_finds_its_bundled_rules_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # Run from an empty directory with only the unpacked wheel first on the path: no checkout in reach.
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GUARD_HOME": str(tmp_path)}
    probe = "from guard.detect.rules import BUNDLED_RULES; print(BUNDLED_RULES)"
    p = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert Path(p.stdout.strip()) == site / "guard" / "_rules"
    check = subprocess.run(
        [sys.executable, "-m", "guard", "rules", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("ok:")
