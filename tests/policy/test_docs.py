"""Every option of the policy commands (guard explain, guard edm import, guard proxy --private-model)
has --help text and a line in README.md."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer

from guard.cli import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
ROOT = typer.main.get_command(app)


def _commands() -> list[tuple[str, click.Command]]:
    edm = ROOT.commands["edm"]  # type: ignore[attr-defined]
    return [("guard explain", ROOT.commands["explain"]), ("guard edm import", edm.commands["import"])]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "cmd"), _commands(), ids=[n for n, _ in _commands()])
def test_policy_commands_and_options_are_documented(name: str, cmd: click.Command) -> None:
    assert name in README
    assert cmd.help
    for p in cmd.params:
        if isinstance(p, click.Option) and "--help" not in p.opts:
            assert p.help, f"{name} {p.opts[0]} has no --help text"
            assert any(o in README for o in p.opts), f"{name} {p.opts[0]} is not in README.md"


def test_private_model_option_and_env_are_documented() -> None:
    proxy = ROOT.commands["proxy"]  # type: ignore[attr-defined]
    opt = next(p for p in proxy.params if "--private-model" in getattr(p, "opts", ()))
    assert opt.help and "guard proxy --private-model" in README
    for env in ("GUARD_PRIVATE_MODEL_URL", "GUARD_PRIVATE_MODEL_API_KEY", "GUARD_PRIVATE_MODEL_CA", "GUARD_EDM_DIR"):
        assert env in README
