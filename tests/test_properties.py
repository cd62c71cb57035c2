"""Property test over random sagas: the runner compensates exactly the right
steps, once each, in reverse order, with their own outputs, and hands back the
original failure or exception — sync, async, and the Go-style handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Result, Success

from tests.harness import Runner
from typed_saga import Action, Policy, StepOutcome, run

ActionKind = Literal["ok", "fail", "raise"]
CompKind = Literal["none", "ok", "fail", "raise"]


class Boom(Exception):
    """Raised by a generated action or compensation."""


@dataclass(frozen=True)
class Plan:
    actions: tuple[ActionKind, ...]
    compensations: tuple[CompKind, ...]
    policy: Policy


def plans(min_steps: int) -> st.SearchStrategy[Plan]:
    return st.integers(min_steps, 30).flatmap(
        lambda n: st.builds(
            Plan,
            st.lists(
                st.sampled_from(["ok", "ok", "ok", "fail", "raise"]),
                min_size=n,
                max_size=n,
            ).map(tuple),
            st.lists(
                st.sampled_from(["none", "ok", "fail", "raise"]), min_size=n, max_size=n
            ).map(tuple),
            st.sampled_from(["stop", "continue"]),
        )
    )


def expected_compensations(plan: Plan) -> tuple[int | None, list[int]]:
    """The failing index (None if all succeed) and the compensations that must
    run, in order: the model the runner must agree with."""
    failing = next((i for i, kind in enumerate(plan.actions) if kind != "ok"), None)
    if failing is None:
        return None, []
    ran: list[int] = []
    for index in reversed(range(failing)):
        kind = plan.compensations[index]
        if kind == "none":
            continue
        ran.append(index)
        if kind != "ok" and plan.policy == "stop":
            break
    return failing, ran


class Recorder:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.compensated: list[tuple[int, object]] = []
        self.failure: Failure[str] = Failure("the failure")
        self.exception = Boom("the exception")

    def action(self, index: int) -> Any:
        def act(value: object) -> Result[tuple[int, object], str]:
            kind = self.plan.actions[index]
            if kind == "fail":
                return self.failure
            if kind == "raise":
                raise self.exception
            return Success((index, value))  # an output unique to this step

        return act

    def compensation(self, index: int) -> Any:
        kind = self.plan.compensations[index]
        if kind == "none":
            return None

        def compensate(output: object) -> Result[None, str]:
            self.compensated.append((index, output))
            if kind == "fail":
                return Failure("undo failed")
            if kind == "raise":
                raise Boom("undo raised")
            return Success(None)

        return compensate


def check(plan: Plan, runner: Runner) -> None:
    recorder = Recorder(plan)
    parts = [
        runner.step(f"s{i}", recorder.action(i), recorder.compensation(i))
        for i in range(len(plan.actions))
    ]
    saga = runner.chain(*parts)
    failing, expected = expected_compensations(plan)
    outputs: list[object] = []
    value: object = "input"
    for index in range(len(plan.actions)):
        value = (index, value)
        outputs.append(value)
    try:
        report = runner.run_with_report(
            saga, "input", on_compensation_failure=plan.policy
        )
    except Boom as exc:
        assert failing is not None
        assert plan.actions[failing] == "raise"
        assert exc is recorder.exception
        assert any(f"'s{failing}'" in note for note in exc.__notes__)
    else:
        if failing is None:
            assert report.result == Success(outputs[-1])
        else:
            assert plan.actions[failing] == "fail"
            assert report.result is recorder.failure
            outcomes = [record.outcome for record in report.steps]
            assert outcomes[failing] == StepOutcome.FAILED
            assert all(o == StepOutcome.NOT_RUN for o in outcomes[failing + 1 :])
            for index in range(failing):
                if index in expected:
                    ok = plan.compensations[index] == "ok"
                    assert outcomes[index] == (
                        StepOutcome.COMPENSATED
                        if ok
                        else StepOutcome.COMPENSATION_FAILED
                    )
                elif plan.compensations[index] == "none":
                    assert outcomes[index] == StepOutcome.SUCCEEDED
                else:
                    assert outcomes[index] == StepOutcome.LEFT_UNCOMPENSATED
    # exactly these compensations, once each, in reverse order, own outputs
    assert recorder.compensated == [(index, outputs[index]) for index in expected]


@settings(max_examples=300, deadline=None)
@given(plans(min_steps=1))
def test_random_sync_sagas(plan: Plan) -> None:
    check(plan, Runner("sync"))


@settings(max_examples=60, deadline=None)
@given(plans(min_steps=1), st.sampled_from(["asyncio", "trio"]))
def test_random_async_sagas(plan: Plan, mode: Literal["asyncio", "trio"]) -> None:
    check(plan, Runner(mode))


@settings(max_examples=200, deadline=None)
@given(plans(min_steps=0))
def test_random_go_style_handlers(plan: Plan) -> None:
    recorder = Recorder(plan)

    class Handler:
        calls = 0

        def actions(self) -> list[Action[str]]:
            Handler.calls += 1
            return [self.make(index) for index in range(len(plan.actions))]

        def make(self, index: int) -> Action[str]:
            act, comp = recorder.action(index), recorder.compensation(index)
            return Action(
                f"s{index}",
                lambda: act(None),
                None if comp is None else (lambda: comp(None)),
            )

    failing, expected = expected_compensations(plan)
    try:
        result = run(Handler(), on_compensation_failure=plan.policy)
    except Boom as exc:
        assert failing is not None
        assert plan.actions[failing] == "raise"
        assert exc is recorder.exception
    else:
        if failing is None:
            assert result == Success(None)
        else:
            assert result is recorder.failure
    assert Handler.calls == 1
    assert [index for index, _ in recorder.compensated] == expected


# -- random bodies: loops and conditions over random steps ---------------------------

Op = tuple[Any, ...]
"""("call", step), ("if", flag, block) or ("loop", times, block)."""


def blocks(depth: int) -> st.SearchStrategy[tuple[Op, ...]]:
    call = st.tuples(st.just("call"), st.integers(0, 3))
    if depth == 0:
        return st.lists(call, min_size=1, max_size=4).map(tuple)
    inner = blocks(depth - 1)
    op = st.one_of(
        call,
        st.tuples(st.just("if"), st.booleans(), inner),
        st.tuples(st.just("loop"), st.integers(0, 3), inner),
    )
    return st.lists(op, min_size=1, max_size=4).map(tuple)


@dataclass(frozen=True)
class BodyPlan:
    program: tuple[Op, ...]
    has_compensation: tuple[bool, ...]  # per step definition (4 of them)
    actions: tuple[ActionKind, ...]  # per call, in the order the body makes them
    compensations: tuple[CompKind, ...]  # per call
    policy: Policy


def flatten(program: tuple[Op, ...]) -> list[int]:
    """The steps the body calls, in order: the model of Python's if and for."""
    out: list[int] = []
    for op in program:
        if op[0] == "call":
            out.append(op[1])
        elif op[0] == "if":
            if op[1]:
                out.extend(flatten(op[2]))
        else:
            for _ in range(op[1]):
                out.extend(flatten(op[2]))
    return out


