"""Every `guard audit` command and every option of it and of `guard export` is documented in README.md."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer

from guard.audit.cli import audit_app
from guard.siem.cli import export_app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands() -> list[tuple[str, click.Command]]:
    group = typer.main.get_command(audit_app)
    out = [(f"guard audit {name}", cmd) for name, cmd in group.commands.items()]  # type: ignore[attr-defined]
    out.append(("guard export", typer.main.get_command(export_app)))
    return out


@pytest.mark.parametrize(("name", "cmd"), _commands(), ids=[n for n, _ in _commands()])
def test_command_and_its_options_are_in_the_readme(name, cmd):
    assert name in README
    assert cmd.help, f"{name} has no --help text"
    for p in cmd.params:
        if isinstance(p, click.Option) and "--help" not in p.opts:
            assert p.help, f"{name} {p.opts[0]} has no --help text"
            assert any(o in README for o in p.opts), f"{name} {p.opts[0]} is not documented in README.md"
