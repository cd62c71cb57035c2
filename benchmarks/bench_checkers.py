"""Type-checker time on long chains: does inference stay linear in the steps?

Generates a module with a chain of N steps, each taking the previous step's
output and failing with its own error type (so the saga's error union grows
to N members, the worst case), with an ``assert_type`` of the whole saga,
and times each of the five checkers on it for N = 10, 50 and 100: CPU time
(user + system, threads and child processes included), the least of
``--repeat`` runs, because the machine is shared and wall time follows the
neighbours' load. The 10-step run is the
baseline (interpreter start, typeshed, returns, typed-saga): the marginal
seconds per step from 10 to 50 and from 50 to 100 are compared; equal rates
mean linear, a doubling means quadratic.

Not a test, and nothing here asserts on time: ``python
benchmarks/bench_checkers.py`` (run by ``make bench``) prints a Markdown table
and replaces its own section of BENCHMARKS.md (``--output -`` writes nothing).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sections
from sections import replace_section

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
SECTION = sections.CHECKERS
CHECKERS = ("mypy", "pyright", "basedpyright", "pyrefly", "ty")
SIZES = (10, 50, 100)
LINEAR_TOLERANCE = 1.5
"""Inference counts as linear while the marginal cost per step between the two
largest sizes stays within this factor of the one between the two smallest
(quadratic would be ~2.5x for 10, 50, 100)."""
CHUNK = 50
"""Steps per statement in the generated chain."""
NOISE = 0.1
"""When 100 steps cost less than this fraction of the 10-step run on top of it,
the chain is lost in start-up time and noise: no growth rate is computed."""
NOISE_SECONDS = 0.1
"""Likewise when they cost less than this many CPU seconds on top of it: the
least of a few runs still varies by tens of milliseconds between rounds."""


def chain_module(steps: int, *, shared_error: bool = False) -> str:
    """A module with an N-step chain and an ``assert_type`` of its type; with
    ``shared_error`` every step fails with the same error type."""
    lines = [
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass",
        "from typing import TypeAlias, assert_type",
        "",
        "from returns.result import Result, Success",
        "",
        "from typed_saga import Saga, step",
        "",
    ]
    for i in range(steps + 1):
        lines += ["", "@dataclass(frozen=True)", f"class T{i}:", "    n: int", ""]
    for i in range(1, steps + 1):
        lines += [f"class E{i}(Exception): ...", ""]
    for i in range(1, steps + 1):
        error = "E1" if shared_error else f"E{i}"
        lines += [
            "",
            f"def f{i}(value: T{i - 1}) -> Result[T{i}, {error}]:",
            f"    return Success(T{i}(value.n + 1))",
            "",
        ]
    # Fluent expressions of at most CHUNK calls: pyright stops parsing a single
    # expression nested ~200 deep ("Maximum parse depth exceeded").
    lines += ["", "part_1 = (", '    step("s1", f1)']
    for i in range(2, steps + 1):
        if i % CHUNK == 1:
            chunk = i // CHUNK
            lines += [")", f"part_{chunk + 1} = (", f"    part_{chunk}"]
        lines.append(f'    .then(step("s{i}", f{i}))')
    lines += [")", f"saga = part_{(steps - 1) // CHUNK + 1}"]
    # The expected union, in aliases of at most CHUNK members for the same
    # reason (a 400-member `|` expression is too deep for pyright's parser).
    errors = "Errors_1"
    lines.append(f"{errors}: TypeAlias = E1")
    if not shared_error:
        lines.pop()
        for start in range(1, steps + 1, CHUNK):
            members = [f"E{i}" for i in range(start, min(start + CHUNK, steps + 1))]
            if start > 1:
                members.insert(0, errors)
            errors = f"Errors_{start}"
            lines.append(f"{errors}: TypeAlias = {' | '.join(members)}")
    lines += [f"assert_type(saga, Saga[T0, T{steps}, {errors}])", ""]
    return "\n".join(lines)


def command(checker: str, path: Path, python: Path) -> list[str]:
    """Each checker in the settings of the matrix (strict), on one file."""
    bindir = python.parent
    if checker == "mypy":
        return [str(bindir / "mypy"), "--strict", "--cache-dir", os.devnull, str(path)]
    if checker in ("pyright", "basedpyright"):
        config = path.parent / f"{checker}.json"
        config.write_text(
            json.dumps({"include": [path.name], "typeCheckingMode": "strict"}),
            encoding="utf-8",
        )
        return [
            str(bindir / checker),
            "--pythonpath",
            str(python),
            "--project",
            str(config),
        ]
    if checker == "pyrefly":
        return [
            str(bindir / "pyrefly"),
            "check",
            "--preset",
            "strict",
            "--python-interpreter-path",
            str(python),
            str(path),
        ]
    return [str(bindir / "ty"), "check", "--python", str(python), str(path)]


def best_time(argv: Sequence[str], repeat: int) -> float:
    """The least CPU time (user + system, the checker and its children) of
    ``repeat`` runs; fails loudly if the chain did not check."""
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1", "NO_COLOR": "1"}
    best = float("inf")
    for _ in range(repeat):
        before = _children_cpu()
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, check=False
        )
        best = min(best, _children_cpu() - before)
        if done.returncode != 0:
            report = done.stdout + done.stderr
            raise RuntimeError(f"{argv[0]} reported errors:\n{report}")
    return best


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    checker: str,
    python: Path,
    sizes: Sequence[int],
    repeat: int,
    *,
    shared_error: bool = False,
) -> dict[int, float]:
    """CPU seconds per size for one checker."""
    seconds = {}
    for steps in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"chain_{steps}.py"
            module = chain_module(steps, shared_error=shared_error)
            path.write_text(module, encoding="utf-8")
            seconds[steps] = best_time(command(checker, path, python), repeat)
    return seconds


def verdict(seconds: dict[int, float]) -> tuple[str, str]:
    """The growth of the marginal cost per step (last interval over first)
    and what it means: linear, super-linear, or lost in the noise."""
    sizes = sorted(seconds)
    rates = _rates(seconds)
    added = seconds[sizes[-1]] - seconds[sizes[0]]
    if added < max(NOISE * seconds[sizes[0]], NOISE_SECONDS) or rates[0] <= 0:
        return "—", "flat (within noise)"
    growth = rates[-1] / rates[0]
    return f"{growth:.2f}x", "linear" if growth <= LINEAR_TOLERANCE else "super-linear"


def _rates(seconds: dict[int, float]) -> list[float]:
    return [
        (seconds[b] - seconds[a]) / (b - a)
        for a, b in itertools.pairwise(sorted(seconds))
    ]


def row(checker: str, seconds: dict[int, float]) -> str:
    """One Markdown row: the times, the marginal cost per step between
    consecutive sizes, the growth of that cost, the verdict."""
    growth_text, meaning = verdict(seconds)
    times = " | ".join(f"{seconds[n]:.2f}" for n in sorted(seconds))
    per_step = " | ".join(f"{rate * 1000:.1f}" for rate in _rates(seconds))
    return f"| {checker} | {times} | {per_step} | {growth_text} | {meaning} |"


def section(
    results: dict[str, dict[int, float]],
    repeat: int,
    elapsed: float,
    *,
    shared_error: bool,
    shared: dict[str, dict[int, float]],
) -> str:
    """The BENCHMARKS.md section: how it was measured, the table, the verdict."""
    sizes = sorted(next(iter(results.values())))
    heads = [f"{n} steps (CPU s)" for n in sizes]
    heads += [f"ms/step {a}→{b}" for a, b in itertools.pairwise(sizes)]
    errors = (
        "failing with the same error type"
        if shared_error
        else "failing with an error type of its own, so that the "
        f"saga's error union grows to {sizes[-1]} members (the worst case)"
    )
    super_linear = [c for c, s in results.items() if verdict(s)[1] == "super-linear"]
    summary = (
        "Inference stays linear in the number of steps on every checker."
        if not super_linear
        else "Super-linear here: " + ", ".join(super_linear) + "."
    )
    for checker, seconds in shared.items():
        per_step = " and ".join(f"{rate * 1000:.1f}" for rate in _rates(seconds))
        summary += (
            f" With every step failing with the same error type instead (no "
            f"growing union), {checker} is {verdict(seconds)[1]}: "
            f"{seconds[sizes[-1]]:.2f} s at {sizes[-1]} steps, {per_step} ms/step."
        )
    return "\n".join(
        [
            SECTION,
            "",
            f"_Generated by `python benchmarks/bench_checkers.py` (`make bench`), "
            f"the least of {repeat} runs per point, in {elapsed:.0f} s._",
            "",
            "CPU time (user + system, child processes included) of each checker, "
            "in the strict settings of the type matrix, on a generated module: a "
            f"chain of N steps, each taking the previous step's output and {errors}, "
            "then an `assert_type` of the whole saga. The smallest module is the "
            "baseline (start-up, typeshed, `returns`, typed-saga); *ms/step* is the "
            "marginal cost of a step between two sizes, and *growth* the last of "
            "those over the first: about 1x is linear, quadratic would be about "
            "2.5x.",
            "",
            "| checker | " + " | ".join(heads) + " | growth | inference |",
            "|---|" + "---|" * (len(heads) + 2),
            *(row(checker, seconds) for checker, seconds in results.items()),
            "",
            summary,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Time every checker on every size and print the table."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_checkers.py")
    parser.add_argument("--repeat", type=int, default=5, help="runs per point")
    parser.add_argument("--checker", action="append", choices=CHECKERS)
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=SIZES,
        help="comma-separated chain lengths, smallest first (default 10,50,100)",
    )
    parser.add_argument(
        "--shared-error",
        action="store_true",
        help="every step fails with the same error type (no growing union)",
    )
    parser.add_argument(
        "--output",
        default=str(DEFAULT_OUTPUT),
        help="the Markdown file whose section to replace ('-': write nothing)",
    )
    options = parser.parse_args(argv)
    sizes: tuple[int, ...] = options.sizes
    python = Path(sys.executable)
    began = time.monotonic()
    results: dict[str, dict[int, float]] = {}
    for checker in options.checker or CHECKERS:
        results[checker] = measure(
            checker, python, sizes, options.repeat, shared_error=options.shared_error
        )
        print(f"[bench] {row(checker, results[checker])}", file=sys.stderr, flush=True)
    # Where the cost per step grows, is it the growing error union?
    shared = {
        checker: measure(checker, python, sizes, options.repeat, shared_error=True)
        for checker, seconds in results.items()
        if not options.shared_error and verdict(seconds)[1] == "super-linear"
    }
    text = section(
        results,
        options.repeat,
        time.monotonic() - began,
        shared_error=options.shared_error,
        shared=shared,
    )
    print(text)
    if options.output != "-":
        replace_section(Path(options.output), SECTION, text)
        print(f"[bench] wrote {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