body_plans = st.builds(
    BodyPlan,
    blocks(2),
    st.lists(st.booleans(), min_size=4, max_size=4).map(tuple),
    st.lists(
        st.sampled_from(["ok", "ok", "ok", "ok", "fail", "raise"]),
        min_size=40,
        max_size=40,
    ).map(tuple),
    st.lists(
        st.sampled_from(["ok", "ok", "fail", "raise"]), min_size=40, max_size=40
    ).map(tuple),
    st.sampled_from(["stop", "continue"]),
)


def check_body(plan: BodyPlan, runner: Runner) -> None:
    calls = flatten(plan.program)[:40]
    counter = {"n": 0}
    compensated: list[tuple[int, object]] = []
    failure: Failure[str] = Failure("the failure")
    exception = Boom("the exception")

    def action(definition: int) -> Any:
        def act(value: object) -> Result[tuple[int, object], str]:
            n = counter["n"]
            counter["n"] += 1
            kind = plan.actions[n]
            if kind == "fail":
                return failure
            if kind == "raise":
                raise exception
            return Success((n, value))  # unique to this call

        return act

    def compensation(definition: int) -> Any:
        if not plan.has_compensation[definition]:
            return None

        def compensate(output: tuple[int, object]) -> Result[None, str]:
            n = output[0]
            compensated.append((n, output))
            kind = plan.compensations[n]
            if kind == "fail":
                return Failure("undo failed")
            if kind == "raise":
                raise Boom("undo raised")
            return Success(None)

        return compensate

    steps = [runner.step(f"s{d}", action(d), compensation(d)) for d in range(4)]

    def run_block(block: tuple[Op, ...], value: object, budget: list[int]) -> Any:
        for op in block:
            if op[0] == "call":
                if budget[0] == 0:
                    return value
                budget[0] -= 1
                value = yield from steps[op[1]](value)
            elif op[0] == "if":
                if op[1]:
                    value = yield from run_block(op[2], value, budget)
            else:
                for _ in range(op[1]):
                    value = yield from run_block(op[2], value, budget)
        return value

    @runner.body("random")
    def body(start: object) -> Any:
        return (yield from run_block(plan.program, start, [40]))

    # the model: the chain of calls the body makes, as a plain saga would
    failing = next((i for i, _ in enumerate(calls) if plan.actions[i] != "ok"), None)
    expected: list[int] = []
    if failing is not None:
        for i in reversed(range(failing)):
            if not plan.has_compensation[calls[i]]:
                continue
            expected.append(i)
            if plan.compensations[i] != "ok" and plan.policy == "stop":
                break
    outputs: list[object] = []
    value: object = "input"
    for i in range(len(calls)):
        value = (i, value)
        outputs.append(value)
    try:
        report = runner.run_with_report(
            body, "input", on_compensation_failure=plan.policy
        )
    except Boom as exc:
        assert failing is not None
        assert plan.actions[failing] == "raise"
        assert exc is exception
    else:
        if failing is None:
            assert report.result == Success(outputs[-1] if calls else "input")
            assert len(report.steps) == len(calls)
        else:
            assert report.result is failure
            assert len(report.steps) == failing + 1  # only the steps it reached
            assert report.steps[-1].outcome == StepOutcome.FAILED
    assert compensated == [(i, outputs[i]) for i in expected]


@settings(max_examples=200, deadline=None)
@given(body_plans)
def test_random_sync_bodies(plan: BodyPlan) -> None:
    check_body(plan, Runner("sync"))


@settings(max_examples=40, deadline=None)
@given(body_plans, st.sampled_from(["asyncio", "trio"]))
def test_random_async_bodies(plan: BodyPlan, mode: Literal["asyncio", "trio"]) -> None:
    check_body(plan, Runner(mode))
