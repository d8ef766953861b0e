from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geodata import ConfigError, load_rules
from geodata.privacy import Pseudonymiser, load_secret, normalise_ref
from geodata.settings import Settings


def test_defaults(sandtable_env: Path) -> None:
    s = Settings()
    assert s.home == sandtable_env
    assert s.database_url is None
    assert s.role == "cdc"
    assert s.timezone == "Asia/Shanghai"
    assert s.cluster_dir == sandtable_env / "pg"


def test_session_settings(sandtable_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.session_hours, s.kiosk_session_days, s.cookie_secure) == (12.0, 30.0, "auto")
    assert s.trust_proxy_header is None and s.trusted_proxies == ()
    monkeypatch.setenv("SANDTABLE_TRUST_PROXY_HEADER", "X-Remote-User")
    monkeypatch.setenv("SANDTABLE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")
    s = Settings()
    assert s.trust_proxy_header == "X-Remote-User"
    assert s.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")


def test_relative_home_is_made_absolute(sandtable_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDTABLE_HOME", "some/where")
    assert Settings().home == Path.cwd() / "some/where"


def test_database_url_normalised(sandtable_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDTABLE_DATABASE_URL", "postgres://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("SANDTABLE_DATABASE_URL", "mysql://u@h/db", "postgresql://"),
    ("SANDTABLE_ROLE", "mayor", "role"),
    ("SANDTABLE_TIMEZONE", "Mars/Olympus", "time zone"),
    ("SANDTABLE_RULES_FILE", "/nonexistent/rules.toml", "not a file"),
    ("SANDTABLE_SESSION_HOURS", "0", "session_hours"),
    ("SANDTABLE_COOKIE_SECURE", "sometimes", "cookie_secure"),
    ("SANDTABLE_TRUST_PROXY_HEADER", "X-Remote User", "header name"),
    ("SANDTABLE_TRUSTED_PROXIES", "127.0.0.1,proxy.example", "not an IP address"),
])
def test_bad_settings_rejected(sandtable_env: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str,
                               needle: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=needle):
        Settings()


def test_rules_defaults_are_the_protocol() -> None:
    rules = load_rules()
    assert rules.exposure.days_before_sample == 4
    assert rules.copresence.minutes == 30
    assert "checkpoint" not in rules.copresence.site_kinds
    assert rules.active_scan.max_temperature_c == 37.3
    assert rules.active_scan.max_nat_hours == 48
    assert rules.isolation.close_contact_central_days == 7
    assert rules.privacy.k == 5


def test_rules_override_keeps_other_keys(tmp_path: Path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text('[copresence]\nminutes = 15\n[privacy]\nk = 10\n')
    rules = load_rules(f)
    assert rules.copresence.minutes == 15
    assert rules.privacy.k == 10
    assert rules.exposure.days_before_sample == 4


@pytest.mark.parametrize(("body", "needle"), [
    ('[copresence]\nsite_kinds = ["moon"]\n', "unknown site kinds"),
    ('[privacy]\nk = 0\n', "privacy.k"),
    ('[exposure]\ndays = 3\n', "exposure.days"),
    ('not toml = = 1', "cannot read rules file"),
])
def test_bad_rules_file_one_clear_error(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "rules.toml"
    f.write_text(body)
    with pytest.raises(ConfigError, match=needle):
        load_rules(f)


def test_secrets_created_private_and_stable(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    a = load_secret(folder, "pepper")
    b = load_secret(folder, "pepper")
    assert a == b and len(a) == 32
    assert stat.S_IMODE((folder / "pepper").stat().st_mode) == 0o600


def test_secret_readable_by_others_refused(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    load_secret(folder, "pepper")
    (folder / "pepper").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_secret(folder, "pepper")


def test_pseudonymiser_never_shows_secrets(tmp_path: Path) -> None:
    p = Pseudonymiser.from_folder(tmp_path)
    pepper = (tmp_path / "pepper").read_bytes()
    assert pepper.hex() not in repr(p) and "secret" in repr(p)


def test_pseudonym_depends_on_pepper(tmp_path: Path) -> None:
    a = Pseudonymiser.from_folder(tmp_path / "a")
    b = Pseudonymiser.from_folder(tmp_path / "b")
    assert a.person_id("210000199001011234") != b.person_id("210000199001011234")


@given(st.text(min_size=1, max_size=40).filter(lambda s: normalise_ref(s) != ""))
def test_pseudonym_is_positive_bigint_and_normalised(ref: str) -> None:
    p = Pseudonymiser(b"p" * 32, b"k" * 32)
    pid = p.person_id(ref)
    assert 0 <= pid < 2**63
    assert p.person_id(f"  {ref}  ") == p.person_id(ref)


def test_pseudonym_ignores_case_and_width() -> None:
    p = Pseudonymiser(b"p" * 32, b"k" * 32)
    assert p.person_id("21000019900101123x") == p.person_id("21000019900101123X")
    assert p.person_id("２１０００") == p.person_id("21000")  # full-width digits (NFKC)


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30))
def test_person_ids_matches_person_id(refs: list[str]) -> None:
    p = Pseudonymiser(b"p" * 32, b"k" * 32)
    assert list(p.person_ids(refs)) == [p.person_id(r) for r in refs]


@given(st.text(min_size=1, max_size=40))
def test_encrypt_round_trip(ref: str) -> None:
    p = Pseudonymiser(b"p" * 32, b"k" * 32)
    blob = p.encrypt(ref)
    plain = normalise_ref(ref).encode()
    if len(plain) >= 8:  # a short plaintext may occur in random bytes by chance
        assert plain not in blob
    assert p.decrypt(blob) == normalise_ref(ref)


@given(st.lists(st.text(min_size=1, max_size=40), max_size=20))
def test_encrypt_many_round_trip_with_fresh_nonces(refs: list[str]) -> None:
    p = Pseudonymiser(b"p" * 32, b"k" * 32)
    blobs = p.encrypt_many(refs)
    assert [p.decrypt(b) for b in blobs] == [normalise_ref(r) for r in refs]
    assert len({b[:12] for b in blobs}) == len(blobs)  # never a nonce twice
