"""`guard pac`: the PAC file a company serves to every machine, evaluated by a real PAC engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypac.parser import PACFile
from typer.testing import CliRunner

from guard.cli import app
from guard.pac import PacError, destination_hosts


class Result:
    def __init__(self, r) -> None:
        self.returncode, self.stdout, self.stderr = r.exit_code, r.stdout, r.stderr


def run_pac(*args: str) -> Result:
    """Run `guard pac` in-process through the real Typer app (stdout and stderr kept apart)."""
    return Result(CliRunner().invoke(app, ["pac", *args]))


def proxy_for(pac: str, url: str) -> str:
    host = url.split("/")[2].split(":")[0]
    return PACFile(pac).find_proxy_for_url(url, host)


@pytest.fixture(scope="module")
def bundled_pac() -> str:
    p = run_pac("--proxy", "guard-a.corp.example:8080", "--proxy", "guard-b.corp.example:8080")
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/chat/completions",
        "https://API.Anthropic.com/v1/messages",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent",
        "https://chatgpt.com/backend-api/conversation",
        "https://contoso-eu.openai.azure.com/openai/deployments/gpt4/chat/completions",
        "https://api.openai.com./v1/models",
    ],
)
def test_when_host_is_a_bundled_llm_destination_then_it_goes_to_every_guard_proxy_in_order(bundled_pac, url):
    assert proxy_for(bundled_pac, url) == "PROXY guard-a.corp.example:8080; PROXY guard-b.corp.example:8080"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.google.com/",
        "https://github.com/openai/openai-python",
        "https://openai.com/blog",  # the vendor's web site is not its API
        "https://api.openai.com.evil.example/v1/chat/completions",  # suffix look-alike
        "https://evilopenai.azure.com/",  # "*.openai.azure.com" must not match a longer label
        "https://openai.azure.com/",  # the wildcard matches subdomains only
        "http://intranet.corp.example/",
    ],
)
def test_when_host_is_not_an_llm_destination_then_it_goes_direct(bundled_pac, url):
    assert proxy_for(bundled_pac, url) == "DIRECT"


def test_when_private_models_are_configured_then_they_go_through_guard_only_if_asked(tmp_path: Path):
    (tmp_path / "destinations.yaml").write_text(
        "public:\n  - name: openai\n    hosts: [api.openai.com]\n    adapter: openai\n"
        "private:\n  - name: inhouse\n    url: https://llm.corp.example:8443/v1\n",
        encoding="utf-8",
    )
    plain = run_pac("--rules", str(tmp_path), "--proxy", "10.0.0.5:3128")
    with_private = run_pac("--rules", str(tmp_path), "--proxy", "10.0.0.5:3128", "--include-private")
    assert plain.returncode == with_private.returncode == 0
    assert proxy_for(plain.stdout, "https://llm.corp.example:8443/v1/chat/completions") == "DIRECT"
    assert proxy_for(with_private.stdout, "https://llm.corp.example:8443/v1/chat/completions") == "PROXY 10.0.0.5:3128"
    assert proxy_for(with_private.stdout, "https://api.openai.com/v1/models") == "PROXY 10.0.0.5:3128"


def test_when_output_file_given_then_pac_is_written_there(tmp_path: Path):
    out = tmp_path / "proxy.pac"
    p = run_pac("--proxy", "guard.corp.example:8080", "-o", str(out))
    assert p.returncode == 0 and p.stdout == ""
    assert (
        proxy_for(out.read_text(encoding="utf-8"), "https://api.anthropic.com/v1/messages")
        == "PROXY guard.corp.example:8080"
    )


@pytest.mark.parametrize("bad", ["http://guard:8080", "guard", "guard:80;DIRECT", "guard:8080 DIRECT"])
def test_when_proxy_address_is_malformed_then_exit_2_with_the_expected_form(bad):
    p = run_pac("--proxy", bad)
    assert p.returncode == 2
    assert "HOST:PORT" in p.stderr and "Traceback" not in p.stderr


def test_when_destinations_hold_an_invalid_host_then_error_names_file_and_destination(tmp_path: Path):
    (tmp_path / "destinations.yaml").write_text(
        "public:\n  - name: broken\n    hosts: ['api.openai.com/v1']\n", encoding="utf-8"
    )
    p = run_pac("--rules", str(tmp_path), "--proxy", "guard:8080")
    assert p.returncode == 2
    assert "destinations.yaml" in p.stderr and "broken" in p.stderr


def test_when_no_destinations_then_refuses_to_write_a_pac_that_guards_nothing(tmp_path: Path):
    (tmp_path / "destinations.yaml").write_text("public: []\nprivate: []\n", encoding="utf-8")
    with pytest.raises(PacError, match="no destination hosts"):
        destination_hosts(tmp_path)
