"""deploy/compose.yaml: valid Compose, four services that start in the right order and fit guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose

from tests.deploy.guardcli import known_env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
GUARD_SERVICES = ("proxy", "ui", "exporter")


@pytest.fixture(scope="module")
def compose() -> dict:
    # YAML merge keys (<<) are resolved first, as docker compose does; the spec parser then rejects
    # unknown keys, bad durations and bad depends_on conditions.
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return PyCompose.from_json(json.dumps(data)).to_dict()


def test_when_parsed_by_the_compose_spec_then_valid_with_the_four_services(compose):
    assert set(compose["services"]) == {"postgres", *GUARD_SERVICES}
    PyCompose.from_json(json.dumps(compose)).to_spec()


def test_when_a_key_is_misspelt_then_the_spec_parser_rejects_it():
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    data["services"]["proxy"]["healtcheck"] = data["services"]["proxy"].pop("healthcheck")
    with pytest.raises(ValueError, match="healtcheck"):
        PyCompose.from_json(json.dumps(data))


def test_when_started_then_guard_waits_for_a_healthy_database(compose):
    pg = compose["services"]["postgres"]
    assert "pg_isready" in str(pg["healthcheck"]["test"])
    for name in GUARD_SERVICES:
        deps = compose["services"][name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert set(deps) <= set(compose["services"]), name


def test_when_running_then_every_service_has_a_health_check(compose):
    for name, svc in compose["services"].items():
        assert svc["healthcheck"]["test"], name


def test_when_guard_services_configured_then_they_share_one_database_and_rules_dir(compose):
    urls = {compose["services"][n]["environment"]["GUARD_DATABASE_URL"] for n in GUARD_SERVICES}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql+psycopg://guard:")
    for n in GUARD_SERVICES:
        env = compose["services"][n]["environment"]
        assert f"../rules:{env['GUARD_RULES']}:ro" in compose["services"][n]["volumes"], n


def test_when_env_names_set_then_guard_reads_every_one(compose):
    known = known_env_names()
    for n in GUARD_SERVICES:
        unknown = set(compose["services"][n]["environment"]) - known
        assert not unknown, (n, unknown)


def test_when_proxy_restarts_then_its_ca_fingerprint_key_and_spool_survive_in_a_named_volume(compose):
    proxy = compose["services"]["proxy"]
    env = proxy["environment"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    home_volume = mounts[env["GUARD_HOME"]]
    assert home_volume in compose["volumes"]
    assert env["GUARD_CONFDIR"].startswith(env["GUARD_HOME"] + "/")  # the CA lives in that volume


def test_when_ui_runs_in_production_then_a_secret_key_is_required_from_the_operator(compose):
    env = compose["services"]["ui"]["environment"]
    assert env["GUARD_ENVIRONMENT"] == "production"
    assert env["GUARD_SECRET_KEY"].startswith("${GUARD_SECRET_KEY:?")
