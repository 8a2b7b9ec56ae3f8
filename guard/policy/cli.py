"""CLI commands of the policy area: `guard explain` and `guard edm import` (registered in guard/cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

edm_app = typer.Typer(help="Exact data match: import customer identifiers as salted hashes.", no_args_is_help=True)

RulesOpt = Annotated[
    Path | None,
    typer.Option("--rules", envvar="GUARD_RULES", help="Rules directory (default: the bundled rules/)."),
]


def explain(
    text: Annotated[str, typer.Argument(help="The prompt to explain, or '-' to read it from standard input.")] = "-",
    user: Annotated[str, typer.Option("--user", help="User name, as the proxy's authentication gives it.")] = "",
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="A group the identity carries (besides rules/groups.yaml). Repeatable."),
    ] = None,
    destination: Annotated[
        str, typer.Option("--destination", help="Destination name from rules/destinations.yaml, e.g. openai.")
    ] = "openai",
    private_model: Annotated[
        str | None,
        typer.Option(
            "--private-model",
            envvar="GUARD_PRIVATE_MODEL_URL",
            help="OpenAI-compatible base URL of the private model (adds destination 'private').",
        ),
    ] = None,  # fmt: skip
    rules: RulesOpt = None,
    no_models: Annotated[bool, typer.Option("--no-models", help="Pattern rules only: skip spaCy and jieba.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="Output format: table or json.")] = "table",
) -> None:
    """Show the decision for a prompt (user, destination) and every rule that contributed to it."""
    from guard.policy.explain import explain_command

    if text == "-":
        text = sys.stdin.read()
    raise typer.Exit(explain_command(text, user, group or [], destination, rules, private_model, not no_models, fmt))


@edm_app.command("import")
def edm_import(
    csv_file: Annotated[Path, typer.Argument(help="CSV file with a header row.", exists=True, dir_okay=False)],
    column: Annotated[list[str], typer.Option("--column", help="Column whose values to protect. Repeatable.")],
    name: Annotated[str, typer.Option("--name", help="Store name (default: the CSV file name).")] = "",
    edm_dir: Annotated[
        Path | None,
        typer.Option("--dir", envvar="GUARD_EDM_DIR", help="Where stores live (default: GUARD_HOME/edm)."),
    ] = None,
) -> None:
    """Import CSV columns as salted hashes (never clear values); prompts containing them get the label 'edm'."""
    from guard.policy.edm import EdmError, import_csv
    from guard.policy.loader import default_edm_dir

    try:
        store, short, path = import_csv(csv_file, column, edm_dir or default_edm_dir(), name)
    except (EdmError, UnicodeDecodeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(f"imported {store.rows} values ({len(store.hashes)} distinct) from {', '.join(column)} into {path}")
    if short:
        print(f"skipped {short} values shorter than 4 letters/digits (they would match everywhere)")
    print(
        f"store size {store.nbytes / 1e6:.1f} MB; classifier id edm-{store.name.lower()} unless classifiers.yaml names it"
    )
