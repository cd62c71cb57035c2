#!/usr/bin/env bash
# The package as users get it: build the sdist and the wheel (the wheel from
# the sdist, as `python -m build` does), check their metadata, check that the
# wheel carries py.typed, install the wheel in a fresh virtual environment
# outside the dev one, and run the demo from it.
#
#   PYTHON=.venv/bin/python bash scripts/check_dist.sh   (make test does this)
#
# PYTHON must have build and twine (the dev extra); the fresh environment is
# made with BASE_PYTHON (default python3). Leaves the two files in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
BASE_PYTHON="${BASE_PYTHON:-python3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf dist
if ! "$PYTHON" -m build --outdir dist . >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    exit 1
fi
"$PYTHON" -m twine check --strict dist/*

version=$("$PYTHON" -c 'import re; print(re.search(r"^__version__ = \"(.+)\"$", open("src/typed_saga/__init__.py").read(), re.M).group(1))')
wheel="dist/typed_saga-$version-py3-none-any.whl"
sdist="dist/typed_saga-$version.tar.gz"
test -f "$wheel" -a -f "$sdist" || { ls dist >&2; echo "check_dist: expected $wheel and $sdist" >&2; exit 1; }

"$PYTHON" - "$wheel" "$sdist" <<'PY'
import sys
import tarfile
import zipfile

wheel, sdist = sys.argv[1], sys.argv[2]
names = set(zipfile.ZipFile(wheel).namelist())
for required in ("typed_saga/py.typed", "typed_saga/__init__.py", "typed_saga/testing.py", "typed_saga/otel.py"):
    assert required in names, f"{required} is not in {wheel}"
stray = sorted(n for n in names if not n.startswith(("typed_saga/", "typed_saga-")))
assert not stray, f"{wheel} carries files outside the package: {stray}"
with tarfile.open(sdist) as archive:
    members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
for required in ("src/typed_saga/py.typed", "README.md", "CHANGELOG.md", "pyproject.toml"):
    assert required in members, f"{required} is not in {sdist}"
print(f"check_dist: {wheel} ({len(names)} files, py.typed included) and {sdist}")
PY

"$BASE_PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel"
cd "$work"  # away from src/: what runs is the installed wheel
"$work/venv/bin/python" - "$version" "$work/venv" <<'PY'
import sys
from pathlib import Path

import typed_saga

version, venv = sys.argv[1], Path(sys.argv[2]).resolve()
assert typed_saga.__version__ == version, (typed_saga.__version__, version)
location = Path(typed_saga.__file__).resolve()
assert venv in location.parents, f"typed_saga imported from {location}, not the wheel"
PY
"$work/venv/bin/python" -m typed_saga >"$work/demo.txt"
grep -q "Run 2 of 3: the last step fails, the saga rolls back" "$work/demo.txt"
if grep -q "DEMO CHECK FAILED" "$work/demo.txt"; then
    cat "$work/demo.txt" >&2
    exit 1
fi
echo "check_dist: the wheel installs in a fresh environment and python -m typed_saga runs from it"
