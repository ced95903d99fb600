"""One typed settings object: environment, then `.env`, then defaults. The only env reader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from provisioning.errors import SettingsError
from provisioning.redact import register_secret

DAY_MS = 86_400_000
Millis = Annotated[int, Field(ge=1, le=DAY_MS)]

# What each variable accepts, in the words of the error line that names it.
ALLOWED: dict[str, str] = {
    "database_url": "a libpq URL (postgresql://user:pass@host:port/db) or key=value conninfo",
    "db_timeout": f"a whole number of milliseconds from 1 to {DAY_MS}",
    "skip_seed": "true/1/yes or false/0/no",
    "log_level": "debug, info, warn or error",
    "log_format": "json, pretty or auto",
    "app_env": "development, test or production",
    "migrations_dir": "a folder path, absolute or relative to the project root",
    "seeds_dir": "a folder path, absolute or relative to the project root",
    "db_backoff_base_ms": f"a whole number of milliseconds from 1 to {DAY_MS}",
    "db_backoff_max_ms": f"a whole number of milliseconds from 1 to {DAY_MS}, at least the base",
    "db_backoff_jitter": "a fraction from 0 to 1 (0.3 means up to 30% extra)",
    "db_max_attempts": "a whole number from 1 to 100000",
    "db_lock_timeout": f"a whole number of milliseconds from 0 to {DAY_MS}",
    "migration_lock_timeout": f"a whole number of milliseconds from 0 (off) to {DAY_MS}",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, case_sensitive=False
    )

    project_root: Path = Path(".")  # set by load_settings from where tasks.py lives
    database_url: SecretStr | None = None  # None: the embedded server
    db_timeout: Millis = 300_000
    skip_seed: bool | None = None  # None: not set, so production may skip by default
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    log_format: Literal["json", "pretty", "auto"] = "auto"
    app_env: Literal["development", "test", "production"] = "development"
    migrations_dir: Path = Path("migrations")
    seeds_dir: Path = Path("seeds")
    db_backoff_base_ms: Millis = 1000
    db_backoff_max_ms: Millis = 30_000
    db_backoff_jitter: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.3
    db_max_attempts: Annotated[int, Field(ge=1, le=100_000)] = 60
    db_lock_timeout: Annotated[int, Field(ge=0, le=DAY_MS)] = 60_000
    migration_lock_timeout: Annotated[int, Field(ge=0, le=DAY_MS)] = 0

    @field_validator("log_level", "log_format", "app_env", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("migrations_dir", "seeds_dir", mode="before")
    @classmethod
    def _non_empty_path(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty path")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _parse_conninfo(cls, value: object) -> object:
        if value is None:
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        register_secret(raw)  # before parsing, so even a parse failure cannot leak it
        raw = raw.strip()  # a pasted newline would otherwise end up in the database name
        if not raw:
            raise ValueError("empty")
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(raw)
        except Exception:
            # libpq's message can quote fragments of the value: never pass it on.
            raise ValueError("libpq cannot parse it") from None
        register_secret(str(params.get("password") or ""))
        return raw

    @model_validator(mode="after")
    def _backoff_cap(self) -> Settings:
        if self.db_backoff_max_ms < self.db_backoff_base_ms:
            raise ValueError("db_backoff_max_ms below db_backoff_base_ms")
        return self

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def seeding_skipped_reason(self) -> str | None:
        """Why seeding is skipped, or None when it runs (production skips unless told not to)."""
        if self.skip_seed:
            return "SKIP_SEED is set"
        if self.skip_seed is None and self.app_env == "production":
            return "APP_ENV=production (set SKIP_SEED=false to seed anyway)"
        return None


def _error_for(exc: ValidationError) -> SettingsError:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "db_backoff_max_ms"
    name = field.upper()
    # The message names the variable and what it accepts; it never echoes the value.
    return SettingsError(
        f"Invalid {name}: expected {ALLOWED.get(field, 'a valid value')}",
        variable=name,
        allowed=ALLOWED.get(field, ""),
    )


def load_settings(project_root: Path, **overrides: object) -> Settings:
    """Read and validate every setting; paths come back absolute. Raises SettingsError."""
    given: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings = Settings(
            _env_file=project_root / ".env",  # type: ignore[call-arg]
            project_root=project_root,
            **given,
        )
    except ValidationError as exc:
        raise _error_for(exc) from None
    return settings.model_copy(
        update={
            "migrations_dir": project_root / settings.migrations_dir,
            "seeds_dir": project_root / settings.seeds_dir,
        }
    )
