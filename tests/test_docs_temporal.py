"""docs/temporal.md: every Python block in it is a part of
examples/temporal_trip.py (but the one that is only compiled), which starts
a dev server, a worker and a client, and prints what its comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("temporalio", reason="the temporal extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "temporal.md"
EXAMPLE = ROOT / "examples" / "temporal_trip.py"


def test_every_excerpt_is_part_of_the_example() -> None:
    text = DOC.read_text()
    found = re.findall(
        r"^<!-- test: excerpt -->\n```python\n(.*?)^```$",
        text,
        flags=re.MULTILINE | re.DOTALL,
    )
    assert len(found) >= 5
    example = EXAMPLE.read_text()
    for block in found:
        assert block in example, block


def test_the_example_prints_what_its_comments_say() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = re.findall(r"print\(.*\)  # (.*)$", EXAMPLE.read_text(), re.MULTILINE)
    printed = proc.stdout.splitlines()
    assert len(printed) == len(expected), proc.stdout
    for line, comment in zip(printed, expected, strict=True):
        if comment.endswith("..."):
            assert line.startswith(comment.removesuffix("...")), (line, comment)
        else:
            assert line == comment, (line, comment)
