"""Optional encrypted evidence: the original and redacted prompt sealed to the site's public key.

Off by default. The proxy calls `seal()` only when GUARD_EVIDENCE_PUBLIC_KEY names a key file; the
private key stays offline with whoever may read evidence. Construction (an X25519 sealed box):
an ephemeral X25519 key agrees a secret with the site key, HKDF-SHA256 turns it into an AES-256-GCM
key, and the event id is bound in as associated data so evidence cannot be moved to another event.
Blob layout: b"GEV1" | ephemeral public key (32) | nonce (12) | ciphertext+tag.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from guard.audit import chain
from guard.audit.store import Store, get_event
from guard.events import AuditEvent

MAGIC = b"GEV1"
_INFO = b"guard-evidence-v1"


class EvidenceError(ValueError):
    """Evidence is missing, or cannot be opened with this key (wrong key or altered blob)."""


def generate_keypair(directory: Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """Write evidence.key (private, mode 0600) and evidence.pub into `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    key = X25519PrivateKey.generate()
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    priv = directory / "evidence.key"
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    pub = directory / "evidence.pub"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return priv, pub


def load_public_key(path: Path) -> X25519PublicKey:
    """Load the site's evidence public key (PEM)."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, X25519PublicKey):
        raise EvidenceError("evidence public key must be an X25519 key (make one with `guard audit keygen`)")
    return key


def load_private_key(path: Path, passphrase: bytes | None = None) -> X25519PrivateKey:
    """Load the evidence private key (PEM, optionally passphrase-protected)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=passphrase)
    if not isinstance(key, X25519PrivateKey):
        raise EvidenceError("evidence private key must be an X25519 key")
    return key


def site_public_key() -> X25519PublicKey | None:
    """The key evidence is sealed to (GUARD_EVIDENCE_PUBLIC_KEY), or None when evidence is off."""
    from guard.config import settings

    path = settings().evidence_public_key
    return load_public_key(Path(path)) if path else None


def _derive(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + eph_pub + recipient_pub).derive(shared)


def _raw(pub: X25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def seal(public_key: X25519PublicKey, event_id: str, original: str, redacted: str) -> bytes:
    """Encrypt the original and redacted prompt for `event_id` so only the private key opens them."""
    eph = X25519PrivateKey.generate()
    eph_pub = _raw(eph.public_key())
    key = _derive(eph.exchange(public_key), eph_pub, _raw(public_key))
    nonce = os.urandom(12)
    body = json.dumps({"original": original, "redacted": redacted}, ensure_ascii=False).encode()
    return MAGIC + eph_pub + nonce + AESGCM(key).encrypt(nonce, body, _INFO + event_id.encode())


def open_sealed(private_key: X25519PrivateKey, event_id: str, blob: bytes) -> dict[str, str]:
    """Decrypt a sealed evidence blob; raise EvidenceError if the key or the blob is wrong."""
    if not blob.startswith(MAGIC) or len(blob) < 4 + 32 + 12 + 16:
        raise EvidenceError("not a guard evidence blob")
    eph_pub, nonce, ct = blob[4:36], blob[36:48], blob[48:]
    key = _derive(
        private_key.exchange(X25519PublicKey.from_public_bytes(eph_pub)), eph_pub, _raw(private_key.public_key())
    )
    try:
        body = AESGCM(key).decrypt(nonce, ct, _INFO + event_id.encode())
    except Exception as exc:  # InvalidTag: wrong key, another event's blob, or tampering
        raise EvidenceError("evidence cannot be opened with this key") from exc
    return json.loads(body)


def read_evidence(
    store: Store, event_id: str, private_key: X25519PrivateKey, reader: str, via: str = "cli"
) -> dict[str, Any]:
    """Record that `reader` read the evidence of `event_id`, then decrypt and return it.

    The reading is recorded first and in its own transaction: if it cannot be recorded, nothing
    is decrypted (fail closed). A failed decryption is still a recorded attempt.
    """
    with store.session() as s:
        row = get_event(s, event_id)
        blob = None if row is None else row.evidence
    if blob is None:
        raise EvidenceError(f"event {event_id} has no evidence")
    chain.append(
        store,
        [
            AuditEvent(
                action="evidence_read",
                kind="admin",
                identity=reader,
                source=via,
                reason=f"evidence of event {event_id} read",
                conversation_id=row.conversation_id if row else "",
            )
        ],
    )
    return open_sealed(private_key, event_id, blob)
