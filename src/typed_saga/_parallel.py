"""``parallel(a, b, ...)``: typed fan-out, compensating the branches that succeeded."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from typed_saga._node import Group, Node, check_name
from typed_saga._saga import AsyncSaga, Saga

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
# a TypeVarTuple), hence the list. Beyond ten, the last overload falls back to
# tuple[object, ...] with the errors joined.


@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[_In, tuple[_A, _B], _Ea | _Eb]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[_In, tuple[_A, _B, _C], _Ea | _Eb | _Ec]: ...
@overload
def parallel(
    a: Saga[_In, _A, _Ea] | AsyncSaga[_In, _A, _Ea],
    b: Saga[_In, _B, _Eb] | AsyncSaga[_In, _B, _Eb],
    c: Saga[_In, _C, _Ec] | AsyncSaga[_In, _C, _Ec],
    d: Saga[_In, _D, _Ed] | AsyncSaga[_In, _D, _Ed],
    /,
    *,
    name: str | None = None,
) -> AsyncSaga[_In, tuple[_A, _B, _C, _D], _Ea | _Eb | _Ec | _Ed]: ...
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
) -> AsyncSaga[_In, tuple[_A, _B, _C, _D, _E], _Ea | _Eb | _Ec | _Ed | _Ee]: ...
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
    _In, tuple[_A, _B, _C, _D, _E, _F], _Ea | _Eb | _Ec | _Ed | _Ee | _Ef
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
    a: Saga[_In, Any, _Ea] | AsyncSaga[_In, Any, _Ea],
    b: Saga[_In, Any, _Ea] | AsyncSaga[_In, Any, _Ea],
    /,
    *more: Saga[_In, Any, _Ea] | AsyncSaga[_In, Any, _Ea],
    name: str | None = None,
) -> AsyncSaga[_In, tuple[object, ...], _Ea]: ...
def parallel(
    *branches: Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any],
    name: str | None = None,
) -> AsyncSaga[Any, tuple[Any, ...], Any]:
    """Run sagas concurrently on the same input; output the tuple of their outputs.

    If any branch fails, the branches still running are cancelled, every branch
    is unwound (concurrently, each in reverse) and the first failure (in time)
    is returned. If a later step fails, the whole group is compensated the same
    way. The result is always an :class:`~typed_saga.AsyncSaga`.

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> add = step("a", lambda n: Success(n + 1))
    >>> both = parallel(add, step("b", lambda n: Success(n * 2)))
    >>> both
    <AsyncSaga ['parallel(a, b)']>
    """
    if len(branches) < 2:
        raise TypeError(
            f"parallel() takes two or more sagas, got {len(branches)}; "
            "for one, use the saga itself"
        )
    for index, branch in enumerate(branches):
        if not isinstance(branch, Saga | AsyncSaga):
            raise TypeError(
                f"parallel() branch {index} is a {type(branch).__name__}, not a saga; "
                "wrap functions with step(name, function) first"
            )
    if name is None:
        name = (
            "parallel(" + ", ".join(_label(branch.nodes) for branch in branches) + ")"
        )
    node: Node = Group(
        check_name(name, "parallel group"), tuple(b.nodes for b in branches)
    )
    return AsyncSaga((node,))


def _label(nodes: tuple[Node, ...]) -> str:
    names = [node.name for node in nodes if not node.hidden]
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"
