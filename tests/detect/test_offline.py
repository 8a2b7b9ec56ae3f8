"""guard runs air-gapped: a scan with the network disabled works and touches no socket."""

from __future__ import annotations

import socket

import pytest

from guard.detect.engine import build_engine


def test_when_sockets_are_disabled_then_scan_with_models_still_works(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    engine = build_engine()
    found = engine.scan("Please email Sarah Connor at sarah.connor@example.com about 张伟的合同。")
    assert any(f.category == "email" for f in found)
    import tldextract

    assert tldextract.extract("mail.example.co.uk").suffix == "co.uk"
    assert attempts == []


@pytest.mark.parametrize("text", ["", " ", "\n\n"])
def test_when_text_is_empty_then_no_findings(pattern_engine, text):
    assert pattern_engine.scan(text) == []
