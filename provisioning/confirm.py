"""Confirmation before destroying anything: ask on a terminal, refuse off one without --yes.

The streams are injected so the prompt logic is tested without a terminal.
"""

from __future__ import annotations

import sys
from typing import TextIO

from provisioning.errors import RefusedError

NEEDS_YES = "Refusing to {action} without confirmation: not on a terminal and --yes not given"
NEEDS_YES_SUGGESTION = "Nothing was changed. Pass --yes to confirm non-interactively."
CANCELLED = "Cancelled: {action} not confirmed"
CANCELLED_SUGGESTION = "Nothing was changed. Answer 'yes' to the prompt, or pass --yes."
ACCEPTED = frozenset({"y", "yes"})


def confirm(
    action: str,
    question: str,
    *,
    yes: bool,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Return when the user agreed (or `yes`); raise RefusedError (exit 1) otherwise.

    `action` completes "Refusing to ..." (e.g. "reset the database"); `question` is shown at the
    prompt, which goes to stderr so stdout stays JSON-only.
    """
    if yes:
        return
    stdin = stdin if stdin is not None else sys.stdin
    stderr = stderr if stderr is not None else sys.stderr
    if stdin is None or stdin.closed or not stdin.isatty():
        raise RefusedError(NEEDS_YES.format(action=action), suggestion=NEEDS_YES_SUGGESTION)
    stderr.write(f"{question} [y/N] ")
    stderr.flush()
    answer = stdin.readline()
    if answer.strip().lower() not in ACCEPTED:
        raise RefusedError(CANCELLED.format(action=action), suggestion=CANCELLED_SUGGESTION)
