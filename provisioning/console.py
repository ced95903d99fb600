"""The rich side of output: consoles, the pretty log handler, tables and progress.

Only imported in pretty mode; JSON output never goes through rich.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from provisioning.redact import redact


@cache
def out() -> Console:
    return Console()


@cache
def err() -> Console:
    return Console(stderr=True)


class _FieldsRichHandler(RichHandler):
    """RichHandler that appends the record's structured fields as key=value pairs."""

    def render_message(self, record: logging.LogRecord, message: str) -> Text:
        text = Text(message)
        fields = getattr(record, "fields", None) or {}
        for key, value in fields.items():
            text.append(f"  {key}=", style="dim")
            text.append(redact(str(value)), style="cyan")
        if getattr(record, "exc_text", None):
            text.append("\n" + str(record.exc_text), style="red")
        return text


def pretty_log_handler() -> logging.Handler:
    return _FieldsRichHandler(
        console=err(), show_path=False, markup=False, rich_tracebacks=False, log_time_format="[%X]"
    )


def build_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A pure table builder, so tests can render it to a StringIO console."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(redact(cell) for cell in row))
    return table


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    out().print(build_table(title, columns, rows))


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A transient progress bar on stderr; yields a function that advances it by one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err(),
        transient=True,
    ) as progress:
        task_id = progress.add_task(description, total=total)
        yield lambda: progress.advance(task_id)
