"""The README and the documentation pages cannot drift from the code: every
``python`` block runs, every generated output block equals what the code
prints today, and the type errors the README promises are the ones mypy
reports. ``make docs-outputs`` rewrites the output blocks."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import pytest

from tests.markdown_examples import ROOT, Block, blocks, documents, run_file

README = ROOT / "README.md"


@pytest.mark.parametrize(
    "path", documents(), ids=lambda path: str(path.relative_to(ROOT))
)
def test_examples_run_and_outputs_are_current(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # whatever an example writes lands here
    outcome = run_file(path)
    stale = outcome.stale()
    diffs = [
        "".join(
            difflib.unified_diff(
                block.text.splitlines(keepends=True),
                outcome.expected[block].splitlines(keepends=True),
                f"{block.where} (in the file)",
                "what the code prints",
            )
        )
        for block in stale
    ]
    assert not diffs, "stale output; run `make docs-outputs`:\n" + "\n".join(diffs)
    assert not outcome.type_errors, "\n".join(outcome.type_errors)


def test_readme_has_no_unchecked_block() -> None:
    """Every README block is run, type-checked, compared with real output, or a
    console block whose commands are checked below."""
    unchecked = [
        block.where
        for block in blocks(README)
        if block.language != "console"
        and not (block.language == "python" and block.directive in (None, "mypy"))
        and block.directive != "output"
    ]
    assert unchecked == []
    assert sum(block.directive == "output" for block in blocks(README)) >= 3


def _console_commands(block: Block) -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in block.text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_make_targets_named_in_the_docs_exist() -> None:
    """`make X` in a console block names a real target (a dry run succeeds)."""
    targets = sorted(
        {
            command.split()[1]
            for path in documents()
            for block in blocks(path)
            if block.language == "console"
            for command in _console_commands(block)
            if command.startswith("make ")
        }
    )
    assert {"demo", "test", "docs"} <= set(targets)
    for target in targets:
        dry = subprocess.run(
            ["make", "-n", target],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"


def test_an_output_block_that_differs_is_reported(tmp_path: Path) -> None:
    """The checker itself: a stale output block and a wrong type-error mark are
    found, and an unknown directive is refused."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nprint('hello')\n```\n\n<!-- test: output -->\n```text\nhullo\n```\n"
        "<!-- test: mypy -->\n```python\nx: int = 1  # type error\n```\n",
        encoding="utf-8",
    )
    outcome = run_file(page)
    assert [block.text for block in outcome.stale()] == ["hullo\n"]
    assert list(outcome.expected.values()) == ["hello\n"]
    assert outcome.type_errors == [
        "page.md:11: marked '# type error', but mypy accepts it"
    ]
    page.write_text("<!-- test: sikp -->\n```python\nraise SystemExit\n```\n")
    with pytest.raises(ValueError, match="unknown directive 'sikp'"):
        run_file(page)


def test_contributors_layout_lists_every_module() -> None:
    """The layout in docs/contributing.md names each file of the package, and
    only files that exist."""
    page = ROOT / "docs" / "contributing.md"
    layout = next(
        block for block in blocks(page) if block.text.startswith("src/typed_saga/")
    )
    listed = {
        line.split()[0]
        for line in layout.text.splitlines()[1:]
        if line.startswith("  ") and not line.startswith("   ")
    }
    package = ROOT / "src" / "typed_saga"
    actual = {path.name for path in package.iterdir() if path.is_file()}
    assert listed == actual
