"""Settings: every variable of the contract's table, good and bad values, `.env` and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from provisioning.errors import ExitCode, SettingsError
from provisioning.readiness import Backoff
from provisioning.redact import REDACTED, clear_secrets, redact
from provisioning.settings import DAY_MS, Settings, load_settings

PROJECT_VARS = (
    "DATABASE_URL", "DB_TIMEOUT", "SKIP_SEED", "LOG_LEVEL", "LOG_FORMAT", "APP_ENV",
    "MIGRATIONS_DIR", "SEEDS_DIR", "DB_BACKOFF_BASE_MS", "DB_BACKOFF_MAX_MS",
    "DB_BACKOFF_JITTER", "DB_MAX_ATTEMPTS", "DB_LOCK_TIMEOUT", "MIGRATION_LOCK_TIMEOUT",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROJECT_VARS:
        monkeypatch.delenv(name, raising=False)
    clear_secrets()


def load(root: Path, **env: str) -> Settings:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        return load_settings(root)


def test_defaults_match_the_contract_table(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.database_url is None and s.embedded
    assert s.db_timeout == 300_000
    assert s.skip_seed is None and s.seeding_skipped_reason is None
    assert (s.log_level, s.log_format, s.app_env) == ("info", "auto", "development")
    assert s.migrations_dir == tmp_path / "migrations"
    assert s.seeds_dir == tmp_path / "seeds"
    assert (s.db_backoff_base_ms, s.db_backoff_max_ms) == (1000, 30_000)
    assert s.db_backoff_jitter == 0.3
    assert s.db_max_attempts == 60
    assert s.db_lock_timeout == 60_000
    assert s.project_root == tmp_path


GOOD = [
    ("DB_TIMEOUT", "1500", "db_timeout", 1500),
    ("DB_TIMEOUT", "1", "db_timeout", 1),
    ("DB_TIMEOUT", str(DAY_MS), "db_timeout", DAY_MS),
    ("SKIP_SEED", "true", "skip_seed", True),
    ("SKIP_SEED", "1", "skip_seed", True),
    ("SKIP_SEED", "yes", "skip_seed", True),
    ("SKIP_SEED", "false", "skip_seed", False),
    ("SKIP_SEED", "0", "skip_seed", False),
    ("SKIP_SEED", "no", "skip_seed", False),
    ("LOG_LEVEL", "debug", "log_level", "debug"),
    ("LOG_LEVEL", "warn", "log_level", "warn"),
    ("LOG_LEVEL", "ERROR", "log_level", "error"),
    ("LOG_FORMAT", "json", "log_format", "json"),
    ("LOG_FORMAT", "pretty", "log_format", "pretty"),
    ("LOG_FORMAT", "auto", "log_format", "auto"),
    ("APP_ENV", "test", "app_env", "test"),
    ("APP_ENV", "production", "app_env", "production"),
    ("DB_BACKOFF_BASE_MS", "250", "db_backoff_base_ms", 250),
    ("DB_BACKOFF_MAX_MS", "5000", "db_backoff_max_ms", 5000),
    ("DB_BACKOFF_JITTER", "0", "db_backoff_jitter", 0.0),
    ("DB_BACKOFF_JITTER", "1", "db_backoff_jitter", 1.0),
    ("DB_MAX_ATTEMPTS", "1", "db_max_attempts", 1),
    ("DB_LOCK_TIMEOUT", "0", "db_lock_timeout", 0),
    ("MIGRATION_LOCK_TIMEOUT", "2500", "migration_lock_timeout", 2500),
]


@pytest.mark.parametrize(("variable", "raw", "attribute", "expected"), GOOD)
def test_good_values_are_accepted(
    tmp_path: Path, variable: str, raw: str, attribute: str, expected: object
) -> None:
    assert getattr(load(tmp_path, **{variable: raw}), attribute) == expected


BAD = [
    ("DB_TIMEOUT", "abc"),
    ("DB_TIMEOUT", ""),
    ("DB_TIMEOUT", "0"),
    ("DB_TIMEOUT", "-5"),
    ("DB_TIMEOUT", "1.5"),
    ("DB_TIMEOUT", "99999999999999999999999"),
    ("DB_TIMEOUT", str(DAY_MS + 1)),
    ("SKIP_SEED", "maybe"),
    ("SKIP_SEED", "2"),
    ("LOG_LEVEL", "loud"),
    ("LOG_LEVEL", ""),
    ("LOG_LEVEL", "warning"),
    ("LOG_FORMAT", "xml"),
    ("LOG_FORMAT", ""),
    ("APP_ENV", "staging"),
    ("APP_ENV", ""),
    ("MIGRATIONS_DIR", ""),
    ("MIGRATIONS_DIR", "   "),
    ("SEEDS_DIR", ""),
    ("DB_BACKOFF_BASE_MS", "-1"),
    ("DB_BACKOFF_BASE_MS", "0"),
    ("DB_BACKOFF_BASE_MS", "fast"),
    ("DB_BACKOFF_MAX_MS", "999999999999"),
    ("DB_BACKOFF_MAX_MS", ""),
    ("DB_BACKOFF_JITTER", "1.5"),
    ("DB_BACKOFF_JITTER", "-0.1"),
    ("DB_BACKOFF_JITTER", "nan"),
    ("DB_BACKOFF_JITTER", "inf"),
    ("DB_BACKOFF_JITTER", "lots"),
    ("DB_MAX_ATTEMPTS", "0"),
    ("DB_MAX_ATTEMPTS", "-3"),
    ("DB_MAX_ATTEMPTS", "100001"),
    ("DB_MAX_ATTEMPTS", "many"),
    ("DB_LOCK_TIMEOUT", "-1"),
    ("DB_LOCK_TIMEOUT", "1e99"),
    ("MIGRATION_LOCK_TIMEOUT", "soon"),
    ("DATABASE_URL", ""),
]


@pytest.mark.parametrize(("variable", "raw"), BAD)
def test_bad_values_name_the_variable_and_what_it_allows(
    tmp_path: Path, variable: str, raw: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, **{variable: raw})
    err = caught.value
    assert err.exit_code == ExitCode.GENERAL == 1
    assert err.message.startswith(f"Invalid {variable}: expected ")
    assert err.fields["variable"] == variable
    assert err.fields["allowed"] and str(err.fields["allowed"]) in err.message
    assert err.suggestion
    if raw.strip() and len(raw) > 2:  # the value itself is never echoed back
        assert raw not in err.message and raw not in str(err.fields)


def test_backoff_max_below_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, DB_BACKOFF_BASE_MS="5000", DB_BACKOFF_MAX_MS="1000")
    assert caught.value.fields["variable"] == "DB_BACKOFF_MAX_MS"
    assert "at least the base" in caught.value.message


def test_db_timeout_is_milliseconds_all_the_way_to_the_backoff_policy(tmp_path: Path) -> None:
    settings = load(tmp_path, DB_TIMEOUT="1500", DB_BACKOFF_BASE_MS="10", DB_MAX_ATTEMPTS="7")
    policy = Backoff.from_settings(settings)
    assert policy.timeout_ms == 1500
    assert (policy.base_ms, policy.max_attempts) == (10, 7)


GOOD_URLS = {
    "url": "postgresql://app:secret@db.example.com:5432/nexus",
    "postgres scheme": "postgres://app:secret@db.example.com/nexus",
    "key=value": "host=db.example.com port=5432 user=app password=secret dbname=nexus",
    "key=value quoted": "host=db.example.com user=app password='s e\\'cret' dbname=nexus",
    "sslmode": "postgresql://app:secret@db.example.com/nexus?sslmode=require&connect_timeout=5",
    "percent-encoded password": "postgresql://app:p%40ss%3Aw%2Frd%25%22@db.example.com/nexus",
    "unix socket host": "postgresql://app@%2Fvar%2Frun%2Fpostgresql/nexus",
    "unix socket query": "postgresql:///nexus?host=/var/run/postgresql",
    "missing database name": "postgresql://app:secret@db.example.com:5432",
    "missing database, trailing slash": "postgresql://app:secret@db.example.com/",
    "ipv6 host": "postgresql://app:secret@[::1]:5432/nexus",
}


@pytest.mark.parametrize("url", GOOD_URLS.values(), ids=GOOD_URLS.keys())
def test_database_url_shapes_users_paste_are_accepted(tmp_path: Path, url: str) -> None:
    settings = load(tmp_path, DATABASE_URL=url)
    assert isinstance(settings.database_url, SecretStr)
    assert settings.database_url.get_secret_value() == url
    assert not settings.embedded
    assert url not in repr(settings) and url not in str(settings)  # held as a secret


BAD_URLS = {
    "plain words": "not a url at all",
    "http scheme": "http://db.example.com/nexus",
    "bad percent-encoding": "postgresql://app:p%zzword@db.example.com/nexus",
    "unclosed ipv6": "postgresql://app:hunter22@[::1/nexus",
    "unknown query parameter": "postgresql://app:hunter22@db/nexus?colour=blue",
    "key without value": "host=db.example.com password=hunter22 port",
    "unterminated quote": "host=db.example.com password='hunter22",
    "whitespace only": "   ",
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_unparsable_database_urls_exit_1_without_echoing_the_value(
    tmp_path: Path, url: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, DATABASE_URL=url)
    err = caught.value
    assert err.exit_code == 1
    assert err.fields["variable"] == "DATABASE_URL"
    text = f"{err.message} {err.fields} {err!s} {err.suggestion}"
    for fragment in ("hunter22", "p%zzword", url.strip() or "\x00"):
        assert fragment not in text
    # The raw value was registered as a secret before parsing, so nothing can print it later.
    if url.strip():
        assert redact(f"x {url} y") == f"x {REDACTED} y"


def test_the_password_is_registered_as_a_secret(tmp_path: Path) -> None:
    load(tmp_path, DATABASE_URL="postgresql://app:Tr1cky%40pass@db/nexus")
    assert redact("password Tr1cky@pass here") == f"password {REDACTED} here"
    assert redact("url Tr1cky%40pass here") == f"url {REDACTED} here"


def test_paths_are_absolute_whether_given_relative_or_absolute(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    s = load(tmp_path, MIGRATIONS_DIR="db/migrations", SEEDS_DIR=str(elsewhere))
    assert s.migrations_dir == tmp_path / "db" / "migrations"
    assert s.seeds_dir == elsewhere


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"APP_ENV": "production"}, "APP_ENV=production"),
        ({"APP_ENV": "production", "SKIP_SEED": "false"}, None),
        ({"APP_ENV": "development", "SKIP_SEED": "yes"}, "SKIP_SEED is set"),
        ({"APP_ENV": "test"}, None),
    ],
)
def test_seeding_skipped_reason(tmp_path: Path, env: dict[str, str], reason: str | None) -> None:
    got = load(tmp_path, **env).seeding_skipped_reason
    assert got == reason if reason is None else got is not None and got.startswith(reason)


def test_dotenv_is_read_the_environment_wins_and_unknown_variables_are_ignored(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "DB_TIMEOUT=4321\nLOG_LEVEL=loud\nAPP_ENV=test\nNODE_ENV=whatever\nSOME_TOKEN=x\n"
    )
    s = load(tmp_path, LOG_LEVEL="debug")  # the bad .env value is shadowed by the environment
    assert (s.db_timeout, s.log_level, s.app_env) == (4321, "debug", "test")


def test_a_bad_value_in_dotenv_is_reported_like_one_in_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DB_TIMEOUT=-1\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    assert caught.value.fields["variable"] == "DB_TIMEOUT"


def test_overrides_from_flags_win_over_the_environment(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DB_TIMEOUT", "300000")
        assert load_settings(tmp_path, db_timeout="1200").db_timeout == 1200
        assert load_settings(tmp_path, db_timeout=None).db_timeout == 300000
        with pytest.raises(SettingsError) as caught:
            load_settings(tmp_path, db_timeout="-5")
    assert caught.value.fields["variable"] == "DB_TIMEOUT"


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    with pytest.raises(Exception, match="frozen"):
        s.db_timeout = 5  # type: ignore[misc]
