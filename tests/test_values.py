"""The library's small values (events, step contexts, records, retry
policies) behave as frozen dataclasses would: immutable, compared and hashed
by their fields, printed with them, copied and pickled intact."""

from __future__ import annotations

import copy
import pickle

import pytest

from typed_saga import (
    CompensationSkipped,
    Retry,
    SagaFailed,
    StepContext,
    StepOutcome,
    StepRecord,
    StepStarted,
)
from typed_saga._value import Frozen

VALUES: list[Frozen] = [
    StepStarted(run_id="r1", saga="s", step="a"),
    SagaFailed(
        run_id="r1",
        saga=None,
        duration=0.5,
        step="b",
        error="boom",
        left_uncompensated=("a",),
    ),
    CompensationSkipped(run_id="r1", saga="s", step="a", reason="no compensation"),
    StepContext(run_id="r1", saga="s", step="a", attempt=2, compensating=True),
    StepRecord("a", StepOutcome.COMPENSATED, "err"),
    Retry(attempts=5, on=(ConnectionError,)),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_a_value_cannot_be_changed(value: Frozen) -> None:
    name = type(value).__slots__[0]
    before = getattr(value, name)
    with pytest.raises(AttributeError, match="immutable"):
        setattr(value, name, "changed")
    with pytest.raises(AttributeError, match="immutable"):
        delattr(value, name)
    with pytest.raises(AttributeError):
        value.new_attribute = 1
    assert getattr(value, name) == before


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_copies_and_pickles_are_equal_with_the_same_hash(value: Frozen) -> None:
    for twin in (
        copy.copy(value),
        copy.deepcopy(value),
        pickle.loads(pickle.dumps(value)),
    ):
        assert twin is not value
        assert type(twin) is type(value)
        assert twin == value
        assert hash(twin) == hash(value)
        assert repr(twin) == repr(value)


def test_equality_is_by_every_field_and_by_type() -> None:
    started = StepStarted(run_id="r1", saga="s", step="a")
    assert started == StepStarted(run_id="r1", saga="s", step="a")
    assert started != StepStarted(run_id="r1", saga="s", step="b")
    assert started != StepStarted(run_id="r2", saga="s", step="a")
    # same fields, other event: not equal
    assert started != CompensationSkipped(
        run_id="r1", saga="s", step="a", reason="no compensation"
    )
    assert started != ("r1", "s", "a")
    assert len({started, StepStarted(run_id="r1", saga="s", step="a")}) == 1
    context = StepContext(run_id="r1", saga="s", step="a", attempt=1)
    assert context != StepContext(
        run_id="r1", saga="s", step="a", attempt=1, branch="g/0/"
    )


def test_repr_names_every_field_in_order() -> None:
    assert repr(StepStarted(run_id="r1", saga=None, step="a")) == (
        "StepStarted(run_id='r1', saga=None, step='a')"
    )
    assert repr(StepContext(run_id="r1", saga="s", step="a", attempt=1)) == (
        "StepContext(run_id='r1', saga='s', step='a', attempt=1, "
        "compensating=False, branch='')"
    )
    assert repr(Retry()) == (
        "Retry(attempts=3, interval=0.1, backoff=2.0, max_interval=10.0, "
        "on=(<class 'Exception'>,))"
    )


def test_events_are_built_with_keywords_only() -> None:
    with pytest.raises(TypeError):
        StepStarted("r1", "s", "a")  # type: ignore[call-arg]


def test_importing_typed_saga_loads_neither_dataclasses_nor_returns_future() -> None:
    import subprocess
    import sys

    code = (
        "import sys, typed_saga; "
        "print(sorted(m for m in ('dataclasses', 'returns.future', 'asyncio') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
