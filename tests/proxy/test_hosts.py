"""Guarded destinations: anchored host rules, wildcards, and which hosts mitmproxy intercepts."""

from __future__ import annotations

import re

import pytest

from guard.hosts import load_destinations


@pytest.fixture(scope="module")
def dests():
    return load_destinations()


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("api.openai.com", "openai"),
        ("API.OpenAI.com.", "openai"),
        ("myres.openai.azure.com", "azure-openai"),
        ("a.b.openai.azure.com", "azure-openai"),
        ("api.anthropic.com", "anthropic"),
        ("openai.azure.com", None),  # the wildcard needs a subdomain
        ("api.openai.com.evil.example", None),  # anchored at the end
        ("evilapi.openai.com", None),  # anchored at the start
        ("example.org", None),
    ],
)
def test_when_host_is_checked_then_only_listed_hosts_match(dests, host, name):
    d = dests.match(host)
    assert (d.name if d else None) == name


def test_allow_hosts_are_anchored_host_port_regexes(dests):
    rx = [re.compile(r, re.IGNORECASE) for r in dests.allow_hosts()]
    assert r"^api\.openai\.com:\d+$" in dests.allow_hosts()
    assert any(r.search("api.openai.com:443") for r in rx)
    assert not any(r.search("api.openai.com.evil.example:443") for r in rx)
    assert not any(r.search("www.example.org:443") for r in rx)


def test_when_destination_has_no_hosts_then_loading_fails(tmp_path):
    (tmp_path / "destinations.yaml").write_text("public:\n  - name: x\n    adapter: openai\n")
    with pytest.raises(ValueError, match="no hosts"):
        load_destinations(tmp_path)
