"""Identity: the proxy-auth user wins, the trusted header is removed, the password is dropped."""

from __future__ import annotations

import pytest

from guard.identity import check_header_name, check_htpasswd, resolve


def test_when_proxy_auth_user_then_it_wins_and_password_is_dropped():
    meta = {"proxyauth": ("alice", "s3cret-pw")}
    headers = {"x-guard-user": "mallory"}
    who = resolve(meta, headers, identity_header="x-guard-user", client_address="10.0.0.5")
    assert who.user == "alice" and who.source == "proxyauth"
    assert "s3cret-pw" not in repr(meta)
    assert "x-guard-user" not in headers


def test_when_only_trusted_header_then_it_names_the_user():
    headers = {"x-guard-user": " bob\x00 "}
    who = resolve({}, headers, identity_header="x-guard-user")
    assert who.user == "bob" and who.source == "header" and not headers


def test_when_nobody_is_known_then_client_address_keeps_vaults_apart():
    assert resolve({}, {}, client_address="10.1.2.3").user == "ip:10.1.2.3"


def test_when_htpasswd_line_is_bad_then_error_names_line_not_hash(tmp_path):
    f = tmp_path / "htpasswd"
    f.write_text("alice:$apr1$abc$secretHashValue\n")
    with pytest.raises(ValueError) as err:
        check_htpasswd(f)
    assert ":1:" in str(err.value) and "secretHashValue" not in str(err.value)


def test_when_htpasswd_has_bcrypt_and_sha_users_then_it_is_accepted(tmp_path):
    import bcrypt

    f = tmp_path / "htpasswd"
    f.write_text(f"a:{bcrypt.hashpw(b'pw', bcrypt.gensalt(4)).decode()}\nb:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    assert check_htpasswd(f) == 2


def test_when_header_name_is_invalid_then_it_is_refused():
    with pytest.raises(ValueError):
        check_header_name("X User")
