"""A throwaway certificate authority for `guard demo` and tests: a CA plus server certificates for loopback.

Never used for real traffic: the demo's stand-in LLM serves TLS with it, and the proxy is told to
trust it as an extra upstream CA, exactly as a site trusts its internal model's CA.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class ServerCert:
    cert: Path  # PEM: the server certificate followed by the CA certificate
    key: Path  # PEM: the server's private key
    ca: Path  # PEM: the CA certificate clients (and guard, as --upstream-ca) trust


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(
    name: str = "guard demo CA", not_before: datetime | None = None, days: int = 30, is_ca: bool = True
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Create a self-signed CA certificate and its key (`is_ca=False` makes a broken one for tests)."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, is_ca, is_ca, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def write_mitmproxy_ca(confdir: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
    """Write `cert` + `key` in mitmproxy's confdir layout (mitmproxy-ca.pem holds key and certificate)."""
    confdir.mkdir(parents=True, exist_ok=True)
    pem = confdir / "mitmproxy-ca.pem"
    pem.write_bytes(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
    (confdir / "mitmproxy-ca-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pem


def issue_server_cert(directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> ServerCert:
    """Create a fresh CA and a server certificate for `hosts` under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca()
    key = _key()
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = ServerCert(directory / "server.pem", directory / "server-key.pem", directory / "ca.pem")
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    out.key.write_bytes(_pem_key(key))
    out.ca.write_bytes(ca_pem)
    return out
