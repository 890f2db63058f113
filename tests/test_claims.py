"""docs/claims.md, checked: every test it names exists, every cell of its test column says something this
check understands, and no claim is left ``pending``.

The checks read files only (``ast`` on the test modules named); nothing is imported or run. The last
tests feed the checkers made-up tables, so a broken checker fails here instead of passing everything."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "docs" / "claims.md"
NONE, PENDING = "none", "pending"
# tests/PATH.py::test_name, or tests/PATH.py::Class::test_name
REFERENCE = re.compile(r"tests/[\w/.-]+?\.py::\w+(?:::\w+)?")
# What may stand between references in a test cell.
SEPARATORS = re.compile(r"<br\s*/?>|[,`\s]")


@dataclass(frozen=True)
class Row:
    """One row of a claims table: its line in the file and its cells."""

    line: int
    cells: tuple[str, ...]

    @property
    def claim(self) -> str:
        return self.cells[0]

    @property
    def tests(self) -> str:
        return self.cells[1] if len(self.cells) > 1 else ""

    @property
    def note(self) -> str:
        return self.cells[2] if len(self.cells) > 2 else ""

    @property
    def references(self) -> list[str]:
        return REFERENCE.findall(self.tests)


def cells(line: str) -> tuple[str, ...]:
    """The cells of a markdown table row; an escaped pipe (``\\|``) stays inside its cell."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return tuple(cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner))


def parse(text: str) -> list[Row]:
    """The rows of every table in ``text`` whose first column is headed ``claim``; other tables are skipped."""
    rows: list[Row] = []
    table: str | None = None  # None outside a table, else "claims" or "other"
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith("|"):
            table = None
            continue
        row = cells(line)
        if table is None:
            table = "claims" if row[0].lower() == "claim" else "other"
        elif table == "claims" and not all(set(cell) <= set("-: ") for cell in row):
            rows.append(Row(number, row))
    return rows


def malformed(rows: list[Row], name: str = "docs/claims.md") -> list[str]:
    """Rows this check cannot read: not three cells, no claim, or a test cell that is neither ``none``,
    ``pending`` nor references alone; and a ``none`` without a note saying what is missing."""
    problems = []
    for row in rows:
        where = f"{name}:{row.line}"
        if len(row.cells) != 3:
            problems.append(f"{where}: {len(row.cells)} cells, not 3 (claim | test(s) | note)")
            continue
        if not row.claim:
            problems.append(f"{where}: no claim")
        cell = row.tests.strip("` ").lower()
        if cell == NONE:
            if not row.note:
                problems.append(f"{where}: `none` without a note saying what test is missing")
            continue
        if cell == PENDING:
            continue
        if not row.references:
            problems.append(f"{where}: the test cell {row.tests!r} names no test (nor says none or pending)")
            continue
        leftover = SEPARATORS.sub("", REFERENCE.sub("", row.tests))
        if leftover:
            problems.append(f"{where}: the test cell holds {leftover!r} besides tests/PATH.py::test_name references")
    return problems


def definitions(path: Path) -> set[str]:
    """The functions a test module defines at module level, and its classes' methods as ``Class::name``."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return found


def missing(rows: list[Row], root: Path, name: str = "docs/claims.md") -> list[str]:
    """Every reference whose file does not exist under ``root``, or does not define that test."""
    known: dict[str, set[str] | None] = {}
    problems = []
    for row in rows:
        for reference in row.references:
            path, test = reference.split("::", 1)
            if path not in known:
                file = root / path
                known[path] = definitions(file) if file.is_file() else None
            defined = known[path]
            where = f"{name}:{row.line}: {reference}"
            if defined is None:
                problems.append(f"{where}: no such file")
            elif test not in defined:
                problems.append(f"{where}: {path} defines no {test} at module level")
            elif not test.rsplit("::", 1)[-1].startswith("test"):
                problems.append(f"{where}: {test} is not a test (pytest runs only test* functions)")
    return problems


def pending(rows: list[Row], name: str = "docs/claims.md") -> list[str]:
    return [f"{name}:{row.line}: {row.claim}" for row in rows if row.tests.strip("` ").lower() == PENDING]


def _rows() -> list[Row]:
    rows = parse(CLAIMS.read_text())
    assert len(rows) > 20, f"{CLAIMS} holds {len(rows)} claims: is its table still headed | claim | test(s) | note |?"
    return rows


def test_the_claims_table_is_well_formed() -> None:
    problems = malformed(_rows())
    assert not problems, "\n".join(problems)


def test_every_listed_test_exists() -> None:
    problems = missing(_rows(), ROOT)
    assert not problems, "tests named in docs/claims.md that do not exist:\n" + "\n".join(problems)


def test_no_claim_is_pending() -> None:
    """Fails until each ``pending`` row names the test, merged, that proves its claim."""
    waiting = pending(_rows())
    assert not waiting, "claims whose test is still pending:\n" + "\n".join(waiting)


# ------------------------------------------------------------ the checkers, on made-up tables

MODULE = """
import pytest


