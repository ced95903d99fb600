"""Structural redaction: secrets derived from the connection settings never reach any output.

Secrets are registered once, when the settings are parsed, in every form they can take in
text (raw, percent-encoded, JSON-escaped, repr-escaped); `redact` replaces each of them.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

_secrets: set[str] = set()


def _forms(secret: str) -> set[str]:
    """Every spelling of `secret` that could appear in a log line or exception text."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),  # libpq conninfo quoting
    }
    return {f for f in forms if f}


def register_secret(secret: str | None) -> None:
    """Remember a secret (a password, a full connection string) for every later `redact`."""
    if secret:
        _secrets.update(_forms(secret))


def redact(text: str) -> str:
    """Replace every registered secret in `text`; longest first so no fragment survives."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def clear_secrets() -> None:
    """Forget all secrets (tests configure several settings objects in one process)."""
    _secrets.clear()
