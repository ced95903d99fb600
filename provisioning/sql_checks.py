"""Statement-level checks and splitting with PostgreSQL's own grammar (pglast); pure, no DB.

pglast is imported lazily and only when a file needs it: a cheap textual pre-filter decides
whether a file could hold a transaction-control statement or a psql meta-command, and only
then is the file parsed. Words inside strings, comments or function bodies never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A file may hold these statements only when it is marked no-transaction.
_TXN_WORDS = re.compile(r"\b(COMMIT|ROLLBACK|END|ABORT|PREPARE)\b", re.IGNORECASE)
_BACKSLASH_LINE = re.compile(r"^[ \t]*\\", re.MULTILINE)

META_COMMAND = "psql meta-command"
TRANSACTION_CONTROL = "transaction control statement"


@dataclass(frozen=True)
class Refusal:
    """Why a file cannot run: the rule and the 1-based line where it was found."""

    rule: str
    line: int
    detail: str


@dataclass(frozen=True)
class Statement:
    """One statement of a no-transaction file and its character offset in the file."""

    text: str
    offset: int


def line_of(text: str, char_index: int) -> int:
    """1-based line number of a 0-based character index."""
    return text.count("\n", 0, max(0, char_index)) + 1


def _char_index(data: bytes, byte_index: int) -> int:
    return len(data[:byte_index].decode("utf-8", errors="ignore"))


def find_meta_command(text: str) -> Refusal | None:
    """A backslash outside strings and comments (`\\i`, `\\set`, ...): psql, not SQL."""
    if not _BACKSLASH_LINE.search(text):
        return None
    from pglast import parser

    data = text.encode("utf-8")
    try:
        tokens = parser.scan(text)
    except Exception:  # an unterminated string: let PostgreSQL report it
        return None
    for token in tokens:
        if token.name == "ASCII_92":
            index = _char_index(data, token.start)
            end = text.find("\n", index)
            command = text[index : end if end >= 0 else len(text)].strip()
            return Refusal(META_COMMAND, line_of(text, index), command)
    return None


def find_transaction_control(text: str) -> Refusal | None:
    """A COMMIT/ROLLBACK (END, ABORT, PREPARE TRANSACTION ...) statement of the file's own."""
    if not _TXN_WORDS.search(text):
        return None
    import pglast
    from pglast.enums import TransactionStmtKind

    allowed = {
        TransactionStmtKind.TRANS_STMT_BEGIN,
        TransactionStmtKind.TRANS_STMT_START,
        TransactionStmtKind.TRANS_STMT_SAVEPOINT,
        TransactionStmtKind.TRANS_STMT_RELEASE,
        TransactionStmtKind.TRANS_STMT_ROLLBACK_TO,
    }
    try:
        statements = pglast.parse_sql(text)
    except Exception:  # not parseable here: PostgreSQL will report the syntax error
        return None
    data = text.encode("utf-8")
    for raw in statements:
        stmt = raw.stmt
        if type(stmt).__name__ == "TransactionStmt" and getattr(stmt, "kind", None) not in allowed:
            index = _char_index(data, raw.stmt_location or 0)
            while index < len(text) and text[index].isspace():
                index += 1
            word = text[index : index + 40].split(";")[0].strip()
            return Refusal(TRANSACTION_CONTROL, line_of(text, index), word)
    return None


def split_statements(text: str) -> list[Statement]:
    """Split with PostgreSQL's grammar, so dollar quotes, strings and comments are respected."""
    import pglast

    data = text.encode("utf-8")
    result = []
    for raw in pglast.parse_sql(text):
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(data)
        chunk = data[start:end].decode("utf-8")
        stripped = chunk.lstrip()
        offset = _char_index(data, start) + (len(chunk) - len(stripped))
        if stripped.strip():
            result.append(Statement(stripped.rstrip(), offset))
    return result
