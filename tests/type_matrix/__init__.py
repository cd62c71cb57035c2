"""The checker matrix: typed usage cases checked by five type checkers.

``typesafety/matrix/*.py`` holds the cases (see ``cases`` for the format);
``checkers`` runs mypy, pyright, basedpyright, pyrefly and ty once each over
that directory and parses their machine-readable output; ``verdicts`` compares
what each checker reported with what each case expects; ``report`` renders the
group x checker matrix (``typesafety/matrix/MATRIX.md``).

Run it as ``python -m tests.type_matrix`` (``--write`` refreshes MATRIX.md,
``--messages`` prints what every checker says about every mistake);
``tests/test_type_matrix.py`` runs it under pytest, one test per case and
checker.
"""
