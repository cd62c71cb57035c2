#!/usr/bin/env bash
# Mutation testing of the runner modules (_fold.py, _stream.py, _afold.py,
# _trace.py) with
# mutmut (configured in [tool.mutmut] of pyproject.toml). Not part of CI: it
# runs the test suite once per mutant, which takes minutes.
#
#   bash scripts/mutation.sh            # run, then print the survivors and the score
#   JOBS=4 bash scripts/mutation.sh     # more parallel workers (default: 2)
#   PYTHON=.venv/bin/python bash scripts/mutation.sh
#
# Needs mutmut==3.8.1 in that Python (pip install 'mutmut==3.8.1'). Results stay
# in ./mutants (git-ignored): `mutmut show <name>` prints one mutant's diff,
# `mutmut browse` opens the interactive browser.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"
JOBS="${JOBS:-2}"

if ! "$PYTHON" -c 'import mutmut' 2>/dev/null; then
    echo "mutmut is not installed in $PYTHON: run  $PYTHON -m pip install 'mutmut==3.8.1'" >&2
    exit 2
fi

rm -rf mutants  # a fresh run: stale results from an older tree would lie
# mutmut's exit status is not the verdict; the score below is.
"$PYTHON" -m mutmut run --max-children "$JOBS" || true
"$PYTHON" -m mutmut export-cicd-stats >/dev/null

echo
echo "Mutants not killed (each must be killed by a test or explained as equivalent):"
"$PYTHON" -m mutmut results || true
echo
"$PYTHON" - <<'PY'
import json

stats = json.load(open("mutants/mutmut-cicd-stats.json"))
killed, total = stats["killed"] + stats["timeout"], stats["total"]
print(
    f"mutation score: {killed}/{total} killed = {100 * killed / max(total, 1):.1f}% "
    f"(survived {stats['survived']}, no tests {stats['no_tests']}, "
    f"timeout {stats['timeout']}, suspicious {stats['suspicious']})"
)
PY
