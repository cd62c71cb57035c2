"""``python -m tests.type_matrix [--write] [--messages]``: run the matrix.

Prints the matrix and every case that does not behave as recorded; exits 1
if any does. ``--write`` refreshes ``typesafety/matrix/MATRIX.md`` and the
table in ``README.md``;
``--messages`` also prints what each checker says on each negative case.
"""

from __future__ import annotations

import argparse
import sys

from tests.type_matrix.cases import load_case_files
from tests.type_matrix.checkers import CASES_DIR, ROOT, run_all
from tests.type_matrix.report import (
    matrix_markdown,
    messages_markdown,
    readme_with_table,
    summary_table,
)
from tests.type_matrix.verdicts import Status, judge_all, stray

MATRIX = CASES_DIR / "MATRIX.md"
README = ROOT / "README.md"


def main(argv: list[str] | None = None) -> int:
    """Run every checker once, judge every case, print (and maybe write)."""
    parser = argparse.ArgumentParser(prog="python -m tests.type_matrix")
    parser.add_argument("--write", action="store_true", help="refresh MATRIX.md")
    parser.add_argument(
        "--messages", action="store_true", help="print each checker's messages"
    )
    options = parser.parse_args(argv)
    files = load_case_files(CASES_DIR, ROOT)
    runs = run_all([case_file.path for case_file in files])
    verdicts = judge_all(files, runs)
    matrix = matrix_markdown(files, verdicts)
    if options.messages:
        print(messages_markdown(verdicts))
    print(matrix)
    for checker, run in runs.items():
        print(f"{checker}: {run.seconds:.1f}s", file=sys.stderr)
    bad = [v for v in verdicts if v.status in (Status.FAIL, Status.XPASS)]
    for verdict in bad:
        print(verdict.explain(), file=sys.stderr)
    strays = [d for run in runs.values() for d in stray(files, run)]
    for diagnostic in strays:
        print(f"outside any case: {diagnostic}", file=sys.stderr)
    if options.write:
        MATRIX.write_text(matrix, encoding="utf-8")
        readme = README.read_text(encoding="utf-8")
        table = summary_table(verdicts)
        README.write_text(readme_with_table(readme, table), encoding="utf-8")
    return 1 if bad or strays else 0


if __name__ == "__main__":
    sys.exit(main())
