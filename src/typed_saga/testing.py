"""Prove your saga's rollback in a test: fault injection, step by step.

:func:`check_rollback` (and :func:`check_rollback_async` for an
:class:`~typed_saga.AsyncSaga`) runs your saga once untouched, then once per
step with a fault injected at that step — a returned ``Failure`` in one pass,
a raised exception in a second — and after every faulty run asks your
``is_restored()`` whether the outside world (a database, a fake cloud) is back
where it started. The first time it is not, the check fails with an
``AssertionError`` that names the leaky step and the run that exposed it.

:func:`compensation_failure_reports` (and its ``_async`` twin) shows instead
what your saga leaves behind when a *compensation* fails, under each
``on_compensation_failure`` policy: it returns reports, it asserts nothing.

>>> from returns.result import Result, Success
>>> from typed_saga import step
>>> rows: set[str] = set()
>>> def insert(name: str) -> Result[str, str]:
...     rows.add(name)
...     return Success(name)
>>> def delete(name: str) -> Result[None, str]:
...     rows.discard(name)
...     return Success(None)
>>> saga = step("insert", insert, compensate=delete).then(step("notify", Success))
>>> check_rollback(saga, "vm-1", is_restored=lambda: not rows, reset=rows.clear)
RollbackCheck(steps=('insert', 'notify'), faults=('failure', 'exception'), runs=5)

How a fault is injected: the saga is rebuilt with the chosen step's action
replaced by one that returns ``Failure(InjectedFault(...))`` (or raises the
``InjectedFault``) without doing anything; every other action, and every
compensation (the faulty step's included), is your own. So a run with a fault
at step *k* runs steps 1 … k-1 for real and then unwinds them. When the last
step has a compensation (or is a ``parallel`` group), one more fault goes
*after* it — what a step chained with ``then`` would do — so that the last
compensation is proven too. (A last step without compensation is taken to be
deliberate: nothing follows it, so nothing can make it roll back.) A saga
with bodies gets that fault after its last step whatever that step is: its
steps are learned as it runs, and that run is how the check finds the end.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, TypeVar, cast, final

from returns.io import IOFailure, IOResult, IOSuccess
from returns.result import Failure, Result, Success

from typed_saga import engine
from typed_saga._context import current_step
from typed_saga._events import Event, Listener, StepFailed, describe_error
from typed_saga._node import POLICIES, BodyNode, Group, Node, Policy, Step, check_policy
from typed_saga._report import SagaReport, StepOutcome
from typed_saga._saga import AsyncSaga, Saga
from typed_saga._step import step

__all__ = (
    "FAULTS",
    "CompensationFailureRun",
    "Fault",
    "InjectedFault",
    "RollbackCheck",
    "check_rollback",
    "check_rollback_async",
    "compensation_failure_reports",
    "compensation_failure_reports_async",
)

_In = TypeVar("_In")

Fault: TypeAlias = Literal["failure", "exception"]
"""How a step is made to fail: it returns a ``Failure``, or it raises."""

FAULTS: Final[tuple[Fault, ...]] = ("failure", "exception")
"""Both kinds of fault, in the order :func:`check_rollback` tries them."""

_Path: TypeAlias = tuple[int | str, ...]
"""Where a node sits: its index at the top level, then (branch, index) pairs
for each ``parallel`` group it is nested in. In a saga with bodies, whose
steps are known only as it runs, a step is ``(key,)``: its name in the run
(``"attach #2"``), after its branch (``"parallel(a, b)/2/"``)."""


class InjectedFault(Exception):
    """The error this module injects: returned inside a ``Failure``, or raised.

    ``step`` names where it was injected. Recognise it in your logs or
    listeners to tell injected faults from real ones.

    ``in_compensation`` tells a fault injected into the step's compensation
    (by :func:`compensation_failure_reports`) from one in its action.

    >>> InjectedFault("create server")
    InjectedFault("fault injected by typed_saga.testing at step 'create server'")
    """

    step: str
    in_compensation: bool

    def __init__(self, step: str, *, in_compensation: bool = False) -> None:
        where = "into the compensation of step" if in_compensation else "at step"
        super().__init__(f"fault injected by typed_saga.testing {where} {step!r}")
        self.step = step
        self.in_compensation = in_compensation


@final
@dataclass(frozen=True, slots=True)
class RollbackCheck:
    """What a successful :func:`check_rollback` did.

    ``steps``: where faults were injected, in run order (a step inside a
    ``parallel`` branch is named with its branch and group; a group also gets
    a fault of its own, before any of its branches run). ``faults``: the kinds
    injected at every one of them (and after the last step, when it has a
    compensation or the saga has bodies). ``runs``: how many times the saga
    ran, the untouched run included.

    >>> RollbackCheck(steps=("a", "b"), faults=FAULTS, runs=5)
    RollbackCheck(steps=('a', 'b'), faults=('failure', 'exception'), runs=5)
    """

    steps: tuple[str, ...]
    faults: tuple[Fault, ...]
    runs: int


@final
@dataclass(frozen=True, slots=True)
class CompensationFailureRun:
    """One run of :func:`compensation_failure_reports`: what is left behind
    when the compensation of ``step`` fails under ``policy``.

    ``report`` is the run's :class:`~typed_saga.SagaReport` (the forward path
    failed at the saga's last step, so every compensation was due);
    ``restored`` is what ``is_restored()`` said after the run, or ``None`` if
    you gave no ``is_restored``. ``str(run)`` is a paragraph for a test log.
    """

    step: str
    policy: Policy
    report: SagaReport[object, object]
    restored: bool | None = None

    @property
    def left_behind(self) -> tuple[str, ...]:
        """Steps whose effects the run did not undo (the failed compensation's
        own step, and under ``"stop"`` the ones it never reached)."""
        left = (StepOutcome.LEFT_UNCOMPENSATED, StepOutcome.COMPENSATION_FAILED)
        out: list[str] = []
        stack = list(reversed(self.report.steps))
        while stack:
            record = stack.pop()
            if record.outcome in left:
                out.append(record.name)
            for branch in reversed(record.branches):
                stack.extend(reversed(branch))
        return tuple(out)

    def __str__(self) -> str:
        left = ", ".join(map(repr, self.left_behind)) or "nothing"
        world = {
            None: "",
            True: "; the world is restored",
            False: "; the world is NOT restored",
        }
        return (
            f"compensation of {self.step!r} fails, on_compensation_failure="
            f"{self.policy!r}: left behind {left}{world[self.restored]}\n{self.report}"
        )


# -- public entry points -----------------------------------------------------------


def check_rollback(
    saga: Saga[_In, object, object],
    value: _In,
    *,
    is_restored: Callable[[], bool | None],
    reset: Callable[[], object] | None = None,
    on_compensation_failure: Policy = "stop",
) -> RollbackCheck:
    """Prove that ``saga`` undoes itself whichever step fails, however it fails.

    Runs ``saga`` on ``value`` untouched (it must succeed), then for every step
    *k* with a fault injected at *k* (and after the last step, if it has a
    compensation or the saga has bodies: see the module docs): first
    returning ``Failure``, then, in a second pass, raising
    :class:`InjectedFault`. After each faulty run ``is_restored()`` must be
    true.
    ``reset()``, when given, is called before every run; it must bring the
    world back to its starting state, whatever the previous run left. Without
    ``reset`` the faulty runs come first and the untouched run last (a run
    that succeeds leaves the world changed, by design). ``is_restored`` may
    also be made of plain ``assert`` statements: returning ``None`` counts as
    restored, an ``AssertionError`` as not (its message is kept). Both must be
    plain functions here (an ``async def`` is a ``TypeError``: use
    :func:`check_rollback_async`).

    On the first run that leaves the world changed, raises ``AssertionError``
    naming the **leaky step** and the run that exposed it. Runs go in step
    order, so that run is the first with the fault this far along: every step
    it completed had been done *and undone cleanly* by an earlier run of the
    same pass, except the one just before the fault — the leaky step, whose
    compensation did not undo what its action did (or failed, or was never
    reached, or which has no compensation; the message says which). Inside a
    ``parallel`` group several steps may be new to the run (the branches run
    concurrently); then they are all named.

    Returns a :class:`RollbackCheck` summary of the runs made. A saga whose
    untouched run fails is reported as such, never as a leak:

    >>> from returns.result import Failure
    >>> from typed_saga import step
    >>> try:
    ...     check_rollback(step("charge", lambda _: Failure("declined")), 1,
    ...                    is_restored=lambda: True)
    ... except AssertionError as error:
    ...     print(str(error).split(". ")[0])
    the saga fails without any injected fault: step 'charge' failed with 'declined'
    """
    if not isinstance(saga, Saga):
        raise TypeError(
            f"check_rollback() takes a sync Saga, got {type(saga).__name__}; for an "
            "AsyncSaga use `await typed_saga.testing.check_rollback_async(...)`"
        )
    check = _Check(
        saga, check_policy(on_compensation_failure), has_reset=reset is not None
    )
    if reset is not None:
        _not_awaitable(reset(), "reset")
    check.baseline(_restored(is_restored))
    for run in check.plan:
        if reset is not None:
            _not_awaitable(reset(), "reset")
        built = check.build(run, async_run=False)
        outcome = _Outcome()
        try:
            outcome.report = built.run_sync(
                value, check.policy, (outcome.events.append,)
            )
        except Exception as exc:
            outcome.exc = exc
        check.judge(run, built, outcome)
        if run.fault is not None:
            check.judge_world(run, built, outcome, _restored(is_restored))
    return check.summary()


async def check_rollback_async(
    saga: AsyncSaga[_In, object, object] | Saga[_In, object, object],
    value: _In,
    *,
    is_restored: Callable[[], bool | Awaitable[bool | None] | None],
    reset: Callable[[], object] | None = None,
    on_compensation_failure: Policy = "stop",
    compensation_timeout: float | None = None,
) -> RollbackCheck:
    """:func:`check_rollback` for an :class:`~typed_saga.AsyncSaga`:
    ``await check_rollback_async(saga, value, is_restored=..., reset=...)``.

    Same runs, same verdicts, on whatever event loop awaits it (asyncio or
    trio). ``is_restored`` and ``reset`` may be plain or ``async`` functions.
    ``compensation_timeout`` is passed on to every run. A sync
    :class:`~typed_saga.Saga` is accepted too (it runs inline).

    >>> import anyio
    >>> from returns.result import Result, Success
    >>> from typed_saga import step
    >>> async def reserve(n: int) -> Result[int, str]:
    ...     return Success(n)
    >>> saga = step("reserve", reserve).then(step("notify", Success))
    >>> async def main() -> RollbackCheck:
    ...     return await check_rollback_async(saga, 1, is_restored=lambda: True)
    >>> anyio.run(main).runs
    5
    """
    if not isinstance(saga, Saga | AsyncSaga):
        raise TypeError(
            f"check_rollback_async() takes a saga, got {type(saga).__name__}"
        )
    check = _Check(
        saga, check_policy(on_compensation_failure), has_reset=reset is not None
    )
    if reset is not None:
        await _maybe_await(reset())
    check.baseline(await _restored_async(is_restored))
    for run in check.plan:
        if reset is not None:
            await _maybe_await(reset())
        built = check.build(run, async_run=isinstance(saga, AsyncSaga))
        outcome = _Outcome()
        try:
            outcome.report = await built.run_async(
                value, check.policy, (outcome.events.append,), compensation_timeout
            )
        except Exception as exc:
            outcome.exc = exc
        check.judge(run, built, outcome)
        if run.fault is not None:
            check.judge_world(run, built, outcome, await _restored_async(is_restored))
    return check.summary()


def compensation_failure_reports(
    saga: Saga[_In, object, object],
    value: _In,
    *,
    reset: Callable[[], object] | None = None,
    is_restored: Callable[[], bool | None] | None = None,
) -> tuple[CompensationFailureRun, ...]:
    """See what ``saga`` leaves behind when one of its compensations fails.

    For every step with a compensation (except the last step, whose
    compensation never runs) and for each policy, ``"stop"`` then
    ``"continue"``: runs ``saga`` with a ``Failure`` injected at its last step,
    so that every compensation is due, and that step's compensation replaced
    by one that returns ``Failure(InjectedFault(...))`` without undoing
    anything. Returns one :class:`CompensationFailureRun` per run — reports to
    read or to assert on, not a verdict. ``reset()`` is called before each run;
    ``is_restored()``, if given, after each (its answer is in ``.restored``).

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> undo = lambda _: Success(None)
    >>> saga = (
    ...     step("quota", Success, compensate=undo)
    ...     .then(step("network", Success, compensate=undo))
    ...     .then(step("server", Success))
    ... )
    >>> for run in compensation_failure_reports(saga, 1):
    ...     print(run.step, run.policy, run.left_behind)
    quota stop ('quota',)
    quota continue ('quota',)
    network stop ('quota', 'network')
    network continue ('network',)
    """
    if not isinstance(saga, Saga):
        raise TypeError(
            "compensation_failure_reports() takes a sync Saga, got "
            f"{type(saga).__name__}; for an AsyncSaga use "
            "`await compensation_failure_reports_async(...)`"
        )
    out: list[CompensationFailureRun] = []
    for target, policy, built in _compensation_runs(saga):
        if reset is not None:
            _not_awaitable(reset(), "reset")
        report = _sync(built).run_with_report(value, on_compensation_failure=policy)
        restored = None if is_restored is None else _restored(is_restored)[0]
        out.append(CompensationFailureRun(target.name, policy, report, restored))
    return tuple(out)


async def compensation_failure_reports_async(
    saga: AsyncSaga[_In, object, object] | Saga[_In, object, object],
    value: _In,
    *,
    reset: Callable[[], object] | None = None,
    is_restored: Callable[[], bool | Awaitable[bool | None] | None] | None = None,
    compensation_timeout: float | None = None,
) -> tuple[CompensationFailureRun, ...]:
    """:func:`compensation_failure_reports` for an :class:`~typed_saga.AsyncSaga`
    (``reset`` and ``is_restored`` may be ``async``)."""
    if not isinstance(saga, Saga | AsyncSaga):
        raise TypeError(
            "compensation_failure_reports_async() takes a saga, got "
            f"{type(saga).__name__}"
        )
    out: list[CompensationFailureRun] = []
    for target, policy, built in _compensation_runs(saga):
        if reset is not None:
            await _maybe_await(reset())
        if isinstance(built, AsyncSaga):
            report = await built.run_with_report(
                value,
                on_compensation_failure=policy,
                compensation_timeout=compensation_timeout,
            )
        else:
            report = built.run_with_report(value, on_compensation_failure=policy)
        restored = (
            None if is_restored is None else (await _restored_async(is_restored))[0]
        )
        out.append(CompensationFailureRun(target.name, policy, report, restored))
    return tuple(out)


# -- where faults go ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Point:
    """A place to inject a fault: a visible step, or a whole ``parallel`` group."""

    path: _Path
    name: str  # for the summary: "create disk (branch 2 of parallel(disk, ip))"
    label: str  # quoted, ready for a sentence
    compensable: bool
    is_group: bool

    @property
    def at(self) -> str:
        """Where the fault goes, for a sentence: "at step 'x'"."""
        if self.is_group:
            return f"at {self.label}, before its branches ran"
        return f"at step {self.label}"


@dataclass(frozen=True, slots=True)
class _End(_Point):
    """The fault after the last step, as a following ``then`` step would fail."""

    @property
    def at(self) -> str:
        return "after the last step"


_END_STEP = "(after the last step)"

SUCCEEDED: Final = object()
"""What a watched compensation that succeeded leaves in ``_Watch.compensations``."""


def _points(
    nodes: tuple[Node, ...], prefix: _Path = (), where: tuple[str, str] = ("", "")
) -> list[_Point]:
    """Every injection point, depth first in run order: a group comes before
    its branches' steps. ``where`` is the (plain, quoted) "(branch n of ...)"
    suffix of the enclosing branch."""
    out: list[_Point] = []
    for index, node in enumerate(nodes):
        path = (*prefix, index)
        if isinstance(node, Group):
            name, label = (
                node.name + where[0],
                f"parallel group {node.name!r}{where[1]}",
            )
            out.append(_Point(path, name, label, False, True))
            for number, branch in enumerate(node.branches):
                inner = (
                    f" (branch {number + 1} of {node.name}{where[0]})",
                    f" (branch {number + 1} of {node.name!r}{where[1]})",
                )
                out.extend(_points(branch, (*path, number), inner))
        elif not node.hidden:
            name, label = node.name + where[0], f"{node.name!r}{where[1]}"
            out.append(_Point(path, name, label, node.compensate is not None, False))
    return out


# -- rebuilding a saga with a fault and with watched steps ------------------------


@dataclass
class _Watch:
    """What the watched steps of one run did."""

    completed: list[_Path] = field(default_factory=list)
    """Steps whose action returned a success, in completion order."""
    reached: list[tuple[str, bool]] = field(default_factory=list)
    """(key, has a compensation) of each step reached, in order (bodies)."""
    compensations: dict[_Path, object] = field(default_factory=dict)
    """Compensations called: ``SUCCEEDED`` when it succeeded, else its error
    (which may be ``None``: ``Failure(None)`` is a failure)."""


@dataclass(frozen=True, slots=True)
class _Built:
    saga: Saga[object, object, object] | AsyncSaga[object, object, object]
    watch: _Watch
    injected: object  # the Failure returned / the exception raised; None for no fault
    hooks: tuple[engine.Invoke, engine.Invoke] | None = None
    """For a saga with bodies: run through ``typed_saga.engine`` with these."""

    def run_sync(
        self, value: object, policy: Policy, listeners: tuple[Listener, ...]
    ) -> SagaReport[object, object]:
        saga = _sync(self.saga)
        if self.hooks is None:
            return saga.run_with_report(
                value, on_compensation_failure=policy, listeners=listeners
            )
        return engine.run_with_report(
            saga,
            value,
            invoke=self.hooks[0],
            undo=self.hooks[1],
            on_compensation_failure=policy,
            listeners=listeners,
        )

    async def run_async(
        self,
        value: object,
        policy: Policy,
        listeners: tuple[Listener, ...],
        timeout: float | None,
    ) -> SagaReport[object, object]:
        saga = self.saga
        if self.hooks is not None:
            return await engine.run_async_with_report(
                saga,
                value,
                invoke=self.hooks[0],
                undo=self.hooks[1],
                on_compensation_failure=policy,
                listeners=listeners,
                compensation_timeout=timeout,
            )
        if isinstance(saga, AsyncSaga):
            return await saga.run_with_report(
                value,
                on_compensation_failure=policy,
                compensation_timeout=timeout,
                listeners=listeners,
            )
        return saga.run_with_report(
            value, on_compensation_failure=policy, listeners=listeners
        )


def _rebuild(
    saga: Saga[object, object, object] | AsyncSaga[object, object, object],
    replace: Callable[[_Path, Node], Node | None],
    extra: tuple[Node, ...] = (),
) -> Saga[object, object, object] | AsyncSaga[object, object, object]:
    """The same definition (name and listeners included), with ``replace``
    deciding each node: a new node, or ``None`` to keep it (groups recurse);
    ``extra`` nodes are appended."""

    def walk(nodes: tuple[Node, ...], prefix: _Path) -> tuple[Node, ...]:
        out: list[Node] = []
        for index, node in enumerate(nodes):
            path = (*prefix, index)
            new = replace(path, node)
            if new is None and isinstance(node, Group):
                branches = tuple(
                    walk(branch, (*path, number))
                    for number, branch in enumerate(node.branches)
                )
                new = Group(node.name, branches)
            out.append(node if new is None else new)
        return tuple(out)

    kind = AsyncSaga if isinstance(saga, AsyncSaga) else Saga
    return kind((*walk(saga.nodes, ()), *extra), saga.name, saga._listeners)


def _watched_action(
    action: Callable[[object], object],
    path: _Path,
    watch: _Watch,
    *,
    is_async: bool,
    async_run: bool,
) -> Callable[[object], object]:
    """``action``, noting in ``watch`` when it succeeds; same return values,
    same exceptions, same sync/async shape."""
    if is_async:

        async def watched_async(value: object) -> object:
            result = action(value)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Success | IOSuccess):
                watch.completed.append(path)
            return result

        return watched_async

    def watched(value: object) -> object:
        result = action(value)
        if isinstance(result, Success):
            watch.completed.append(path)
        elif async_run and inspect.isawaitable(result):
            return _note_when_done(result, path, watch)
        return result

    return watched


async def _note_when_done(
    awaitable: Awaitable[object], path: _Path, watch: _Watch
) -> object:
    result = await awaitable
    if isinstance(result, Success | IOSuccess):
        watch.completed.append(path)
    return result


def _watched_compensation(
    compensate: Callable[[object], object],
    path: _Path,
    watch: _Watch,
    *,
    is_async: bool,
) -> Callable[[object], object]:
    """``compensate``, noting in ``watch`` how it went."""

    def note(result: object) -> object:
        if isinstance(result, Failure | IOFailure):
            watch.compensations[path] = result.failure()  # None too: it failed
        else:
            watch.compensations[path] = SUCCEEDED
        return result

    if is_async:

        async def watched_async(value: object) -> object:
            try:
                result = compensate(value)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                watch.compensations[path] = exc
                raise
            return note(result)

        return watched_async

    def watched(value: object) -> object:
        try:
            result = compensate(value)
        except Exception as exc:
            watch.compensations[path] = exc
            raise
        return note(result)

    return watched


def _inject(
    saga: Saga[object, object, object] | AsyncSaga[object, object, object],
    point: _Point | None,
    fault: Fault | None,
    *,
    async_run: bool,
) -> _Built:
    """``saga`` with every step watched and, at ``point``, an action that fails
    with ``fault`` without doing anything (its compensation is kept)."""
    watch = _Watch()
    error = InjectedFault(point.name if point is not None else "")
    injected: object = Failure(error) if fault == "failure" else error

    def fail(_: object) -> object:
        if isinstance(injected, BaseException):
            raise injected
        return injected

    def replace(path: _Path, node: Node) -> Node | None:
        if point is not None and path == point.path:
            compensate = None
            if isinstance(node, Step) and node.compensate is not None:
                compensate = _watched_compensation(
                    node.compensate, path, watch, is_async=node.compensate_is_async
                )
            return Step(node.name, fail, compensate)
        if not isinstance(node, Step) or node.hidden:
            return None
        action = _watched_action(
            node.action, path, watch, is_async=node.is_async, async_run=async_run
        )
        compensate = None
        if node.compensate is not None:
            compensate = _watched_compensation(
                node.compensate, path, watch, is_async=node.compensate_is_async
            )
        return Step(node.name, action, compensate)

    extra = (Step(_END_STEP, fail, None),) if isinstance(point, _End) else ()
    return _Built(
        _rebuild(saga, replace, extra), watch, injected if fault is not None else None
    )


def _compensation_runs(
    saga: Saga[_In, object, object] | AsyncSaga[_In, object, object],
) -> list[
    tuple[
        _Point, Policy, Saga[object, object, object] | AsyncSaga[object, object, object]
    ]
]:
    """The runs of :func:`compensation_failure_reports`: (whose compensation
    fails, policy, saga to run)."""
    any_saga: Saga[object, object, object] | AsyncSaga[object, object, object] = saga  # type: ignore[assignment]
    if _has_body(any_saga.nodes):
        raise TypeError(
            "compensation_failure_reports() takes a chain: a body's steps are known "
            "only when it runs. Prove a body's rollback with check_rollback(), or "
            "test a failing compensation by making it fail in your own test"
        )
    points = _points(any_saga.nodes)
    tops = [p for p in points if len(p.path) == 1]
    if not tops:
        return []
    last = tops[-1]
    runs: list[
        tuple[
            _Point,
            Policy,
            Saga[object, object, object] | AsyncSaga[object, object, object],
        ]
    ] = []
    for target in points:
        if not target.compensable or _top(target) >= _top(last):
            continue

        def replace(path: _Path, node: Node, target: _Point = target) -> Node | None:
            if path == last.path:
                return Step(
                    node.name, lambda _: Failure(InjectedFault(last.name)), None
                )
            if path == target.path and isinstance(node, Step):

                def broken(_: object) -> object:
                    return Failure(InjectedFault(target.name, in_compensation=True))

                return Step(node.name, node.action, broken)
            return None

        built = _rebuild(any_saga, replace)
        runs.extend((target, policy, built) for policy in POLICIES)
    return runs


# -- sagas with bodies: faults by the steps' names in the run ---------------------


def _has_body(nodes: tuple[Node, ...]) -> bool:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, BodyNode):
            return True
        if isinstance(node, Group):
            stack.extend(n for branch in node.branches for n in branch)
    return False


def _last_compensable(watch: _Watch) -> bool:
    steps = [compensable for key, compensable in watch.reached if key != _END_STEP]
    return bool(steps) and steps[-1]


def _key() -> str:
    context = current_step()
    return context.branch + context.step


def _inject_dynamic(
    saga: Saga[object, object, object] | AsyncSaga[object, object, object],
    run: _Run,
) -> _Built:
    """``saga`` run through the engine seam, every step watched by its name in
    the run, and at the ``run.at``-th step it reaches (or after its last step)
    an action that fails with ``run.fault`` without doing anything (its
    compensation is kept)."""
    watch = _Watch()
    fault = run.fault
    error = InjectedFault("")
    injected: object = Failure(error) if fault == "failure" else error

    def enter(info: engine.StepInfo) -> str:
        key = _key()
        watch.reached.append((key, info.compensate is not None))
        return key

    def faulty() -> object:
        if fault is None:
            return Success(None)  # the untouched run: the end step is not there
        error.step = _key()
        error.args = (f"fault injected by typed_saga.testing at step {error.step!r}",)
        if isinstance(injected, BaseException):
            raise injected
        return injected

    def target(key: str) -> bool:
        if fault is None or key == _END_STEP:
            return fault is not None
        return len(watch.reached) - 1 == run.at

    def done(key: str, result: object) -> object:
        if isinstance(result, IOResult):
            result = result._inner_value  # a FutureResult's Result
        if isinstance(result, Success):
            watch.completed.append((key,))
        return result

    def undone(key: str, result: object) -> object:
        if isinstance(result, IOResult):
            result = result._inner_value
        watch.compensations[(key,)] = (
            result.failure() if isinstance(result, Failure) else SUCCEEDED
        )
        return result

    def invoke(info: engine.StepInfo, value: object) -> object:
        key = enter(info)
        if target(key):
            return faulty()
        result = info.action(value)
        if inspect.isawaitable(result):
            return _finish(result, key, done)
        return done(key, result)

    def undo(info: engine.StepInfo, output: object) -> object:
        key = _key()
        assert info.compensate is not None
        try:
            result = info.compensate(output)
        except Exception as exc:
            watch.compensations[(key,)] = exc
            raise
        if inspect.isawaitable(result):
            return _finish(result, key, undone, record=watch.compensations)
        return undone(key, result)

    definition = saga if fault is None else saga.then(_end_step(faulty))
    return _Built(
        definition, watch, injected if fault is not None else None, (invoke, undo)
    )


def _top(point: _Point) -> int:
    first = point.path[0]
    assert isinstance(first, int)  # a chain's points: indexes
    return first


def _end_step(faulty: Callable[[], object]) -> Saga[object, object, object]:
    """The step a following ``then`` would be, failing with the fault."""

    def fail(_: object) -> Result[object, object]:
        return cast("Result[object, object]", faulty())

    return step(_END_STEP, fail)


async def _finish(
    awaitable: Awaitable[object],
    key: str,
    then: Callable[[str, object], object],
    record: dict[_Path, object] | None = None,
) -> object:
    try:
        result = await awaitable
    except Exception as exc:
        if record is not None:
            record[(key,)] = exc
        raise
    return then(key, result)


# -- the check itself ------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    number: int
    point: _Point | None  # None: the untouched run
    fault: Fault | None
    at: int = -1
    """A saga with bodies: the fault goes to the step reached ``at``-th (from
    0), or after the last step if the run ends first; ``point`` is then
    filled in when the run tells which step that was."""

    def describe(self, total: int) -> str:
        if self.point is None:
            return f"the untouched run (run {self.number} of {total})"
        how = "a Failure returned" if self.fault == "failure" else "an exception raised"
        return f"the run with {how} {self.point.at} (run {self.number} of {total})"


@dataclass
class _Outcome:
    report: SagaReport[object, object] | None = None
    exc: Exception | None = None
    events: list[Event] = field(default_factory=list)


class _Check:
    """The plan and the verdicts; the sync and async drivers only run sagas."""

    def __init__(
        self,
        saga: Saga[_In, object, object] | AsyncSaga[_In, object, object],
        policy: Policy,
        *,
        has_reset: bool,
    ) -> None:
        self.saga: Saga[object, object, object] | AsyncSaga[object, object, object] = (
            saga  # type: ignore[assignment]
        )
        self.policy: Policy = policy
        self.clean: dict[Fault, set[_Path]] = {fault: set() for fault in FAULTS}
        self.dynamic = _has_body(self.saga.nodes)
        self._end = _End((_END_STEP,), _END_STEP, repr(_END_STEP), False, False)
        self.has_reset = has_reset
        if self.dynamic:  # the steps are known as it runs: see discover()
            self.points: list[_Point] = []
            self.targets: list[_Point] = []
            first = _Run(1, None, None) if has_reset else _Run(1, None, "failure", 0)
            self.plan = [first]
            return
        self.points = _points(self.saga.nodes)
        if not self.points:
            raise ValueError("check_rollback() needs a saga with at least one step")
        self.targets = [*self.points]
        last = [node for node in self.saga.nodes if not node.hidden][-1]
        if isinstance(last, Group) or last.compensate is not None:
            top = len(self.saga.nodes)
            end = _End((top,), _END_STEP, repr(_END_STEP), False, False)
            self.targets.append(end)
        order: list[tuple[_Point | None, Fault | None]] = [
            (point, fault) for fault in FAULTS for point in self.targets
        ]
        if has_reset:  # untouched first: its verdict is the plainest
            order.insert(0, (None, None))
        else:
            order.append((None, None))  # untouched last: it leaves the world changed
        self.plan = [_Run(n, p, f) for n, (p, f) in enumerate(order, start=1)]

    def baseline(self, restored: tuple[bool, str]) -> None:
        if not restored[0]:
            raise AssertionError(
                "check_rollback: is_restored() is already false before the saga ran"
                f"{restored[1]}. It must be true for the world as it starts; give a "
                "reset() that puts the world in that state, or fix is_restored()."
            )

    def build(self, run: _Run, *, async_run: bool) -> _Built:
        if self.dynamic:
            return _inject_dynamic(self.saga, run)
        if run.point is None:
            return _Built(self.saga, _Watch(), None)
        return _inject(self.saga, run.point, run.fault, async_run=async_run)

    def discover(self, run: _Run, built: _Built) -> None:
        """A saga with bodies: the fault of ``run`` went to the ``run.at``-th
        step it reached (or after the last); name it, learn the steps, and plan
        the next run: the next step, the next kind of fault, or the untouched
        run last."""
        if not self.dynamic:
            return
        keys = [key for key, _ in built.watch.reached if key != _END_STEP]
        for key, compensable in built.watch.reached:
            if key != _END_STEP and key not in {p.name for p in self.points}:
                self.points.append(_Point((key,), key, repr(key), compensable, False))
        following: _Run | None
        if run.fault is not None:
            if 0 <= run.at < len(keys):
                key = keys[run.at]
                run.point = next(p for p in self.points if p.name == key)
                following = _Run(len(self.plan) + 1, None, run.fault, run.at + 1)
            else:
                run.point = self._end
                following = self._next_pass(run.fault)
        else:
            following = _Run(len(self.plan) + 1, None, "failure", 0)
        if following is not None:
            self.plan.append(following)

    def _next_pass(self, fault: Fault) -> _Run | None:
        number = len(self.plan) + 1
        if fault == "failure":
            return _Run(number, None, "exception", 0)
        if not self.has_reset:
            return _Run(number, None, None)  # untouched last: it changes the world
        return None

    def judge(self, run: _Run, built: _Built, outcome: _Outcome) -> None:
        """Fail plainly if the run did not end as planned: the untouched run must
        succeed, a faulty run must end with the very fault injected."""
        self.discover(run, built)
        total = len(self.plan)
        if run.fault is None:
            report = outcome.report
            if report is not None and isinstance(report.result, Success):
                return
            raise AssertionError(
                "the saga fails without any injected fault: "
                f"{self._own_failure(outcome)}. check_rollback needs a value on which "
                "the saga succeeds: fix the saga, the value, or what reset() sets up."
            ) from outcome.exc
        report = outcome.report
        if (
            run.fault == "failure"
            and report is not None
            and report.result is built.injected
        ):
            return
        if run.fault == "exception" and outcome.exc is built.injected:
            return
        raise AssertionError(
            "the saga fails without any injected fault: "
            f"{self._own_failure(outcome)}, in {run.describe(total)}, before the "
            "fault was reached. check_rollback needs a saga that succeeds every "
            "time on this value: check that reset() undoes what earlier runs did."
        ) from outcome.exc

    def _own_failure(self, outcome: _Outcome) -> str:
        for event in outcome.events:
            if isinstance(event, StepFailed) and not isinstance(
                event.error, InjectedFault
            ):
                return f"step {event.step!r} failed with {describe_error(event.error)}"
        if outcome.exc is not None:
            return f"it raised {describe_error(outcome.exc)}"
        result = outcome.report.result if outcome.report is not None else None
        return f"it returned {result!r}"

    def judge_world(
        self, run: _Run, built: _Built, outcome: _Outcome, restored: tuple[bool, str]
    ) -> None:
        """After a faulty run: the world must be restored, else name the leak."""
        assert run.fault is not None
        watch = built.watch
        clean = self.clean[run.fault]
        if run.point is self._end and not _last_compensable(watch):
            return  # a last step without compensation is deliberate: not judged
        if restored[0]:
            clean.update(watch.completed)
            return
        new = [path for path in watch.completed if path not in clean]
        labels = {point.path: point for point in self.points}
        lines = [
            "check_rollback: the world is not restored after "
            f"{run.describe(len(self.plan))}{restored[1]}."
        ]
        if len(new) == 1:
            lines.append(f"Leaky step: {self._verdict(labels[new[0]], watch)}")
            lines.append(
                "(Every earlier run with this kind of fault left the world restored, "
                "and this step is the only one that completed here and in none of "
                "them.)"
            )
        elif new:
            lines.append(
                "Leaky step: one of these, which completed for the first time in "
                "this run (they ran concurrently):"
            )
            lines.extend(f"  - {self._verdict(labels[path], watch)}" for path in new)
        elif watch.completed:
            lines.append(
                "Every step that completed here was also undone cleanly in an earlier "
                "run, so the leak comes from how they interact. Steps that completed: "
                + ", ".join(labels[path].label for path in watch.completed)
                + f"; the last one, {labels[watch.completed[-1]].label}, "
                "is the prime suspect."
            )
        else:
            lines.append(
                "No step completed before the fault, so the saga changed nothing: "
                "is_restored() or reset() does not see the world the way the saga "
                "leaves it."
            )
        failed = [
            (labels[p].label, e)
            for p, e in watch.compensations.items()
            if e is not SUCCEEDED
        ]
        if failed:
            lines.append(
                "Compensations that failed in this run: "
                + "; ".join(
                    f"{label}: {describe_error(error)}" for label, error in failed
                )
                + f" (on_compensation_failure={self.policy!r})."
            )
        if outcome.report is not None:
            lines.extend(("The run's report:", str(outcome.report)))
        elif outcome.exc is not None:
            lines.extend(
                ("Notes on the exception:", *getattr(outcome.exc, "__notes__", ()))
            )
        raise AssertionError("\n".join(lines))

    def _verdict(self, point: _Point, watch: _Watch) -> str:
        if not point.compensable:
            return (
                f"{point.label} has no compensation, yet the world differs after it "
                "ran: give it one (compensate=...), or make is_restored() ignore what "
                "it changes if that change is meant to stay."
            )
        if point.path not in watch.compensations:
            return (
                f"{point.label}: its compensation was never called (the "
                f"{self.policy!r} policy stopped the unwinding before it)."
            )
        error = watch.compensations[point.path]
        if error is not SUCCEEDED:
            return (
                f"{point.label}: its compensation failed with {describe_error(error)}."
            )
        return (
            f"{point.label}: its compensation ran and succeeded, but did not undo what "
            "its action did."
        )

    def summary(self) -> RollbackCheck:
        return RollbackCheck(
            steps=tuple(point.name for point in self.points),
            faults=FAULTS,
            runs=len(self.plan),
        )


def _sync(
    saga: Saga[object, object, object] | AsyncSaga[object, object, object],
) -> Saga[object, object, object]:
    """A rebuilt sync saga is a ``Saga`` (rebuilding keeps the class)."""
    assert isinstance(saga, Saga)
    return saga


def _restored(is_restored: Callable[[], bool | None]) -> tuple[bool, str]:
    """Ask ``is_restored``: true, false, or ``None`` after plain ``assert``
    statements passed (an ``AssertionError`` counts as no, with its message)."""
    try:
        answer = _not_awaitable(is_restored(), "is_restored")
    except AssertionError as exc:
        return False, f" (is_restored: {exc})" if str(exc) else ""
    return answer is None or bool(answer), ""


async def _restored_async(
    is_restored: Callable[[], bool | Awaitable[bool | None] | None],
) -> tuple[bool, str]:
    try:
        answer = await _maybe_await(is_restored())
    except AssertionError as exc:
        return False, f" (is_restored: {exc})" if str(exc) else ""
    return answer is None or bool(answer), ""


def _not_awaitable(value: object, what: str) -> object:
    """The sync checker cannot await: an ``async def`` ``is_restored`` or
    ``reset`` would be a coroutine, always true, and every leak would pass."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise TypeError(
            f"{what} is async (it returned an awaitable); the sync check_rollback "
            "cannot await it: use `await typed_saga.testing.check_rollback_async("
            "...)`, which takes async and plain functions"
        )
    return value


async def _maybe_await(value: object) -> object:
    if inspect.isawaitable(value):
        return await value
    return value
