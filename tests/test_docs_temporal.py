"""docs/temporal.md: every Python block in it is a part of
examples/temporal_trip.py (but the one that is only compiled), which starts
a dev server, a worker and a client, and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.markdown_examples import check_prints_its_comments

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
    check_prints_its_comments(EXAMPLE)
