"""Sections of BENCHMARKS.md that a benchmark writes on its own.

``benchmarks/run.py`` writes the file; the benchmarks that need a server or
other tools (DBOS, Temporal, the type checkers) each replace their own
``## `` section in it afterwards, so that one can be re-run alone.
"""

from __future__ import annotations

from pathlib import Path

DBOS = "## Durable runs on DBOS"
TEMPORAL = "## Distributed runs on Temporal"
CHECKERS = "## Type checkers on long chains"
SEPARATE = (DBOS, TEMPORAL, CHECKERS)
"""The sections written by a benchmark of their own (in ``make bench``'s order),
which ``run.py`` keeps when it rewrites the rest of the file."""


def replace_section(path: Path, heading: str, section: str) -> None:
    """Replace the section of ``path`` that starts with ``heading`` (up to
    the next ``## `` heading) by ``section``, or append it; the rest stays."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(heading)
    if start >= 0:
        end = text.find("\n## ", start + len(heading))
        rest = "" if end < 0 else text[end + 1 :]
        text = text[:start] + section + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def separate_sections(path: Path) -> str:
    """The sections of ``path`` that :data:`SEPARATE` names, in that order
    (empty when there are none), for ``run.py`` to keep."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = []
    for heading in SEPARATE:
        start = text.find(heading)
        if start >= 0:
            end = text.find("\n## ", start + len(heading))
            kept.append(text[start : end + 1 if end >= 0 else len(text)].rstrip("\n"))
    return "".join(f"\n{section}\n" for section in kept)
