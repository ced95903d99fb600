"""Exit codes and the domain errors that carry them: the only place exit codes are spelled out."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0
    GENERAL = 1  # bad settings, refusal, unexpected
    READINESS = 2
    MIGRATION = 3
    DEPENDENCY = 127
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2, as shells report it
    TERMINATED = 143  # SIGTERM: 128 + 15


class ProvisioningError(Exception):
    """An expected failure: one error line, a suggestion, and an exit code."""

    exit_code: ClassVar[ExitCode] = ExitCode.GENERAL
    default_suggestion: ClassVar[str] = "Re-run with LOG_LEVEL=debug for details."

    def __init__(self, message: str, *, suggestion: str | None = None, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion or self.default_suggestion
        self.fields = fields

    def __str__(self) -> str:
        # Imported here so this module stays dependency-free for the fast `inv --list` path.
        from provisioning.redact import redact

        return redact(self.message)


class SettingsError(ProvisioningError):
    default_suggestion = "Fix the named variable in the environment or .env, then run again."


class RefusedError(ProvisioningError):
    default_suggestion = "Nothing was changed. Read the message above for how to proceed."


class DependencyError(ProvisioningError):
    exit_code = ExitCode.DEPENDENCY
    default_suggestion = 'Install Python 3.11+ and run `pip install -e ".[dev]"` in the project.'


class ReadinessError(ProvisioningError):
    exit_code = ExitCode.READINESS
    default_suggestion = (
        "Check that PostgreSQL is running and reachable (`inv server.start` for the embedded "
        "server), or raise DB_TIMEOUT."
    )


class MigrationError(ProvisioningError):
    exit_code = ExitCode.MIGRATION
    default_suggestion = "Check migration files for syntax errors, then run `inv migrate` again."


class BadMigrationFileError(MigrationError):
    default_suggestion = "Rename or fix the named file so it follows NNN_description.up.sql."


class ChecksumMismatchError(MigrationError):
    default_suggestion = (
        "Applied migrations must not change: restore the file (git checkout), or add a new "
        "migration. If the change is intended, `inv forget FILENAME` and run again."
    )


class LockTimeoutError(MigrationError):
    default_suggestion = (
        "Another provisioning run holds the migration lock: wait for it, or raise DB_LOCK_TIMEOUT."
    )


class MigrationSqlError(MigrationError):
    pass


class InterruptedRunError(ProvisioningError):
    """Ctrl-C: the statement in flight was cancelled and its transaction rolled back."""

    exit_code = ExitCode.INTERRUPTED
    default_suggestion = (
        "The statement in flight was cancelled and rolled back; run the task again to finish."
    )


class TerminatedRunError(InterruptedRunError):
    """SIGTERM, handled like Ctrl-C but reported with the shell's 143."""

    exit_code = ExitCode.TERMINATED


class SeedError(ProvisioningError):
    """A seed file failed: the whole seed transaction was rolled back (exit 1)."""

    default_suggestion = (
        "Fix the SQL in the named seed file (seeds must be idempotent), then run `inv seed` again."
    )
