"""Every option of `guard proxy` and `guard ca export` has help text and is documented in README.md."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from guard.cli import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _command(name: str, group: str = ""):
    cli = typer.main.get_command(app)
    if group:
        cli = cli.commands[group]
    return cli.commands[name]


@pytest.mark.parametrize(("group", "name"), [("", "proxy"), ("ca", "export")])
def test_every_option_has_help_and_a_readme_line(group, name):
    cmd = _command(name, group)
    assert cmd.help
    for p in cmd.params:
        if not p.opts[0].startswith("--") or p.opts[0] == "--help":
            continue
        assert p.help, f"{p.opts[0]} has no --help text"
        assert any(o in README for o in p.opts), f"{p.opts[0]} is not in README.md"
        if p.envvar:
            assert p.envvar in README, f"{p.envvar} is not in README.md"
