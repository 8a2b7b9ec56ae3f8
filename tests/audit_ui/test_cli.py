"""`guard ui` refuses unsafe settings; every `guard ui` / `guard users` command and option is in README."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from audit_ui.cli import users_app
from guard.cli import app as guard_cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_guard_ui_refuses_to_start_with_the_development_secret_in_production(monkeypatch) -> None:
    monkeypatch.setenv("GUARD_ENVIRONMENT", "production")
    monkeypatch.delenv("GUARD_SECRET_KEY", raising=False)
    r = CliRunner().invoke(guard_cli, ["ui", "--port", "0"])
    assert r.exit_code == 2 and "GUARD_SECRET_KEY" in r.output


def test_every_ui_and_users_command_and_option_is_in_the_readme() -> None:
    group = typer.main.get_command(guard_cli)
    commands = {"ui": group.commands["ui"]}
    users = group.commands["users"]
    commands.update({f"users {name}": cmd for name, cmd in users.commands.items()})
    assert len(commands) == 1 + len(users_app.registered_commands)
    for name, cmd in commands.items():
        assert f"guard {name}" in README, name
        for p in cmd.params:
            for opt in p.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in README, f"{name} {opt}"
