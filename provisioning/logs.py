"""Logging, configured once: JSON lines on stdout, or rich on a terminal; always redacted.

Modules log with `log.info(MESSAGE, extra={"fields": {...}})`; field names use the contract's
spelling (`exitCode`, `delayMs`). Rich is imported only in pretty mode, so JSON runs skip it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from provisioning.redact import redact

if TYPE_CHECKING:
    from provisioning.settings import Settings

ROOT_LOGGER = "provisioning"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}
LEVELS["error"] = logging.ERROR
LEVEL_NAMES = {number: name for name, number in LEVELS.items()}
LEVEL_NAMES[logging.CRITICAL] = "error"


def _redact_value(value: object) -> object:
    """Redact strings wherever they sit in a field value, before any serialisation."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """Rewrites the message, its args, its fields and any traceback of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = _redact_value(fields)
        if record.exc_info:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def iso_timestamp(created: float) -> str:
    """`2025-10-30T10:15:30.123Z`: ISO-8601 UTC with milliseconds and Z."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": iso_timestamp(record.created),
            "level": LEVEL_NAMES.get(record.levelno, "info"),
            "message": record.getMessage(),
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            line.setdefault(key, value)
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdout handler that stays quiet when the reader has gone (`inv status | head`)."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            return
        super().handleError(record)


def _json_handler() -> logging.Handler:
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(JsonLinesFormatter())
    return handler


def _pretty_handler() -> logging.Handler:
    from provisioning.console import pretty_log_handler

    return pretty_log_handler()


def wants_pretty(log_format: str) -> bool:
    if log_format == "auto":
        return sys.stdout.isatty()
    return log_format == "pretty"


def _install(handler: logging.Handler, level: int) -> None:
    logger = logging.getLogger(ROOT_LOGGER)
    for old in list(logger.handlers):  # a second call replaces rather than stacks
        logger.removeHandler(old)
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def configure_fallback() -> None:
    """Before settings are known: info level, JSON unless stdout is a terminal."""
    _install(_pretty_handler() if wants_pretty("auto") else _json_handler(), logging.INFO)


def configure(settings: Settings) -> None:
    pretty = wants_pretty(settings.log_format)
    _install(_pretty_handler() if pretty else _json_handler(), LEVELS[settings.log_level])


def is_pretty() -> bool:
    handlers = logging.getLogger(ROOT_LOGGER).handlers
    return bool(handlers) and not isinstance(handlers[0].formatter, JsonLinesFormatter)
