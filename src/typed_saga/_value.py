"""``Frozen``: the base of the library's small value types (events, contexts,
records, policies).

What ``@dataclass(frozen=True, slots=True)`` would give — immutable, slotted,
compared, hashed and printed by their fields — written once by hand: making a
dataclass runs generated code at import, and these classes are imported by
every program that imports ``typed_saga``. The fields are the ``__slots__``,
in order; each subclass writes its own ``__init__``, setting them with
:data:`init_field`.

>>> from typing import final
>>> @final
... class Point(Frozen):
...     __slots__ = ("x", "y")
...     x: int
...     y: int
...
...     def __init__(self, *, x: int, y: int) -> None:
...         init_field(self, "x", x)
...         init_field(self, "y", y)
>>> Point(x=1, y=2)
Point(x=1, y=2)
>>> Point(x=1, y=2) == Point(x=1, y=2), len({Point(x=1, y=2), Point(x=1, y=2)})
(True, 1)
>>> Point(x=1, y=2).x = 3
Traceback (most recent call last):
  ...
AttributeError: Point is immutable: cannot set 'x'; make a new one
"""

from __future__ import annotations

from typing import Any, Final, dataclass_transform

init_field: Final = object.__setattr__
"""Sets a field from ``__init__`` (around the immutability)."""


@dataclass_transform(frozen_default=True)  # checkers: fields are read-only
class Frozen:
    """Immutable, slotted, compared, hashed and printed by its ``__slots__``."""

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"{type(self).__name__} is immutable: cannot set {name!r}; make a new one"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(
            f"{type(self).__name__} is immutable: cannot delete {name!r}"
        )

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.__slots__])

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            assert isinstance(other, Frozen)
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle
        return (_rebuild, (type(self), self._values()))


def _rebuild(cls: type[Frozen], values: tuple[object, ...]) -> Frozen:
    value = object.__new__(cls)
    for name, field in zip(cls.__slots__, values, strict=True):
        init_field(value, name, field)
    return value
