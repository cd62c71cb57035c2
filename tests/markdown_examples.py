"""Run the code blocks of a Markdown file, and check or rewrite its output blocks.

Used by ``tests/test_docs_examples.py`` (check) and by ``make docs-outputs``
(``python -m tests.markdown_examples --update FILE...``: rewrite every output
block from a fresh run).

Rules, per file (README.md, docs/**/*.md):

* every fenced ``python`` block runs, in order, in one namespace shared by
  the whole file (a module named after the file), with stdout captured;
* a block with the comment ``<!-- test: output -->`` on the line before its
  fence must equal what the ``python`` blocks printed since the previous
  output block (any language: ``text``, ``mermaid``, ...);
* ``<!-- test: mypy -->`` before a ``python`` block: the block is not run; it
  is type-checked (``mypy --strict``) after every ``python`` block above it,
  and mypy must report an error on each line marked ``# type error`` and on
  no other line of the file;
* ``<!-- test: compile -->`` before a ``python`` block: only compiled (for
  code that needs a package the test suite does not install);
* ``<!-- test: excerpt -->`` before a ``python`` block: not run here; the
  block must stand, line for line, in a file under ``examples/`` (which its
  own test runs: for code that needs a process of its own, as DBOS does);
* any other directive is an error, so a typo cannot silently skip a block.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
import tempfile
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*test:\s*(?P<what>[\w-]+)\s*-->\s*$")
DIRECTIVES = ("output", "mypy", "compile", "excerpt")
TYPE_ERROR_MARK = "# type error"


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, directive and text."""

    path: Path
    start: int  # 0-based index of the opening fence line
    end: int  # 0-based index of the closing fence line
    language: str
    directive: str | None
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.start + 1}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, with the directive on the line before."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip()
        language = info.split()[0].lstrip(".{") if info else ""
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence)
            and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path}:{index + 1}: unclosed code fence")
        body = [line.removeprefix(indent) for line in lines[index + 1 : end]]
        previous = lines[index - 1] if index else ""
        directive = _DIRECTIVE.match(previous)
        what = directive["what"] if directive else None
        if what is not None and what not in DIRECTIVES:
            raise ValueError(
                f"{path}:{index}: unknown directive {what!r}; one of {DIRECTIVES}"
            )
        text = "\n".join(body) + "\n" if body else ""
        found.append(Block(path, index, end, language, what, text))
        index = end + 1
    return found


@dataclass
class Outcome:
    """What running a file's blocks found: output blocks and what they should be."""

    expected: dict[Block, str] = field(default_factory=dict)  # block -> real output
    type_errors: list[str] = field(default_factory=list)  # mypy disagreements
    ran: int = 0

    def stale(self) -> list[Block]:
        return [block for block, real in self.expected.items() if block.text != real]


def run_file(path: Path) -> Outcome:
    """Run every python block of ``path`` in order; pair output blocks with what
    the code printed."""
    outcome = Outcome()
    name = "docs_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    printed = io.StringIO()
    checked_by_mypy: list[Block] = []
    executed: list[Block] = []
    saved = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses and pickle look their module up
    try:
        for block in blocks(path):
            if block.language == "python" and block.directive is None:
                code = compile(
                    _padded(block), str(path), "exec", dont_inherit=True, optimize=0
                )
                with contextlib.redirect_stdout(printed):
                    exec(code, module.__dict__)
                outcome.ran += 1
                executed.append(block)
            elif block.language == "python" and block.directive == "compile":
                compile(_padded(block), str(path), "exec", dont_inherit=True)
                outcome.ran += 1
            elif block.language == "python" and block.directive == "mypy":
                checked_by_mypy.append(block)
            elif block.language == "python" and block.directive == "excerpt":
                _check_excerpt(block)
                outcome.ran += 1
            elif block.directive == "output":
                outcome.expected[block] = printed.getvalue()
                printed = io.StringIO()
            elif block.directive is not None:
                raise ValueError(
                    f"{block.where}: {block.directive!r} does not apply to a "
                    f"{block.language or 'plain'} block"
                )
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved
    if checked_by_mypy:
        outcome.type_errors = _mypy(path, executed, checked_by_mypy)
    return outcome


