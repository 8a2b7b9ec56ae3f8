"""The `guard` command line. Each subcommand's help is its user documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from guard.audit.cli import audit_app
from guard.proxy_cli import ca_app
from guard.proxy_cli import proxy as proxy_command
from guard.scan import scan_command
from guard.siem.cli import export_app

app = typer.Typer(
    name="guard",
    help="guard: a data-leak prevention proxy for LLM traffic.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Validate and test the rules directory.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(audit_app, name="audit")
app.add_typer(export_app, name="export")

RulesOpt = Annotated[
    Path | None,
    typer.Option("--rules", envvar="GUARD_RULES", help="Rules directory (default: the bundled rules/)."),
]


@app.command("scan")
def scan(
    file: Annotated[str, typer.Argument(help="File to scan, or '-' for standard input.")] = "-",
    fmt: Annotated[str, typer.Option("--format", help="Output format: table or json.")] = "table",
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl",
            help='Batch mode: read JSONL lines {"id", "text"} on stdin, write {"id", "findings"} per line.',
        ),
    ] = False,
    rules: RulesOpt = None,
    no_models: Annotated[
        bool, typer.Option("--no-models", help="Pattern rules only: skip spaCy NER and the Chinese segmenter.")
    ] = False,
) -> None:
    """Scan text for secrets and personal data. Exit 0 clean, 1 findings, 2 usage or input error."""
    raise typer.Exit(scan_command(file, fmt, jsonl, rules, not no_models))


@rules_app.command("check")
def rules_check(rules: RulesOpt = None) -> None:
    """Validate every file under the rules directory; exit 1 with file:line:field on the first error."""
    from guard.rulestool import check

    raise typer.Exit(check(rules))


@rules_app.command("test")
def rules_test(
    rules: RulesOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show passing examples too.")] = False,
) -> None:
    """Run every detector's match / no_match examples and print a pass/fail table."""
    from guard.rulestool import test_examples

    raise typer.Exit(test_examples(rules, verbose))


@app.command("pac")
def pac(
    proxy: Annotated[
        list[str],
        typer.Option(
            "--proxy",
            help="Address clients use to reach guard, HOST:PORT (e.g. guard.corp.example:8080). Repeat for failover.",
        ),
    ],
    rules: RulesOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the PAC file here instead of stdout.")
    ] = None,
    include_private: Annotated[
        bool,
        typer.Option(
            "--include-private", help="Also send the private model hosts from destinations.yaml through guard."
        ),
    ] = False,
) -> None:
    """Generate a PAC file: LLM hosts from rules/destinations.yaml go to guard, everything else DIRECT."""
    from guard.pac import pac_command

    raise typer.Exit(pac_command(rules, proxy, output, include_private))


app.command("proxy")(proxy_command)
app.add_typer(ca_app, name="ca")


@app.command("doctor")
def doctor(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this check (ca, rules, database, private-model, clock). Repeatable."),
    ] = None,
    confdir: Annotated[
        Path | None, typer.Option("--confdir", help="CA directory to check (default: GUARD_CONFDIR or GUARD_HOME/ca).")
    ] = None,
    rules: RulesOpt = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Audit store URL to check (default: GUARD_DATABASE_URL or the SQLite file)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check a deployment (CA, rules, database, private model, clock) and say what to fix; exit 1 if any fails."""
    from guard.config import settings
    from guard.doctor import Target, doctor_command

    raise typer.Exit(doctor_command(Target.from_settings(settings(), confdir, rules, db), only, as_json))


from audit_ui.cli import ui_command, users_app  # noqa: E402 - the review UI's commands (audit_ui/cli.py)

app.command("ui")(ui_command)
app.add_typer(users_app, name="users")


from guard.policy.cli import edm_app, explain  # noqa: E402 - policy commands (guard/policy/cli.py)

app.command("explain")(explain)
app.add_typer(edm_app, name="edm")


@app.command("up")
def up(
    port: Annotated[int, typer.Option("--port", help="Proxy port (0: any free port).")] = 8080,
    host: Annotated[
        str, typer.Option("--host", help="Proxy listen address; 0.0.0.0 to serve other machines.")
    ] = "127.0.0.1",
    ui_port: Annotated[int, typer.Option("--ui-port", help="Review UI port on 127.0.0.1 (0: any free port).")] = 8000,
    admin: Annotated[
        str,
        typer.Option("--admin", help="Name of the first admin, created with a one-time password if no user exists."),
    ] = "admin",
    rules: RulesOpt = None,
    db: Annotated[
        str,
        typer.Option("--db", help="Audit store URL (default: GUARD_DATABASE_URL or the SQLite file in GUARD_HOME)."),
    ] = "",
    no_models: Annotated[
        bool, typer.Option("--no-models", help="Pattern rules only: start faster, skip spaCy / jieba name models.")
    ] = False,
) -> None:
    """Start proxy + review UI on the embedded SQLite store, create the first admin, print what to do next."""
    from guard.up import up_command

    raise typer.Exit(up_command(port, host, ui_port, admin, rules, db, no_models))


@app.command("demo")
def demo(
    ui: Annotated[
        str, typer.Option("--ui", help="Review UI base URL to link the demo's audit events to.")
    ] = "http://127.0.0.1:8000",
    rules: RulesOpt = None,
    db: Annotated[
        str,
        typer.Option(
            "--db", envvar="GUARD_DATABASE_URL", help="Audit store URL (default: the SQLite file in GUARD_HOME)."
        ),
    ] = "",
    no_models: Annotated[
        bool,
        typer.Option("--no-models", help="Pattern rules only (the person name in the demo then passes unredacted)."),
    ] = False,
) -> None:
    """Send four prompts (allowed, redacted, routed, blocked) through guard to a stand-in LLM; offline, no API key."""
    from guard.demo import demo_command

    raise typer.Exit(demo_command(ui, rules, db, no_models))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
