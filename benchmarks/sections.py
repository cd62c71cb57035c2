"""Sections of BENCHMARKS.md that a benchmark writes on its own.

``benchmarks/run.py`` writes the file; the benchmarks that need a server or
other tools (DBOS, Temporal, the type checkers) each replace their own
``## `` section in it afterwards, so that one can be re-run alone. The two
engine benchmarks also share the row they write (:func:`engine_row`).
"""

from __future__ import annotations

import statistics
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


def engine_row(
    label: str, times: dict[str, list[float]], steps: int, *, digits: int
) -> str:
    """A table row of an engine benchmark: for success (``h`` by hand, ``d``
    the saga) and fail at last (``hf``, ``df``), the median time per step of
    each and the median ratio over rounds with its interquartile range."""
    cells = [label]
    for hand, saga in (("h", "d"), ("hf", "df")):
        ratios = [d / h for h, d in zip(times[hand], times[saga], strict=True)]
        low, mid, high = _quartiles(ratios)
        cells += [
            f"{statistics.median(times[hand]) / steps * 1000:.{digits}f} ms",
            f"{statistics.median(times[saga]) / steps * 1000:.{digits}f} ms",
            f"**{mid:.2f}x** ({low:.2f}-{high:.2f})",
        ]
    return "| " + " | ".join(cells) + " |"


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]
