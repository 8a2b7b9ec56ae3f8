"""Every `guard ...` command line in deploy/ is one the CLI accepts, and ports agree with its defaults.

A renamed option (say --host becoming --listen) fails here, not in a customer's cluster.
"""

from __future__ import annotations

import configparser
import json
import shlex
from pathlib import Path

import pytest
import yaml

from tests.deploy.guardcli import option_default, parse_guard_argv
from tests.deploy.helmlite import Chart
from tests.deploy.test_helm import REQUIRED, by_kind

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose_commands() -> dict[str, list[str]]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return {name: svc["command"] for name, svc in data["services"].items() if svc.get("command", [""])[0] == "guard"}


def helm_commands() -> dict[str, list[str]]:
    docs = [d for t in Chart(DEPLOY / "helm" / "guard").render(REQUIRED).values() for d in yaml.safe_load_all(t) if d]
    return {n: d["spec"]["template"]["spec"]["containers"][0]["args"] for n, d in by_kind(docs, "Deployment").items()}


def systemd_commands() -> dict[str, list[str]]:
    env = {}
    for line in (DEPLOY / "systemd" / "guard.env").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    out = {}
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.optionxform = str
        cp.read_string(path.read_text(encoding="utf-8"))
        argv = []
        for word in shlex.split(cp["Service"]["ExecStart"]):
            # systemd splits an unbraced $VAR into words.
            argv += env[word[1:]].split() if word.startswith("$") else [word]
        out[path.name] = ["guard", *argv[1:]]
    return out


def dockerfile_command() -> dict[str, list[str]]:
    line = next(x for x in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines() if x.startswith("CMD "))
    return {"Dockerfile CMD": json.loads(line[4:])}


ALL = {**compose_commands(), **helm_commands(), **systemd_commands(), **dockerfile_command()}


@pytest.mark.parametrize("where", sorted(ALL))
def test_when_a_deploy_file_runs_guard_then_the_cli_accepts_the_command_line(where):
    try:
        parse_guard_argv(ALL[where])
    except Exception as exc:  # the CLI's usage errors (typer vendors click, so match by behaviour)
        message = exc.format_message() if hasattr(exc, "format_message") else repr(exc)
        pytest.fail(f"{where}: {' '.join(ALL[where])}: {message}")


def test_when_proxy_port_is_published_then_it_is_the_proxy_default():
    default = option_default(["proxy"], "--port")
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert f"{default}:{default}" in data["services"]["proxy"]["ports"]
    values = yaml.safe_load((DEPLOY / "helm" / "guard" / "values.yaml").read_text(encoding="utf-8"))
    assert values["proxy"]["port"] == default
    assert str(default) in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").split("EXPOSE", 1)[1].splitlines()[0]
    assert option_default(["ui"], "--port") == values["ui"]["port"]
    assert option_default(["proxy"], "--metrics-port") == values["proxy"]["metricsPort"]


def test_when_the_parser_sees_an_unknown_option_then_it_fails():
    with pytest.raises(Exception, match="No such option") as err:
        parse_guard_argv(["guard", "proxy", "--listen-host", "0.0.0.0"])
    assert type(err.value).__name__ == "NoSuchOption"
