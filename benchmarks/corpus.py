"""The benchmark's migration corpora and their copies in each tool's file format.

A corpus is a list of `Migration`s (number, description, up SQL, down SQL). The realistic one
is read from `benchmarks/corpus/realistic/` (this project's `NNN_description.up.sql` format);
the synthetic one is generated: N files, each creating a table with a few columns, an index
and a comment. `write_all` lays a corpus out for every tool:

- `nexus/`  `NNN_description.up.sql` + `.down.sql` (this project)
- `dbmate/` `NNN_description.sql` with `-- migrate:up` / `-- migrate:down` sections
- `yoyo/`   `NNN_description.sql` + `NNN_description.rollback.sql`
- `all.sql` every up file concatenated, for `psql -1 -f` (the floor)
- `per_file.sql` the same, each file wrapped in its own BEGIN/COMMIT: the floor for tools that
  commit file by file, and the only one that fits 2,000 files (one transaction creating 2,000
  tables needs more lock slots than PostgreSQL's default `max_locks_per_transaction` gives)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REALISTIC_DIR = Path(__file__).parent / "corpus" / "realistic"
_NAME = re.compile(r"^(\d+)_(\w+)\.up\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    description: str
    up: str
    down: str


@dataclass(frozen=True)
class Corpus:
    name: str  # "realistic" or "synthetic-500"
    migrations: tuple[Migration, ...]

    @property
    def size(self) -> int:
        return len(self.migrations)

    def stem(self, migration: Migration) -> str:
        width = max(3, len(str(self.size)))
        return f"{migration.number:0{width}d}_{migration.description}"


def realistic_corpus(folder: Path = REALISTIC_DIR) -> Corpus:
    migrations = []
    for path in sorted(folder.glob("*.up.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"unexpected file name in the realistic corpus: {path.name}")
        down = path.with_name(path.name.replace(".up.sql", ".down.sql"))
        migrations.append(
            Migration(int(match[1]), match[2], path.read_text("utf-8"), down.read_text("utf-8"))
        )
    return Corpus("realistic", tuple(migrations))


def synthetic_migration(number: int) -> Migration:
    table = f"synthetic_{number:05d}"
    up = (
        f"CREATE TABLE {table} (\n"
        "    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    name        text NOT NULL,\n"
        "    amount      numeric(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),\n"
        "    payload     jsonb,\n"
        "    created_at  timestamptz NOT NULL DEFAULT now()\n"
        ");\n\n"
        f"CREATE INDEX {table}_created_at_idx ON {table} (created_at);\n"
        f"COMMENT ON TABLE {table} IS 'Synthetic benchmark table {number}.';\n"
    )
    return Migration(number, f"create_{table}", up, f"DROP TABLE {table};\n")


def synthetic_corpus(size: int) -> Corpus:
    return Corpus(f"synthetic-{size}", tuple(synthetic_migration(n) for n in range(1, size + 1)))


@dataclass(frozen=True)
class CorpusFiles:
    """Where one corpus was written, per tool."""

    corpus: Corpus
    nexus: Path
    dbmate: Path
    yoyo: Path
    concatenated: Path
    per_file: Path


def write_all(corpus: Corpus, root: Path) -> CorpusFiles:
    base = root / corpus.name
    files = CorpusFiles(
        corpus,
        base / "nexus",
        base / "dbmate",
        base / "yoyo",
        base / "all.sql",
        base / "per_file.sql",
    )
    for folder in (files.nexus, files.dbmate, files.yoyo):
        folder.mkdir(parents=True, exist_ok=True)
    for migration in corpus.migrations:
        stem = corpus.stem(migration)
        (files.nexus / f"{stem}.up.sql").write_text(migration.up, "utf-8")
        (files.nexus / f"{stem}.down.sql").write_text(migration.down, "utf-8")
        (files.dbmate / f"{stem}.sql").write_text(
            f"-- migrate:up\n{migration.up}\n-- migrate:down\n{migration.down}", "utf-8"
        )
        (files.yoyo / f"{stem}.sql").write_text(migration.up, "utf-8")
        (files.yoyo / f"{stem}.rollback.sql").write_text(migration.down, "utf-8")
    files.concatenated.write_text(
        "\n".join(migration.up for migration in corpus.migrations), "utf-8"
    )
    files.per_file.write_text(
        "".join(f"BEGIN;\n{migration.up}\n;\nCOMMIT;\n" for migration in corpus.migrations),
        "utf-8",
    )
    return files
