"""Redaction is structural: registered secrets never survive, in any spelling, in any output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning import logs
from provisioning.errors import MigrationSqlError, ReadinessError
from provisioning.redact import REDACTED, clear_secrets, redact, register_secret
from provisioning.settings import Settings, load_settings

PASSWORD = "p@ss:w/rd%\"\\'"


def forms(secret: str) -> list[str]:
    """The spellings a leak could take: raw, percent-encoded, JSON-escaped."""
    return [secret, quote(secret, safe=""), json.dumps(secret)[1:-1]]


def assert_clean(text: str, secret: str = PASSWORD) -> None:
    for form in forms(secret):
        assert form not in text, f"{form!r} leaked in {text!r}"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()
    logger = logging.getLogger(logs.ROOT_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


@pytest.mark.parametrize("form", [*forms(PASSWORD), repr(PASSWORD)[1:-1]])
def test_every_spelling_is_replaced(form: str) -> None:
    register_secret(PASSWORD)
    assert redact(f"failed for {form} at host") == f"failed for {REDACTED} at host"


def test_nothing_registered_changes_nothing() -> None:
    assert redact("host=db port=5432") == "host=db port=5432"
    register_secret("")
    register_secret(None)
    assert redact("host=db port=5432") == "host=db port=5432"


def test_longest_first_so_no_fragment_survives() -> None:
    url = f"postgresql://app:{quote(PASSWORD, safe='')}@db:5432/nexus"
    register_secret(url)
    register_secret(PASSWORD)
    assert redact(f"target {url}!") == f"target {REDACTED}!"


def test_settings_register_the_url_and_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://app:{quote(PASSWORD, safe='')}@db.example.com:6543/nexus"
    monkeypatch.setenv("DATABASE_URL", url)
    load_settings(tmp_path)
    text = redact(f"a {url} b {PASSWORD} c {json.dumps(PASSWORD)} d")
    assert_clean(text)
    assert "db.example.com" not in text  # the whole URL went, as one secret
    assert text.count(REDACTED) == 3


def test_keyvalue_conninfo_password_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quoted = PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
    monkeypatch.setenv("DATABASE_URL", f"host=db user=app password='{quoted}' dbname=nexus")
    load_settings(tmp_path)
    assert_clean(redact(f"FATAL: {PASSWORD} / {quote(PASSWORD, safe='')}"))


def test_error_text_is_redacted() -> None:
    register_secret(PASSWORD)
    err = ReadinessError(f"could not connect with {PASSWORD}", error=PASSWORD)
    assert_clean(str(err))
    assert str(err) == f"could not connect with {REDACTED}"


def test_log_records_are_redacted_in_message_args_fields_and_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_secret(PASSWORD)
    logs.configure(Settings(_env_file=None, log_format="json", log_level="debug"))  # type: ignore[call-arg]
    log = logging.getLogger("provisioning.sample")
    log.info("message %s", PASSWORD, extra={"fields": {"nested": {"list": [PASSWORD, 1]}}})
    log.info(f"inline {PASSWORD}", extra={"fields": {"error": PASSWORD, "obj": Path(PASSWORD)}})
    try:
        raise MigrationSqlError("failed", error=PASSWORD) from ValueError(PASSWORD)
    except MigrationSqlError:
        log.exception("with a traceback")
    try:
        raise RuntimeError(f"boom {PASSWORD}")
    except RuntimeError:
        log.error("unexpected", exc_info=True)
    out = capsys.readouterr()
    assert_clean(out.out + out.err)
    lines = [json.loads(line) for line in out.out.splitlines()]
    assert lines[0]["message"] == f"message {REDACTED}"
    assert lines[0]["nested"] == {"list": [REDACTED, 1]}
    assert lines[1]["error"] == REDACTED and lines[1]["obj"] == REDACTED
    assert "RuntimeError: boom [REDACTED]" in str(lines[3]["traceback"])


def test_pretty_output_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    register_secret(PASSWORD)
    logs.configure(Settings(_env_file=None, log_format="pretty", log_level="debug"))  # type: ignore[call-arg]
    log = logging.getLogger("provisioning.sample")
    log.warning(f"retry {PASSWORD}", extra={"fields": {"error": PASSWORD}})
    try:
        raise RuntimeError(PASSWORD)
    except RuntimeError:
        log.error("unexpected", exc_info=True)
    out = capsys.readouterr()
    flat = "".join((out.out + out.err).split())  # rich may wrap a long line anywhere
    for form in forms(PASSWORD):
        assert "".join(form.split()) not in flat
    assert REDACTED in out.err


# Secrets drawn without the letters of "[REDACTED]", so a replacement can never spell one.
secrets = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[]REDACT<>"),
    min_size=4,
    max_size=40,
)


@given(secret=secrets, which=st.integers(min_value=0, max_value=2))
def test_property_no_form_of_any_secret_survives(secret: str, which: int) -> None:
    clear_secrets()
    register_secret(secret)
    form = forms(secret)[which]
    out = redact(f"<<{form}>> and <<{secret}>>")
    assert secret not in out
    assert form not in out
    assert out.startswith(f"<<{REDACTED}")
