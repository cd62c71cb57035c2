"""The Go-style API: ``Action``, ``Handler``, ``run(handler)`` — the reference
runner's cases, on the same engine as ``Saga``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from returns.result import Failure, Result, Success

from typed_saga import Action, run


class Provision:
    """Quota allocation, validation (no compensation), network creation, an
    update compensated by a revert, server creation: state lives on ``self``."""

    def __init__(
        self, fail_at: str | None = None, broken_undo: str | None = None
    ) -> None:
        self.fail_at = fail_at
        self.broken_undo = broken_undo
        self.calls: list[str] = []
        self.actions_calls = 0
        self.failure: Failure[str] = Failure(f"{fail_at} failed")

    def actions(self) -> Iterator[Action[str]]:
        self.actions_calls += 1
        yield Action("allocate quota", self._do("quota"), self._undo("quota"))
        yield Action("validate", self._do("validate"))
        yield Action("create network", self._do("network"), self._undo("network"))
        yield Action("update dns", self._do("dns"), self._undo("dns"))
        yield Action("create server", self._do("server"))

    def _do(self, name: str) -> Any:
        def action() -> Result[None, str]:
            self.calls.append(name)
            return self.failure if name == self.fail_at else Success(None)

        return action

    def _undo(self, name: str) -> Any:
        def compensate() -> Result[None, str]:
            self.calls.append(f"undo {name}")
            return Failure("stuck") if name == self.broken_undo else Success(None)

        return compensate


def test_all_succeed() -> None:
    handler = Provision()
    assert run(handler) == Success(None)
    assert handler.calls == ["quota", "validate", "network", "dns", "server"]
    assert handler.actions_calls == 1


def test_first_fails_nothing_compensated() -> None:
    handler = Provision(fail_at="quota")
    assert run(handler) is handler.failure
    assert handler.calls == ["quota"]


def test_last_fails_compensates_in_reverse_skipping_validation() -> None:
    handler = Provision(fail_at="server")
    assert run(handler) is handler.failure
    assert handler.calls == [
        "quota",
        "validate",
        "network",
        "dns",
        "server",
        "undo dns",
        "undo network",
        "undo quota",
    ]
    assert handler.actions_calls == 1


def test_failed_compensation_stops_by_default() -> None:
    handler = Provision(fail_at="server", broken_undo="network")
    assert run(handler) is handler.failure
    assert handler.calls[-2:] == ["undo dns", "undo network"]


def test_failed_compensation_continue_policy() -> None:
    handler = Provision(fail_at="server", broken_undo="network")
    assert run(handler, on_compensation_failure="continue") is handler.failure
    assert handler.calls[-3:] == ["undo dns", "undo network", "undo quota"]


def test_no_actions_is_success() -> None:
    class Empty:
        def actions(self) -> list[Action[str]]:
            return []

    assert run(Empty()) == Success(None)


def test_exception_unwinds_and_reraises() -> None:
    boom = ConnectionError("api down")

    class Raising(Provision):
        def actions(self) -> Iterator[Action[str]]:
            yield from list(super().actions())[:3]
            yield Action("call api", self._raise)

        def _raise(self) -> Result[None, str]:
            raise boom

    handler = Raising()
    with pytest.raises(ConnectionError) as caught:
        run(handler)
    assert caught.value is boom
    assert handler.calls[-2:] == ["undo network", "undo quota"]
    assert any("'call api'" in note for note in boom.__notes__)


def test_non_action_is_rejected_before_anything_runs() -> None:
    class Bad(Provision):
        def actions(self) -> Iterator[Any]:
            yield from list(super().actions())[:2]
            yield lambda: Success(None)

    handler = Bad()
    with pytest.raises(
        TypeError, match=r"actions\(\)\[2\] is a function, not an Action"
    ):
        run(handler)
    assert handler.calls == []


def test_action_definition_errors() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        Action("", lambda: Success(None))
    with pytest.raises(TypeError, match="must be callable"):
        Action("x", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be callable"):
        Action("x", lambda: Success(None), 3)  # type: ignore[arg-type]


def test_unknown_policy_rejected_before_actions_called() -> None:
    handler = Provision()
    with pytest.raises(ValueError, match="on_compensation_failure"):
        run(handler, on_compensation_failure="rollback")  # type: ignore[arg-type]
    assert handler.actions_calls == 0
