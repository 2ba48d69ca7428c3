"""The README stays true: its module table names the tree as it is, and the `check` output it
shows is what `remediator check` prints for the shipped example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from remediator.cli import main

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
PACKAGE = REPO / "remediator"


def module_table() -> dict[str, str]:
    """`| module | owns |` rows: the module cell (backticks off) → the owns cell."""
    start = README.index("| module | owns |")
    rows = README[start:].split("\n\n", 1)[0].splitlines()[2:]
    return {
        row.split(" | ", 1)[0].strip("| `"): row.split(" | ", 1)[1].rstrip(" |") for row in rows
    }


def test_the_module_table_names_every_package_and_leaf_and_nothing_else() -> None:
    table = module_table()
    packages = {f"remediator/{d.name}/" for d in PACKAGE.iterdir() if (d / "__init__.py").exists()}
    assert set(table) - {"remediator/*.py"} == packages
    leaves = {p.name for p in PACKAGE.glob("*.py")} - {"__init__.py", "__main__.py"}
    assert set(re.findall(r"`(\w+\.py)`", table["remediator/*.py"])) == leaves
    for package, owns in table.items():
        if package != "remediator/*.py":
            for name in re.findall(r"`(\w+\.py)`", owns):
                assert (REPO / package / name).exists(), f"{package}{name} is in the README"


def test_the_readme_shows_what_check_prints_for_the_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command = "$ remediator check -c examples/remediator.yaml --no-secrets"
    shown = README[README.index(command) :].split("\n$ ", 1)[0].splitlines()[1:]
    monkeypatch.chdir(REPO)
    assert main(["check", "-c", "examples/remediator.yaml", "--no-secrets"]) == 0
    assert capsys.readouterr().out.splitlines() == shown
