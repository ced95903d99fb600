"""Pure parts of the operations tasks: confirmation prompt, numbering, rollback plan, doctor."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest

from provisioning.confirm import confirm
from provisioning.doctor import exit_code_of, table_rows
from provisioning.doctor_checks import error, ok, warn
from provisioning.errors import ExitCode, RefusedError
from provisioning.migration_files import is_empty_sql
from provisioning.migrations import AppliedRow
from provisioning.rollback import down_path_for, manual_procedure, plan_rollback
from provisioning.scaffold import DOWN_TEMPLATE, UP_TEMPLATE, next_number, plan_new_migration
from provisioning.seeding import seed_files


class FakeTerminal(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("answer", ["y\n", "yes\n", " YES \n"])
def test_confirm_accepts_yes_on_a_terminal(answer: str) -> None:
    prompt = io.StringIO()
    confirm("reset", "Destroy everything?", yes=False, stdin=FakeTerminal(answer, True),
            stderr=prompt)  # fmt: skip
    assert "Destroy everything? [y/N]" in prompt.getvalue()


@pytest.mark.parametrize("answer", ["\n", "n\n", "no\n", "", "maybe\n"])
def test_confirm_refuses_anything_else(answer: str) -> None:
    with pytest.raises(RefusedError, match="Cancelled"):
        confirm("reset", "?", yes=False, stdin=FakeTerminal(answer, True), stderr=io.StringIO())


def test_confirm_off_a_terminal_needs_yes_and_never_reads() -> None:
    stdin = FakeTerminal("yes\n", False)
    prompt = io.StringIO()
    with pytest.raises(RefusedError, match="not on a terminal and --yes not given") as info:
        confirm("reset the database", "?", yes=False, stdin=stdin, stderr=prompt)
    assert info.value.exit_code == ExitCode.GENERAL
    assert stdin.read() == "yes\n"  # untouched
    assert prompt.getvalue() == ""


def test_confirm_with_yes_asks_nothing() -> None:
    prompt = io.StringIO()
    confirm("reset", "?", yes=True, stdin=FakeTerminal("", False), stderr=prompt)
    assert prompt.getvalue() == ""


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], (1, 3)),
        (["README.md"], (1, 3)),
        (["005_a.up.sql", "005_a.down.sql", "002_b.up.sql"], (6, 3)),
        (["0042_a.up.sql"], (43, 4)),
        (["1_a.up.sql", "2_b.up.sql"], (3, 1)),
        (["999_a.up.sql"], (1000, 3)),
    ],
)
def test_next_number_keeps_the_folder_width(names: list[str], expected: tuple[int, int]) -> None:
    assert next_number(names) == expected


def test_plan_new_migration_paths() -> None:
    plan = plan_new_migration(Path("/m"), "add_invoices", ["005_x.up.sql"])
    assert plan.up_path == Path("/m/006_add_invoices.up.sql")
    assert plan.down_path == Path("/m/006_add_invoices.down.sql")
    assert plan_new_migration(Path("/m"), "x", []).up_path.name == "001_x.up.sql"


@pytest.mark.parametrize("name", ["", "bad name", "a.b", "../x", "_lead", "ünï", "x/y"])
def test_plan_new_migration_refuses_bad_names(name: str) -> None:
    with pytest.raises(RefusedError, match="Invalid migration name"):
        plan_new_migration(Path("/m"), name, [])


def test_templates_count_as_empty() -> None:
    assert is_empty_sql(UP_TEMPLATE.format(filename="001_x.up.sql"))
    assert is_empty_sql(DOWN_TEMPLATE.format(filename="001_x.down.sql", up_filename="001_x"))
    assert "empty until edited" in UP_TEMPLATE


def _row(id_: int, name: str) -> AppliedRow:
    return AppliedRow(id_, name, datetime(2025, 1, 1), "0" * 64)


def test_plan_rollback_goes_by_id_newest_first() -> None:
    # 002 was applied after 003 (out of order): it is undone first.
    rows = [_row(1, "001_a.up.sql"), _row(2, "003_c.up.sql"), _row(3, "002_b.up.sql")]
    assert [r.filename for r in plan_rollback(rows, 1)] == ["002_b.up.sql"]
    assert [r.filename for r in plan_rollback(rows, 2)] == ["002_b.up.sql", "003_c.up.sql"]


@pytest.mark.parametrize(("count", "steps"), [(0, 1), (2, 3), (2, 0)])
def test_plan_rollback_refuses(count: int, steps: int) -> None:
    rows = [_row(i, f"00{i}_x.up.sql") for i in range(1, count + 1)]
    with pytest.raises(RefusedError):
        plan_rollback(rows, steps)


def test_down_path_and_manual_procedure() -> None:
    assert down_path_for(Path("/m"), "019_add.up.sql") == Path("/m/019_add.down.sql")
    steps = manual_procedure("019_add.up.sql")
    assert "DELETE FROM schema_migrations WHERE filename='019_add.up.sql';" in steps[2]


def test_doctor_exit_code_is_the_most_serious_error() -> None:
    assert exit_code_of([ok("a", ""), warn("b", "", "")]) == ExitCode.OK
    assert exit_code_of([error("a", "", "", ExitCode.MIGRATION), error("b", "", "")]) == 3
    assert exit_code_of([error("a", "", "", ExitCode.MIGRATION),
                         error("s", "", "", ExitCode.READINESS)]) == 2  # fmt: skip
    assert table_rows([warn("lock", "held", "wait")]) == [["lock", "WARN", "held", "wait"]]


def test_doctor_table_renders() -> None:
    from rich.console import Console

    from provisioning.console import build_table

    console = Console(file=io.StringIO(), width=120)
    console.print(build_table("inv doctor", ["check", "result", "detail", "fix"],
                              table_rows([ok("server", "answered in 3ms")])))  # fmt: skip
    assert "answered in 3ms" in console.file.getvalue()  # type: ignore[attr-defined]


def test_seed_files_in_name_order(tmp_path: Path) -> None:
    for name in ["010_b.sql", "002_a.sql", "notes.txt", "001_z.sql"]:
        (tmp_path / name).write_text("SELECT 1;")
    assert [p.name for p in seed_files(tmp_path)] == ["001_z.sql", "002_a.sql", "010_b.sql"]
    assert seed_files(tmp_path / "missing") == []
