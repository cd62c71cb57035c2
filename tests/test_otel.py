"""``typed_saga.otel``: spans from the real OpenTelemetry SDK's in-memory exporter.

Span trees are compared as nested tuples ``(name, outcome, status, children)``,
children in start order, so one assertion shows the whole structure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import anyio
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from returns.result import Failure, Result, Success

from tests.harness import Runner, World
from typed_saga import parallel, step
from typed_saga.otel import OpenTelemetryListener

Shape = tuple[str, Any, str, tuple[Any, ...]]


def ok(value: int) -> Result[int, str]:
    return Success(value)


def undo_nothing(value: object) -> Result[None, str]:
    return Success(None)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def listener(provider: TracerProvider) -> OpenTelemetryListener:
    return OpenTelemetryListener(provider.get_tracer("test"))


def spans_of(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    spans = list(exporter.get_finished_spans())
    return sorted(spans, key=lambda span: span.start_time or 0)  # stable


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        span
        for span in spans
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


def shape(spans: Sequence[ReadableSpan], span: ReadableSpan) -> Shape:
    attributes = span.attributes or {}
    return (
        span.name,
        attributes.get("saga.outcome"),
        span.status.status_code.name,
        tuple(shape(spans, child) for child in children(spans, span)),
    )


def roots(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    ids = {span.context.span_id for span in spans if span.context is not None}
    return [
        span for span in spans if span.parent is None or span.parent.span_id not in ids
    ]


def only_tree(exporter: InMemorySpanExporter) -> Shape:
    spans = spans_of(exporter)
    (root,) = roots(spans)
    return shape(spans, root)


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [span for span in spans if span.name == name]
    return span


def provisioning(runner: Runner, world: World, *, fail: bool) -> Any:
    server = world.failing("create server") if fail else world.action("create server")
    return runner.chain(
        runner.step(
            "allocate quota", world.action("allocate quota"), world.undo("quota")
        ),
        runner.step(
            "create network", world.action("create network"), world.undo("network")
        ),
        runner.step("create server", server),
    ).named("provision")


def test_success_is_a_run_span_with_a_child_per_step(
    runner: Runner, exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    before = otel_context.get_current()
    saga = provisioning(runner, World(), fail=False)

    assert isinstance(runner.run(saga, "req", listeners=[listener]), Success)

    assert only_tree(exporter) == (
        "saga provision",
        "succeeded",
        "UNSET",
        (
            ("step allocate quota", "succeeded", "UNSET", ()),
            ("step create network", "succeeded", "UNSET", ()),
            ("step create server", "succeeded", "UNSET", ()),
        ),
    )
    spans = spans_of(exporter)
    run = named(spans, "saga provision")
    run_id = (run.attributes or {})["saga.run_id"]
    assert isinstance(run_id, str)
    assert len(run_id) == 32
    for span in spans:
        attributes = span.attributes or {}
        assert attributes["saga.run_id"] == run_id
        assert attributes["saga.name"] == "provision"
    assert (named(spans, "step create network").attributes or {})[
        "saga.step"
    ] == "create network"
    assert otel_context.get_current() is before  # nothing left attached


def test_failure_marks_step_and_run_and_adds_compensation_spans(
    runner: Runner, exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    saga = provisioning(runner, World(), fail=True)

    result = runner.run(saga, "req", listeners=[listener])

    assert result == Failure("create server failed")
    assert only_tree(exporter) == (
        "saga provision",
        "failed",
        "ERROR",
        (
            ("step allocate quota", "succeeded", "UNSET", ()),
            ("step create network", "succeeded", "UNSET", ()),
            ("step create server", "failed", "ERROR", ()),
            ("compensate create network", "compensated", "UNSET", ()),
            ("compensate allocate quota", "compensated", "UNSET", ()),
        ),
    )
    spans = spans_of(exporter)
    run = named(spans, "saga provision")
    assert (
        run.status.description == "step 'create server' failed: 'create server failed'"
    )
    assert (run.attributes or {})["saga.failed_step"] == "create server"
    assert (run.attributes or {})["saga.error"] == "'create server failed'"
    assert "saga.left_uncompensated" not in (run.attributes or {})
    failed = named(spans, "step create server")
    assert (
        failed.status.description
        == "step 'create server' failed: 'create server failed'"
    )
    assert (failed.attributes or {})["saga.error"] == "'create server failed'"


def test_failed_compensation_and_steps_left_behind(
    runner: Runner, exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    world = World()
    saga = runner.chain(
        runner.step("validate", world.action("validate")),
        runner.step("allocate quota", world.action("quota"), world.undo("quota")),
        runner.step(
            "create network", world.action("net"), world.undo_failing("net", "api down")
        ),
        runner.step("create server", world.failing("server")),
    )

    runner.run(saga, "req", listeners=[listener])

    assert only_tree(exporter) == (
        "saga",
        "failed",
        "ERROR",
        (
            ("step validate", "succeeded", "UNSET", ()),
            ("step allocate quota", "succeeded", "UNSET", ()),
            ("step create network", "succeeded", "UNSET", ()),
            ("step create server", "failed", "ERROR", ()),
            ("compensate create network", "compensation_failed", "ERROR", ()),
        ),
    )
    spans = spans_of(exporter)
    compensation = named(spans, "compensate create network")
    assert compensation.status.description == (
        "compensation of step 'create network' failed: 'api down'"
    )
    run = named(spans, "saga")
    assert "saga.name" not in (run.attributes or {})
    assert (run.attributes or {})["saga.left_uncompensated"] == ("allocate quota",)
    assert [(event.name, dict(event.attributes or {})) for event in run.events] == [
        (
            "compensation skipped",
            {"saga.step": "allocate quota", "saga.reason": "stopped by policy"},
        ),
        (
            "compensation skipped",
            {"saga.step": "validate", "saga.reason": "no compensation"},
        ),
    ]


def test_a_raised_exception_is_recorded_on_its_step(
    runner: Runner, exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    world = World()
    boom = RuntimeError("disk on fire")
    saga = runner.chain(
        runner.step("format", world.action("format"), world.undo("format")),
        runner.step("mount", world.raising("mount", boom)),
    )

    with pytest.raises(RuntimeError):
        runner.run(saga, "vol", listeners=[listener])

    spans = spans_of(exporter)
    mount = named(spans, "step mount")
    assert mount.status.status_code is trace.StatusCode.ERROR
    assert mount.status.description == "step 'mount' failed: RuntimeError: disk on fire"
    (event,) = mount.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == "RuntimeError"
    assert [span.name for span in children(spans, named(spans, "saga"))] == [
        "step format",
        "step mount",
        "compensate format",
    ]


def test_sync_and_async_runs_give_the_same_tree(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener, backend: str
) -> None:
    trees = []
    for runner in (Runner("sync"), Runner(backend)):  # type: ignore[arg-type]
        saga = provisioning(runner, World(), fail=True)
        runner.run(saga, "req", listeners=[listener])
        trees.append(only_tree(exporter))
        exporter.clear()
    assert trees[0] == trees[1]
    assert len(trees[0][3]) == 5


def test_listener_attached_to_the_definition(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    saga = step("ping", ok).named("pinger").with_listeners(listener)
    saga.run(1)
    saga.run(2)
    assert [span.name for span in spans_of(exporter)].count("saga pinger") == 2


def test_run_span_nests_under_the_current_span_and_user_spans_under_steps(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    listener: OpenTelemetryListener,
) -> None:
    tracer = provider.get_tracer("app")

    def act(value: str) -> Any:
        with tracer.start_as_current_span("http call"):
            return Success(value)

    saga = step("fetch", act).named("inner")
    with tracer.start_as_current_span("request"):
        saga.run("x", listeners=[listener])

    assert only_tree(exporter) == (
        "request",
        None,
        "UNSET",
        (
            (
                "saga inner",
                "succeeded",
                "UNSET",
                (
                    (
                        "step fetch",
                        "succeeded",
                        "UNSET",
                        (("http call", None, "UNSET", ()),),
                    ),
                ),
            ),
        ),
    )


def test_a_saga_run_inside_a_step_nests_under_that_step(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    inner = step("inner step", ok).named("inner")

    def call_inner(value: int) -> Result[int, str]:
        return inner.run(value, listeners=[listener])

    outer = step("call inner", call_inner).named("outer")

    outer.run(1, listeners=[listener])

    tree = only_tree(exporter)
    assert tree == (
        "saga outer",
        "succeeded",
        "UNSET",
        (
            (
                "step call inner",
                "succeeded",
                "UNSET",
                (
                    (
                        "saga inner",
                        "succeeded",
                        "UNSET",
                        (("step inner step", "succeeded", "UNSET", ()),),
                    ),
                ),
            ),
        ),
    )


def make_async(
    world: World, name: str, *, fail: bool = False, hang: bool = False
) -> Callable[[object], Any]:
    async def act(value: object) -> Any:
        world.calls.append(("do", name, value))
        await anyio.sleep(0)
        if hang:
            await anyio.sleep_forever()
        return Failure(f"{name} failed") if fail else Success(f"{name}({value})")

    return act


def test_parallel_branch_steps_are_children_of_the_group_span(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener, backend: str
) -> None:
    world = World()
    saga = (
        step("quota", make_async(world, "quota"), world.undo("quota"))
        .then(
            parallel(
                step("network", make_async(world, "network"), world.undo("network")),
                step("disk", make_async(world, "disk"), world.undo("disk")),
                name="resources",
            )
        )
        .then(step("server", make_async(world, "server", fail=True)))
        .named("provision")
    )

    async def main() -> None:
        await saga.run("req", listeners=[listener])

    anyio.run(main, backend=backend)

    spans = spans_of(exporter)
    run = named(spans, "saga provision")
    assert [span.name for span in children(spans, run)] == [
        "step quota",
        "step resources",
        "step server",
        "compensate resources",
        "compensate quota",
    ]
    group = named(spans, "step resources")
    assert (group.attributes or {})["saga.parallel"] is True
    assert sorted(shape(spans, span) for span in children(spans, group)) == [
        ("step disk", "succeeded", "UNSET", ()),
        ("step network", "succeeded", "UNSET", ()),
    ]
    undo_group = named(spans, "compensate resources")
    assert sorted(shape(spans, span) for span in children(spans, undo_group)) == [
        ("compensate disk", "compensated", "UNSET", ()),
        ("compensate network", "compensated", "UNSET", ()),
    ]
    assert "saga.parallel" not in (named(spans, "step quota").attributes or {})


def test_failing_branch_cancels_its_sibling_inside_the_group_span(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener, backend: str
) -> None:
    world = World()
    before = otel_context.get_current()

    async def main() -> object:
        network_done = anyio.Event()

        async def network(value: object) -> Any:
            network_done.set()
            return Success(value)

        async def disk(value: object) -> Any:
            await network_done.wait()  # fail only once "network" has succeeded
            return Failure("disk failed")

        saga = step("quota", make_async(world, "quota"), world.undo("quota")).then(
            parallel(
                step("network", network, world.undo("network")).then(
                    step("attach", make_async(world, "attach", hang=True))
                ),
                step("disk", disk),
                name="resources",
            )
        )
        return await saga.run("req", listeners=[listener])

    assert anyio.run(main, backend=backend) == Failure("disk failed")

    spans = spans_of(exporter)
    group = named(spans, "step resources")
    assert group.status.status_code is trace.StatusCode.ERROR
    under_group = {shape(spans, span) for span in children(spans, group)}
    assert ("step disk", "failed", "ERROR", ()) in under_group
    # cut short: today the core emits no end event for it, so the listener ends
    # it as "cancelled" with the group; once the core emits StepFailed for a
    # cancelled branch step it is an ordinary failed step (see
    # test_events.test_every_started_branch_step_ends)
    assert {
        ("step attach", "cancelled", "UNSET", ()),
        ("step attach", "failed", "ERROR", ()),
    } & under_group
    assert ("compensate network", "compensated", "UNSET", ()) in under_group
    assert [span.name for span in children(spans, named(spans, "saga"))] == [
        "step quota",
        "step resources",
        "compensate quota",
    ]
    assert otel_context.get_current() is before


def test_cancelled_run_ends_every_span(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener, backend: str
) -> None:
    world = World()
    saga = step("quota", make_async(world, "quota"), world.undo("quota")).then(
        step("server", make_async(world, "server", hang=True))
    )

    async def main() -> None:
        with anyio.move_on_after(0.05):
            await saga.run("req", listeners=[listener])

    anyio.run(main, backend=backend)

    spans = spans_of(exporter)
    assert only_tree(exporter) == (
        "saga",
        "failed",
        "ERROR",
        (
            ("step quota", "succeeded", "UNSET", ()),
            ("step server", "failed", "ERROR", ()),
            ("compensate quota", "compensated", "UNSET", ()),
        ),
    )
    assert (named(spans, "step server").attributes or {})["saga.error"] == "cancelled"


def test_interleaved_runs_in_one_event_loop_keep_their_own_trees(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener, backend: str
) -> None:
    runs = 8

    def action(name: str) -> Callable[[int], Any]:
        async def act(value: int) -> Any:
            for _ in range(value % 3 + 1):  # different runs yield differently
                await anyio.sleep(0)
            return Success(value)

        return act

    saga = (
        step("a", action("a"), lambda _: Success(None))
        .then(
            parallel(step("b", action("b")), step("c", action("c"))).map(lambda t: t[0])
        )
        .then(step("d", lambda v: Failure("no") if v % 2 else Success(v)))
    )

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for value in range(runs):
                group.start_soon(partial(saga.run, value, listeners=[listener]))

    anyio.run(main, backend=backend)

    spans = spans_of(exporter)
    run_spans = roots(spans)
    assert len(run_spans) == runs
    for run in run_spans:
        run_id = (run.attributes or {})["saga.run_id"]
        tree = shape(spans, run)
        odd = tree[1] == "failed"
        assert [child[0] for child in tree[3]] == [
            "step a",
            "step parallel(b, c)",
            "step d",
            *(["compensate parallel(b, c)", "compensate a"] if odd else []),
        ]
        assert sorted(grandchild[0] for grandchild in tree[3][1][3]) == [
            "step b",
            "step c",
        ]
        members = [s for s in spans if (s.attributes or {})["saga.run_id"] == run_id]
        assert len(members) == 6 + 2 * odd
        assert run.context is not None
        assert {s.context.trace_id for s in members if s.context} == {
            run.context.trace_id
        }
    outcomes = sorted((r.attributes or {})["saga.outcome"] for r in run_spans)  # type: ignore[type-var]
    assert outcomes == ["failed"] * 4 + ["succeeded"] * 4


def test_runs_in_threads_keep_their_own_trees(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    barrier = threading.Barrier(4)

    def wait(value: int) -> Any:
        barrier.wait(timeout=5)  # all four runs are inside step one together
        return Success(value)

    saga = step("wait", wait, lambda _: Success(None)).then(
        step("check", lambda v: Failure("odd") if v % 2 else Success(v))
    )
    threads = [
        threading.Thread(target=saga.run, args=(n,), kwargs={"listeners": [listener]})
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    spans = spans_of(exporter)
    trees = sorted(shape(spans, run) for run in roots(spans))
    assert (
        trees
        == [
            (
                "saga",
                "failed",
                "ERROR",
                (
                    ("step wait", "succeeded", "UNSET", ()),
                    ("step check", "failed", "ERROR", ()),
                    ("compensate wait", "compensated", "UNSET", ()),
                ),
            ),
        ]
        * 2
        + [
            (
                "saga",
                "succeeded",
                "UNSET",
                (
                    ("step wait", "succeeded", "UNSET", ()),
                    ("step check", "succeeded", "UNSET", ()),
                ),
            ),
        ]
        * 2
    )


def test_default_tracer_without_an_sdk_is_harmless() -> None:
    before = otel_context.get_current()
    listener = OpenTelemetryListener()  # the global (no-op unless configured) provider
    saga = step("a", ok, undo_nothing).then(step("b", lambda _: Failure("x")))
    assert saga.run(1, listeners=[listener]) == Failure("x")
    assert otel_context.get_current() is before
    assert "OpenTelemetryListener(tracer=" in repr(listener)


def test_failed_group_compensation_is_closed_as_failed(
    exporter: InMemorySpanExporter, listener: OpenTelemetryListener
) -> None:
    world = World()
    saga = parallel(
        step("network", make_async(world, "network"), world.undo_failing("network")),
        step("disk", make_async(world, "disk"), world.undo("disk")),
        name="resources",
    ).then(step("server", make_async(world, "server", fail=True)))

    async def main() -> None:
        await saga.run("req", listeners=[listener], on_compensation_failure="continue")

    anyio.run(main)

    spans = spans_of(exporter)
    undo_group = named(spans, "compensate resources")
    assert (undo_group.attributes or {})["saga.outcome"] == "compensation_failed"