def test_here() -> None:
    def test_inner() -> None: ...


async def test_async() -> None: ...


def helper() -> None: ...


class TestGroup:
    def test_method(self) -> None: ...
"""


def _table(*lines: str) -> str:
    return "\n".join(["# claims", "", "| claim | test(s) | note |", "|---|---|---|", *lines, "", "after"])


def test_a_made_up_reference_is_reported(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_real.py").write_text(MODULE)
    rows = parse(
        _table(
            "| real | `tests/test_real.py::test_here`<br>`tests/test_real.py::test_async` | |",
            "| method | tests/test_real.py::TestGroup::test_method | |",
            "| gone | `tests/test_real.py::test_here`, `tests/test_real.py::test_gone` | |",
            "| no file | `tests/test_nowhere.py::test_here` | |",
            "| nested | `tests/test_real.py::test_inner` | |",
            "| no method | `tests/test_real.py::TestGroup::test_gone` | |",
            "| helper | `tests/test_real.py::helper` | |",
        )
    )
    assert [row.claim for row in rows] == ["real", "method", "gone", "no file", "nested", "no method", "helper"]
    assert malformed(rows) == []
    problems = missing(rows, tmp_path)
    assert len(problems) == 5, problems
    assert "tests/test_real.py::test_gone: tests/test_real.py defines no test_gone" in problems[0]
    assert problems[0].startswith("docs/claims.md:7: ")
    assert "tests/test_nowhere.py::test_here: no such file" in problems[1]
    assert "defines no test_inner at module level" in problems[2], "a function inside a test is not a test"
    assert "defines no TestGroup::test_gone" in problems[3]
    assert "helper is not a test" in problems[4]


def test_the_real_tests_named_here_are_found() -> None:
    rows = parse(_table("| this file | `tests/test_claims.py::test_every_listed_test_exists` | |"))
    assert missing(rows, ROOT) == []
    assert missing(rows, ROOT / "docs") != [], "looked up under the root it is given"


def test_pending_rows_and_unreadable_cells_are_reported() -> None:
    rows = parse(
        _table(
            "| waits | pending | being written |",
            "| waits too | `pending` | |",
            "| unproven | none | nothing kills a worker there |",
            "| unproven, silently | none | |",
            "| bare name | test_here | |",
            "| half done | pending, `tests/test_claims.py::test_no_claim_is_pending` | |",
            "| two cells | `tests/test_claims.py::test_no_claim_is_pending` |",
            "|  | `tests/test_claims.py::test_no_claim_is_pending` | no claim |",
        )
    )
    assert pending(rows) == ["docs/claims.md:5: waits", "docs/claims.md:6: waits too"]
    problems = malformed(rows)
    assert len(problems) == 5, problems
    assert "`none` without a note" in problems[0]
    assert "names no test" in problems[1]
    assert "holds 'pending' besides" in problems[2]
    assert "2 cells, not 3" in problems[3]
    assert problems[4].endswith("no claim")


def test_only_claims_tables_are_read() -> None:
    text = "\n".join(
        [
            "| setting | default |",
            "|---|---|",
            "| `MEDIASIFT_LEASE_S` | 30 |",
            "",
            "| claim | test(s) | note |",
            "|:---|---|---:|",
            "| a \\| b | `tests/test_claims.py::test_only_claims_tables_are_read` | |",
        ]
    )
    (row,) = parse(text)
    assert (row.line, row.claim, row.references) == (
        7,
        "a | b",
        ["tests/test_claims.py::test_only_claims_tables_are_read"],
    )
