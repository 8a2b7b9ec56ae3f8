"""`guard ca export` and the `guard proxy` option parsing."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from typer.testing import CliRunner

from guard.cli import app
from guard.proxy_cli import parse_size


@pytest.mark.parametrize("fmt", ["pem", "der", "p12"])
def test_ca_export_prints_a_ca_certificate_and_install_steps(tmp_path, fmt):
    out = tmp_path / f"ca.{fmt}"
    result = CliRunner().invoke(app, ["ca", "export", "--format", fmt, "--confdir", str(tmp_path / "ca"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "pem":
        cert = x509.load_pem_x509_certificate(data)
    elif fmt == "der":
        cert = x509.load_der_x509_certificate(data)
    else:
        cert = pkcs12.load_pkcs12(data, None).additional_certs[0].certificate
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for where in ("Windows", "macOS", "Linux", "Firefox", "Node", "Python", "Java"):
        assert where in result.output
    # The same CA the proxy uses: exporting again gives the same certificate.
    again = CliRunner().invoke(app, ["ca", "export", "--confdir", str(tmp_path / "ca")])
    pem = (tmp_path / "ca" / "mitmproxy-ca-cert.pem").read_bytes()
    assert pem.decode() in again.output


@pytest.mark.parametrize(("text", "size"), [("8m", 8 << 20), ("512k", 512 << 10), ("1g", 1 << 30), ("100", 100), ("8MiB", 8 << 20)])
def test_body_limit_sizes(text, size):
    assert parse_size(text) == size


def test_when_body_limit_is_not_a_size_then_cli_says_so():
    result = CliRunner().invoke(app, ["proxy", "--body-limit", "lots"])
    assert result.exit_code == 2 and "body-limit" in result.output
