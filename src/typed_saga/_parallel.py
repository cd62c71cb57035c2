"""``parallel(a, b, ...)``: typed fan-out, compensating the branches that succeeded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, overload

from typed_saga._call import AsyncCall, AsyncStepCall, Call
from typed_saga._node import Group, Node, check_name
from typed_saga._saga import AsyncSaga, Saga, _Definition

_In = TypeVar("_In")
_A = TypeVar("_A")
_B = TypeVar("_B")
_C = TypeVar("_C")
_D = TypeVar("_D")
_E = TypeVar("_E")
_F = TypeVar("_F")
_G = TypeVar("_G")
_H = TypeVar("_H")
_I = TypeVar("_I")
_J = TypeVar("_J")
_Ea = TypeVar("_Ea")
_Eb = TypeVar("_Eb")
_Ec = TypeVar("_Ec")
_Ed = TypeVar("_Ed")
_Ee = TypeVar("_Ee")
_Ef = TypeVar("_Ef")
_Eg = TypeVar("_Eg")
_Eh = TypeVar("_Eh")
_Ei = TypeVar("_Ei")
_Ej = TypeVar("_Ej")

# One exact overload per arity, 2 to 10 branches: AsyncSaga[In, tuple[A, B, ...],
# Ea | Eb | ...], so the step after the group can take the exact tuple. A
# TypeVarTuple cannot say "the output of each branch" (typing has no map over
# a TypeVarTuple), hence the list. The same for calls inside a body (each
# with its own input), then a list of calls of one type, of any length.
# Beyond ten sagas, the last overload falls back to tuple[object, ...] with the
# errors joined.


@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B],
    _Ea | _Eb,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C],
    _Ea | _Eb | _Ec,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D],
    _Ea | _Eb | _Ec | _Ed,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    e: Saga[_In, _E, _Ee] | AsyncSaga[_In, _E, _Ee],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D, _E],
    _Ea | _Eb | _Ec | _Ed | _Ee,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    e: Saga[_In, _E, _Ee] | AsyncSaga[_In, _E, _Ee],
    f: Saga[_In, _F, _Ef] | AsyncSaga[_In, _F, _Ef],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D, _E, _F],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    e: Saga[_In, _E, _Ee] | AsyncSaga[_In, _E, _Ee],
    f: Saga[_In, _F, _Ef] | AsyncSaga[_In, _F, _Ef],
    g: Saga[_In, _G, _Eg] | AsyncSaga[_In, _G, _Eg],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D, _E, _F, _G],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    e: Saga[_In, _E, _Ee] | AsyncSaga[_In, _E, _Ee],
    f: Saga[_In, _F, _Ef] | AsyncSaga[_In, _F, _Ef],
    g: Saga[_In, _G, _Eg] | AsyncSaga[_In, _G, _Eg],
    h: Saga[_In, _H, _Eh] | AsyncSaga[_In, _H, _Eh],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D, _E, _F, _G, _H],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg | _Eh,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    e: Saga[_In, _E, _Ee] | AsyncSaga[_In, _E, _Ee],
    f: Saga[_In, _F, _Ef] | AsyncSaga[_In, _F, _Ef],
    g: Saga[_In, _G, _Eg] | AsyncSaga[_In, _G, _Eg],
    h: Saga[_In, _H, _Eh] | AsyncSaga[_In, _H, _Eh],
    i: Saga[_In, _I, _Ei] | AsyncSaga[_In, _I, _Ei],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D, _E, _F, _G, _H, _I],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg | _Eh | _Ei,
]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    e: Saga[_In, _E, _Ee] | AsyncSaga[_In, _E, _Ee],
    f: Saga[_In, _F, _Ef] | AsyncSaga[_In, _F, _Ef],
    g: Saga[_In, _G, _Eg] | AsyncSaga[_In, _G, _Eg],
    h: Saga[_In, _H, _Eh] | AsyncSaga[_In, _H, _Eh],
    i: Saga[_In, _I, _Ei] | AsyncSaga[_In, _I, _Ei],
    j: Saga[_In, _J, _Ej] | AsyncSaga[_In, _J, _Ej],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[
    _In,
    tuple[_A, _B, _C, _D, _E, _F, _G, _H, _I, _J],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg | _Eh | _Ei | _Ej,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B],
    _Ea | _Eb,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C],
    _Ea | _Eb | _Ec,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D],
    _Ea | _Eb | _Ec | _Ed,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    e: Call[_E, _Ee] | AsyncCall[_E, _Ee],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D, _E],
    _Ea | _Eb | _Ec | _Ed | _Ee,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    e: Call[_E, _Ee] | AsyncCall[_E, _Ee],
    f: Call[_F, _Ef] | AsyncCall[_F, _Ef],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D, _E, _F],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    e: Call[_E, _Ee] | AsyncCall[_E, _Ee],
    f: Call[_F, _Ef] | AsyncCall[_F, _Ef],
    g: Call[_G, _Eg] | AsyncCall[_G, _Eg],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D, _E, _F, _G],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    e: Call[_E, _Ee] | AsyncCall[_E, _Ee],
    f: Call[_F, _Ef] | AsyncCall[_F, _Ef],
    g: Call[_G, _Eg] | AsyncCall[_G, _Eg],
    h: Call[_H, _Eh] | AsyncCall[_H, _Eh],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D, _E, _F, _G, _H],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg | _Eh,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    e: Call[_E, _Ee] | AsyncCall[_E, _Ee],
    f: Call[_F, _Ef] | AsyncCall[_F, _Ef],
    g: Call[_G, _Eg] | AsyncCall[_G, _Eg],
    h: Call[_H, _Eh] | AsyncCall[_H, _Eh],
    i: Call[_I, _Ei] | AsyncCall[_I, _Ei],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D, _E, _F, _G, _H, _I],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg | _Eh | _Ei,
]: ...
@overload
def parallel(
    a: Call[_A, _Ea] | AsyncCall[_A, _Ea],
    b: Call[_B, _Eb] | AsyncCall[_B, _Eb],
    c: Call[_C, _Ec] | AsyncCall[_C, _Ec],
    d: Call[_D, _Ed] | AsyncCall[_D, _Ed],
    e: Call[_E, _Ee] | AsyncCall[_E, _Ee],
    f: Call[_F, _Ef] | AsyncCall[_F, _Ef],
    g: Call[_G, _Eg] | AsyncCall[_G, _Eg],
    h: Call[_H, _Eh] | AsyncCall[_H, _Eh],
    i: Call[_I, _Ei] | AsyncCall[_I, _Ei],
    j: Call[_J, _Ej] | AsyncCall[_J, _Ej],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[
    tuple[_A, _B, _C, _D, _E, _F, _G, _H, _I, _J],
    _Ea | _Eb | _Ec | _Ed | _Ee | _Ef | _Eg | _Eh | _Ei | _Ej,
]: ...
@overload
def parallel(
    calls: Iterable[Call[_A, _Ea] | AsyncCall[_A, _Ea]],
    /,
    *,
    name: str | None = None,
) -> AsyncCall[list[_A], _Ea]: ...
@overload
def parallel(
    a: Saga[_In, Any, _Ea] | AsyncSaga[_In, Any, _Ea],
    b: Saga[_In, Any, _Ea] | AsyncSaga[_In, Any, _Ea],
    /,
    *more: Saga[_In, Any, _Ea] | AsyncSaga[_In, Any, _Ea],
    name: str | None = None,
) -> AsyncSaga[_In, tuple[object, ...], _Ea]: ...
def parallel(
    *branches: object,
    name: str | None = None,
) -> AsyncSaga[Any, tuple[Any, ...], Any] | AsyncCall[Any, Any]:
    """Run sagas concurrently; output the tuple of their outputs.

    Two forms. Given sagas, ``parallel(a, b)`` is an
    :class:`~typed_saga.AsyncSaga` whose branches all get its input. Inside an
    async body, given calls, ``yield from parallel(a(x), b(y))`` runs each
    with its own input, and ``yield from parallel([a(x) for x in xs])`` runs
    any number of them (none and one included) and gives a list.

    If any branch fails, the branches still running are cancelled, every branch
    is unwound (concurrently, each in reverse) and the first failure (in time)
    is returned. Every other branch failure stays visible: in that branch's
    records in the report, in a log record at ERROR, and in the note of a
    raised exception. If a later step fails, the whole group is compensated
    the same way.

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> add = step("a", lambda n: Success(n + 1))
    >>> both = parallel(add, step("b", lambda n: Success(n * 2)))
    >>> both
    <AsyncSaga ['parallel(a, b)']>
    """
    if len(branches) == 1 and not isinstance(branches[0], _Definition | AsyncStepCall):
        return _of_calls(_iterable(branches[0]), name, as_list=True)
    if branches and all(isinstance(b, AsyncStepCall) for b in branches):
        return _of_calls(branches, name, as_list=False)
    if len(branches) < 2:
        raise TypeError(
            f"parallel() takes two or more sagas, got {len(branches)}; "
            "for one, use the saga itself"
        )
    sagas: list[Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any]] = []
    for index, branch in enumerate(branches):
        if not isinstance(branch, Saga | AsyncSaga):
            raise TypeError(
                f"parallel() branch {index} is a {type(branch).__name__}, not a saga; "
                "wrap functions with step(name, function) first"
                + _CALL_HINT
                * isinstance(branch, AsyncStepCall)
            )
        sagas.append(branch)
    if name is None:
        name = "parallel(" + ", ".join(_label(b.nodes) for b in sagas) + ")"
    node: Node = Group(
        check_name(name, "parallel group"), tuple(b.nodes for b in sagas)
    )
    return AsyncSaga((node,))


_CALL_HINT = (
    " (mixing sagas and calls: inside a body, give parallel() calls only, "
    "each with its input)"
)


def _iterable(value: object) -> list[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(
            f"parallel() takes sagas, calls, or one list of calls; got a "
            f"{type(value).__name__}"
        )
    return list(value)


def _of_calls(
    calls: Iterable[object], name: str | None, *, as_list: bool
) -> AsyncCall[Any, Any]:
    """The group of a body's ``parallel(...)``: each call with its own input."""
    checked: list[AsyncStepCall[object]] = []
    for index, call in enumerate(calls):
        if not isinstance(call, AsyncStepCall):
            raise TypeError(
                f"parallel() call {index} is a {type(call).__name__}, not a step "
                "call; inside a body, write parallel(step_a(x), step_b(y)) or "
                "parallel([a_step(x) for x in xs])"
            )
        checked.append(call)
    if name is None:
        labels = [_label(call.definition.nodes) for call in checked]
        if len(set(labels)) == 1 and len(labels) > 1:
            name = f"parallel({labels[0]} x{len(labels)})"
        else:
            name = "parallel(" + ", ".join(labels) + ")"
    node = Group(
        check_name(name, "parallel group"),
        tuple(call.definition.nodes for call in checked),
        tuple(call.value for call in checked),
        as_list=as_list,
    )
    return AsyncCall(AsyncSaga((node,)), None)


def _label(nodes: tuple[Node, ...]) -> str:
    names = [node.name for node in nodes if not node.hidden]
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"
