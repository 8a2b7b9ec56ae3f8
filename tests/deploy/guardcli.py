"""What the guard command line accepts, read from the Typer app itself, for checking deploy files."""

from __future__ import annotations

import re
from pathlib import Path

import typer
import typer.main

# typer vendors its own copy of click (typer._click); only duck typing and its exception names are relied on.
from guard.cli import app

ROOT = Path(__file__).resolve().parents[2]


def command_tree():  # noqa: ANN201 - a click/typer group
    return typer.main.get_command(app)


def known_env_names() -> set[str]:
    """Every GUARD_* variable guard reads: CLI envvars, settings fields, and literals in the code."""
    names: set[str] = set()

    def walk(cmd) -> None:  # noqa: ANN001
        for p in cmd.params:
            env = p.envvar if isinstance(p.envvar, list | tuple) else [p.envvar]
            names.update(e for e in env if e)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(command_tree())
    for base in ("guard", "audit_ui"):
        for path in (ROOT / base).rglob("*.py"):
            names.update(re.findall(r"[\"'](GUARD_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    try:
        from audit_ui.core.config import Settings as UISettings

        names.update(f"GUARD_{f.upper()}" for f in UISettings.model_fields)
    except ImportError:
        pass
    return names


def is_group(cmd) -> bool:  # noqa: ANN001
    return hasattr(cmd, "get_command") and hasattr(cmd, "commands")


def parse_guard_argv(argv: list[str]):  # noqa: ANN201 - a click Context
    """Parse `guard SUB ... --opt val` exactly as the CLI would; raise its usage error if it would refuse."""
    assert argv and Path(argv[0]).name == "guard", argv
    group = command_tree()
    args = list(argv[1:])
    cmd = group
    while is_group(cmd) and args and not args[0].startswith("-"):
        name = args.pop(0)
        sub = cmd.commands.get(name)
        assert sub is not None, f"guard has no command {name!r} (argv {argv})"
        cmd = sub
    return cmd.make_context(cmd.name or "guard", args)


def option_default(command: list[str], option: str):
    """The default value of `guard <command...> --option`."""
    group = command_tree()
    cmd = group
    for name in command:
        cmd = cmd.commands[name]
    for p in cmd.params:
        if option in getattr(p, "opts", ()):
            return p.default
    raise AssertionError(f"guard {' '.join(command)} has no option {option}")
