"""What happened to each step of one run: :class:`StepOutcome`, :class:`StepRecord`,
:class:`SagaReport`."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Generic, TypeVar, final

from returns.result import Result

from typed_saga._events import describe_error
from typed_saga._value import Frozen, init_field

_Out_co = TypeVar("_Out_co", covariant=True)
_Err_co = TypeVar("_Err_co", covariant=True)


@final
class StepOutcome(StrEnum):
    """The fate of one step in one run.

    >>> StepOutcome.COMPENSATED == "compensated"
    True
    """

    SUCCEEDED = "succeeded"
    """The action succeeded and nothing undid it (the run succeeded, or the step
    had no compensation)."""
    FAILED = "failed"
    """The action returned a ``Failure`` or raised: the run stopped here."""
    COMPENSATED = "compensated"
    """The action succeeded, a later step failed, and the compensation succeeded."""
    COMPENSATION_FAILED = "compensation_failed"
    """The compensation returned a ``Failure``, raised, or timed out."""
    LEFT_UNCOMPENSATED = "left_uncompensated"
    """The ``"stop"`` policy ended the unwinding before this step was reached:
    its effects are still out there and need manual cleanup."""
    NOT_RUN = "not_run"
    """A step after the failing one: its action never ran."""


@final
class StepRecord(Frozen):
    """One step's line in a :class:`SagaReport`.

    ``error`` is the failure value (what was inside the ``Failure``) or the
    exception, for ``failed`` and ``compensation_failed`` steps; otherwise ``None``.
    ``branches`` holds the records of each branch of a :func:`~typed_saga.parallel`
    group (empty for a plain step).

    >>> StepRecord("create network", StepOutcome.COMPENSATED)
    StepRecord('create network', 'compensated')
    """

    __slots__ = ("name", "outcome", "error", "branches")

    name: str
    outcome: StepOutcome
    error: object
    branches: tuple[tuple[StepRecord, ...], ...]

    def __init__(
        self,
        name: str,
        outcome: StepOutcome,
        error: object = None,
        branches: tuple[tuple[StepRecord, ...], ...] = (),
    ) -> None:
        init_field(self, "name", name)
        init_field(self, "outcome", outcome)
        init_field(self, "error", error)
        init_field(self, "branches", branches)

    def __hash__(self) -> int:
        return hash((self.name, self.outcome))

    def __repr__(self) -> str:
        extra = "" if self.error is None else f", error={self.error!r}"
        if self.branches:
            extra += f", branches={self.branches!r}"
        return f"StepRecord({self.name!r}, {str(self.outcome)!r}{extra})"


@final
class SagaReport(Generic[_Out_co, _Err_co]):
    """The result of one run plus one :class:`StepRecord` per step, in order.

    ``report.result`` is exactly what :meth:`Saga.run <typed_saga.Saga.run>` would
    have returned (on failure, the very ``Failure`` object of the failing action).
    ``str(report)`` is a table you can paste into an incident ticket.

    >>> from returns.result import Success
    >>> report = SagaReport(
    ...     Success(3), (StepRecord("allocate quota", StepOutcome.SUCCEEDED),)
    ... )
    >>> print(report)
    saga succeeded
    step            outcome    error
    --------------  ---------  -----
    allocate quota  succeeded
    """

    __slots__ = ("_build", "_name", "_result", "_steps")

    _result: Result[_Out_co, _Err_co]
    _name: str | None
    _steps: tuple[StepRecord, ...] | None
    _build: Callable[[], tuple[StepRecord, ...]] | None

    def __init__(
        self,
        result: Result[_Out_co, _Err_co],
        steps: tuple[StepRecord, ...],
        name: str | None = None,
    ) -> None:
        object.__setattr__(self, "_result", result)
        object.__setattr__(self, "_steps", tuple(steps))
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_build", None)

    @classmethod
    def _later(
        cls,
        result: Result[_Out_co, _Err_co],
        build: Callable[[], tuple[StepRecord, ...]],
        name: str | None,
    ) -> SagaReport[_Out_co, _Err_co]:
        """A report whose records are made when first read: most reports are
        only asked for their result."""
        report = cls.__new__(cls)
        object.__setattr__(report, "_result", result)
        object.__setattr__(report, "_steps", None)
        object.__setattr__(report, "_name", name)
        object.__setattr__(report, "_build", build)
        return report

    @property
    def result(self) -> Result[_Out_co, _Err_co]:
        """What ``run`` returned: the last step's ``Success`` or the very
        ``Failure`` of the failing step."""
        return self._result

    @property
    def name(self) -> str | None:
        """The saga's name, if it has one."""
        return self._name

    @property
    def steps(self) -> tuple[StepRecord, ...]:
        """One :class:`StepRecord` per step, in run order."""
        steps = self._steps
        if steps is None:
            build = self._build
            assert build is not None
            steps = build()
            object.__setattr__(self, "_steps", steps)  # benign: made once
            object.__setattr__(self, "_build", None)
        return steps

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError("SagaReport is immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError("SagaReport is immutable")

    @staticmethod
    def of(exception: BaseException) -> SagaReport[object, BaseException] | None:
        """The report of the run that raised ``exception`` (an action that
        raised, or a ``KeyboardInterrupt`` in a compensation), or ``None`` if no
        saga run raised it. Its ``result`` is ``Failure(exception)``; its
        records say what was compensated before the exception propagated.

        >>> from returns.result import Success
        >>> from typed_saga import step
        >>> def boom(_: object) -> Success[int]:
        ...     raise RuntimeError("boom")
        >>> saga = step("a", Success, compensate=lambda _: Success(None)).then(
        ...     step("b", boom)
        ... )
        >>> try:
        ...     saga.run(1)
        ... except RuntimeError as error:
        ...     print(SagaReport.of(error))
        saga failed at step 'b'
        step  outcome      error
        ----  -----------  ------------------
        a     compensated
        b     failed       RuntimeError: boom
        """
        try:
            pending = exception.__dict__.get(REPORT_ATTRIBUTE)
        except Exception:
            return None
        if not isinstance(pending, tuple):
            return None
        records, name = pending
        from returns.result import Failure

        return SagaReport(Failure(exception), _fill(records, exception), name)

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart`` of this run, coloured by each step's outcome,
        with a legend: the failed step, what was compensated, which
        compensations failed or were left for manual cleanup, what never ran.

        A report knows what the run did, not the definition: compensations are
        drawn where the unwinding reached them (use ``Saga.to_mermaid()`` for
        the whole design). The failure value or exception of a failed step or
        compensation is shown, shortened, in its box.
        """
        from typed_saga._mermaid import report_diagram

        return report_diagram(self)

    @property
    def left_uncompensated(self) -> tuple[str, ...]:
        """Names of the steps the ``"stop"`` policy never reached (outcome
        ``left_uncompensated``), as in the WARNING log and ``SagaFailed``."""
        return self._named(StepOutcome.LEFT_UNCOMPENSATED)

    @property
    def needs_cleanup(self) -> tuple[str, ...]:
        """Every step whose effects may still be out there: those whose
        compensation failed and those left un-compensated — what an operator
        must look at by hand, in run order."""
        return self._named(
            StepOutcome.LEFT_UNCOMPENSATED, StepOutcome.COMPENSATION_FAILED
        )

    def _named(self, *outcomes: StepOutcome) -> tuple[str, ...]:
        walked = _walk(self.steps)
        return tuple(record.name for record in walked if record.outcome in outcomes)

    def __repr__(self) -> str:
        return f"SagaReport(result={self.result!r}, steps={self.steps!r})"

    def __str__(self) -> str:
        title = "saga" if self.name is None else f"saga {self.name!r}"
        failed = [r.name for r in self.steps if r.outcome is StepOutcome.FAILED]
        verdict = "succeeded" if _is_success(self.result) else "failed"
        if failed and not _is_success(self.result):
            verdict += f" at step {failed[0]!r}"
        rows: list[tuple[str, ...]] = [("step", "outcome", "error")]
        rows.extend(
            (indent + record.name, str(record.outcome), _short(record.error))
            for indent, record in _rows(self.steps, "")
        )
        widths = [max(len(row[col]) for row in rows) for col in range(3)]
        rows.insert(1, tuple("-" * width for width in widths))
        lines = [f"{title} {verdict}"]
        lines.extend(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
            for row in rows
        )
        return "\n".join(lines)


REPORT_ATTRIBUTE: Final = "__typed_saga_report__"
"""Where a run keeps its report on the exception it raised."""

RAISED: Final = object()
"""Stands for the raised exception in a report kept on that exception (so the
report holds no reference to it: no cycle keeps its traceback alive)."""


def _fill(
    records: tuple[StepRecord, ...], exception: BaseException
) -> tuple[StepRecord, ...]:
    return tuple(
        StepRecord(
            record.name,
            record.outcome,
            exception if record.error is RAISED else record.error,
            tuple(_fill(branch, exception) for branch in record.branches),
        )
        for record in records
    )


def _is_success(result: Result[object, object]) -> bool:
    from returns.result import Success

    return isinstance(result, Success)


def _short(error: object) -> str:
    if error is None:
        return ""
    text = describe_error(error)
    return " ".join(text.split())  # one line per step, nothing cut off


def _rows(records: tuple[StepRecord, ...], indent: str) -> list[tuple[str, StepRecord]]:
    out: list[tuple[str, StepRecord]] = []
    for record in records:
        out.append((indent, record))
        for number, branch in enumerate(record.branches, start=1):
            for sub_indent, sub in _rows(branch, indent + "  "):
                out.append(
                    (
                        sub_indent + f"[{number}] "
                        if sub_indent == indent + "  "
                        else sub_indent,
                        sub,
                    )
                )
    return out


def _walk(records: tuple[StepRecord, ...]) -> list[StepRecord]:
    out: list[StepRecord] = []
    for record in records:
        out.append(record)
        for branch in record.branches:
            out.extend(_walk(branch))
    return out
