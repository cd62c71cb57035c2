"""docs/durable.md: every Python block in it is a part of
examples/durable_dbos.py, which runs and prints what its comments say; the
crash story it quotes is what the demo prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.markdown_examples import check_prints_its_comments

pytest.importorskip("dbos", reason="the dbos extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "durable.md"
EXAMPLE = ROOT / "examples" / "durable_dbos.py"


def blocks(language: str) -> list[str]:
    pattern = rf"^```{language}\n(.*?)^```$"
    return re.findall(pattern, DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_every_python_block_is_part_of_the_example() -> None:
    example = EXAMPLE.read_text()
    found = blocks("python")
    assert len(found) >= 6
    for block in found:
        assert block in example, block


def test_the_example_prints_what_its_comments_say(tmp_path: Path) -> None:
    check_prints_its_comments(EXAMPLE, str(tmp_path))


def test_the_crash_story_is_what_the_demo_prints() -> None:
    (story,) = [b for b in blocks("console") if "Process 2" in b]
    proc = subprocess.run(
        [sys.executable, "-m", "typed_saga"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert story in proc.stdout