def _check_excerpt(block: Block) -> None:
    """``block`` stands, line for line, in one of the files under examples/."""
    for example in sorted((ROOT / "examples").glob("*.py")):
        if block.text.strip("\n") in example.read_text(encoding="utf-8"):
            return
    raise AssertionError(
        f"{block.where}: this excerpt is not in any file under examples/; "
        "copy it from the example, or change both"
    )


def check_prints_its_comments(example: Path, *args: str, timeout: float = 120) -> None:
    """Run ``example`` (an excerpted example that needs a process of its own)
    and check it prints, line by line, what its ``print(...)  # comment``
    lines say (a comment ending in ``...``: a line starting with the rest)."""
    proc = subprocess.run(
        [sys.executable, str(example), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    source = example.read_text(encoding="utf-8")
    expected = re.findall(r"print\(.*\)  # (.*)$", source, re.MULTILINE)
    printed = proc.stdout.splitlines()
    assert len(printed) == len(expected), proc.stdout
    for line, comment in zip(printed, expected, strict=True):
        if comment.endswith("..."):
            assert line.startswith(comment.removesuffix("...")), (line, comment)
        else:
            assert line == comment, (line, comment)


def _padded(block: Block) -> str:
    """The block's code on its own line numbers, so tracebacks point into the file."""
    return "\n" * (block.start + 1) + block.text


def _mypy(path: Path, executed: list[Block], checked: list[Block]) -> list[str]:
    """Type-check the file's code; return where mypy disagrees with the marks."""
    from mypy import api

    source = ["" for _ in path.read_text(encoding="utf-8").split("\n")]
    expected: set[int] = set()
    for block in [*executed, *checked]:
        for offset, line in enumerate(block.text.rstrip("\n").split("\n")):
            number = block.start + 1 + offset  # 0-based line in the file
            source[number] = line
            if block in checked and TYPE_ERROR_MARK in line:
                expected.add(number + 1)
    with tempfile.TemporaryDirectory() as directory:
        module = Path(directory) / (re.sub(r"\W", "_", path.stem) + ".py")
        module.write_text("\n".join(source), encoding="utf-8")
        stdout, _, _ = api.run(
            [
                "--config-file",
                str(ROOT / "mypy.ini"),
                "--no-error-summary",
                "--show-error-codes",
                "--cache-dir",
                str(ROOT / ".mypy_cache"),
                str(module),
            ]
        )
    reported: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        # mypy may name the file by the path its cache saw first: match the name
        match = re.match(
            rf"^(?:.*[/\\])?{re.escape(module.name)}:(\d+): error: (.*)$", line
        )
        if match:
            reported.setdefault(int(match[1]), []).append(match[2])
    problems = [
        f"{path.name}:{line}: mypy: {'; '.join(messages)}"
        for line, messages in sorted(reported.items())
        if line not in expected
    ]
    problems += [
        f"{path.name}:{line}: marked {TYPE_ERROR_MARK!r}, but mypy accepts it"
        for line in sorted(expected - reported.keys())
    ]
    return problems


def update(path: Path) -> list[Block]:
    """Rewrite the output blocks of ``path`` from a fresh run; return those changed."""
    outcome = run_file(path)
    stale = outcome.stale()
    if not stale:
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    for block in sorted(stale, key=lambda b: b.start, reverse=True):
        indent = _FENCE.match(lines[block.start])
        assert indent is not None
        new = textwrap.indent(outcome.expected[block], indent["indent"]).split("\n")
        lines[block.start + 1 : block.end] = new[:-1]  # text ends with "\n"
    path.write_text("\n".join(lines), encoding="utf-8")
    return stale


def documents() -> list[Path]:
    """The Markdown files whose examples the test suite runs."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite output blocks")
    parser.add_argument("files", nargs="*", type=Path, help="default: every document")
    args = parser.parse_args(argv)
    failed = False
    paths = [path.resolve() for path in args.files or documents()]
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        failed = _check_or_update(paths, update_them=args.update)
    return 1 if failed else 0


def _check_or_update(paths: list[Path], *, update_them: bool) -> bool:
    failed = False
    for path in paths:
        if update_them:
            for block in update(path):
                print(f"updated {block.where}")
        else:
            outcome = run_file(path)
            for block in outcome.stale():
                print(f"stale output block: {block.where}")
                failed = True
            for problem in outcome.type_errors:
                print(problem)
                failed = True
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
