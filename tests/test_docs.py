"""README.md documents every command, option and GUARD_* variable (the Datasette docs test, for guard).

An option counts as documented when it appears in a README section (## or ###) that also names its
command (`guard users add`, `guard proxy`, ...); a variable anywhere in the README. The failure
lists exactly what is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.guardcli import command_tree, known_env_names

README = Path(__file__).resolve().parents[1] / "README.md"


def commands() -> list[tuple[str, list[str], list[str]]]:
    """(`guard a b`, its --options, its env vars) for every command that can run."""
    out = []

    def walk(cmd, path: list[str]) -> None:  # noqa: ANN001 - a (vendored) click command
        opts = [o for p in cmd.params for o in getattr(p, "opts", ()) if o.startswith("--") and o != "--help"]
        envs = [e for p in cmd.params for e in ([p.envvar] if isinstance(p.envvar, str) else p.envvar or [])]
        subs = getattr(cmd, "commands", {})
        if path and (not subs or opts):  # leaf commands, and groups that run themselves (guard export)
            out.append(("guard " + " ".join(path), opts, envs))
        for name, sub in subs.items():
            walk(sub, [*path, name])

    walk(command_tree(), [])
    return out


def sections(text: str) -> list[str]:
    return re.split(r"\n(?=#{2,3} )", text)


def mentions(text: str, token: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def missing_docs(readme: Path = README) -> list[str]:
    text = readme.read_text(encoding="utf-8")
    secs = sections(text)
    missing = []
    env_names = set(known_env_names())
    for name, opts, envs in commands():
        own = [s for s in secs if mentions(s, name)]
        if not own:
            missing.append(f"command `{name}` (no README section names it)")
            continue
        missing += [f"option `{name} {o}`" for o in opts if not any(mentions(s, o) for s in own)]
        env_names.update(envs)
    missing += [f"environment variable `{e}`" for e in sorted(env_names) if not mentions(text, e)]
    return missing


def test_when_readme_is_read_then_every_command_option_and_variable_is_documented():
    missing = missing_docs()
    assert not missing, "README.md does not document:\n  " + "\n  ".join(missing)


def test_when_something_is_undocumented_then_the_check_names_it(tmp_path):
    # Proof the check bites: a README copy that lost one option's mentions.
    copy = tmp_path / "README.md"
    copy.write_text(
        README.read_text(encoding="utf-8").replace("--include-private", "--inclde-private"), encoding="utf-8"
    )
    assert "option `guard pac --include-private`" in missing_docs(copy)
