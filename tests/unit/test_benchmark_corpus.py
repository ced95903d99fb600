"""The benchmark's corpora stay valid input for this project and for every compared tool."""

from __future__ import annotations

import sys
from pathlib import Path

from provisioning.migration_files import discover_migrations
from provisioning.sql_checks import find_meta_command, find_transaction_control

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/ is not an installed package
from benchmarks.corpus import realistic_corpus, synthetic_corpus, write_all  # noqa: E402


def test_realistic_corpus_has_what_a_real_schema_has() -> None:
    corpus = realistic_corpus()
    assert corpus.size >= 19
    text = "\n".join(m.up for m in corpus.migrations).upper()
    for feature in ("CHECK (", "REFERENCES", "CREATE INDEX", "CREATE UNIQUE INDEX",
                    "CREATE FUNCTION", "CREATE TRIGGER", "CREATE VIEW",
                    "CREATE MATERIALIZED VIEW", "INSERT INTO", "CREATE TYPE"):  # fmt: skip
        assert feature in text, feature
    assert all(m.down.strip() for m in corpus.migrations)


def test_realistic_corpus_is_accepted_by_the_migration_engine() -> None:
    corpus = realistic_corpus()
    files = discover_migrations(ROOT / "benchmarks/corpus/realistic")
    assert [f.number for f in files] == [m.number for m in corpus.migrations]
    assert all(f.down_path is not None for f in files)
    for migration in corpus.migrations:
        assert find_meta_command(migration.up) is None
        assert find_transaction_control(migration.up) is None


def test_synthetic_corpus_written_in_every_format(tmp_path: Path) -> None:
    files = write_all(synthetic_corpus(1200), tmp_path)
    assert len(list(files.nexus.glob("*.up.sql"))) == 1200
    assert len(list(files.nexus.glob("*.down.sql"))) == 1200
    assert len(list(files.yoyo.glob("*.rollback.sql"))) == 1200
    dbmate = sorted(files.dbmate.glob("*.sql"))
    assert len(dbmate) == 1200
    assert dbmate[0].name == "0001_create_synthetic_00001.sql"  # zero-padded: sorts as numbers
    first = dbmate[0].read_text()
    assert first.startswith("-- migrate:up\n") and "\n-- migrate:down\n" in first
    assert files.concatenated.read_text().count("CREATE TABLE") == 1200
    per_file = files.per_file.read_text()
    assert per_file.count("BEGIN;") == per_file.count("COMMIT;") == 1200
    engine = discover_migrations(files.nexus)
    assert [f.number for f in engine] == list(range(1, 1201))
