"""``Retry``: a step's retry policy, in one place.

In process, a step with ``retry=`` is run by tenacity (install the ``retry``
extra); a durable engine maps the same value to its own retries. Only
exceptions are retried: a ``Failure`` is an outcome, returned as it is. When
the attempts run out, the last exception is the step's, and the run unwinds.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import final

from typed_saga._trace import running_trace
from typed_saga._value import Frozen, init_field


@final
class Retry(Frozen):
    """How often, how patiently, and on which exceptions to call a step again.

    ``attempts`` counts every call, the first included. Before attempt *n*
    (from 2) the runner waits ``interval * backoff ** (n - 2)`` seconds, at
    most ``max_interval``. Only the exceptions in ``on`` (and their
    subclasses) are retried; anything else, and a returned ``Failure``, ends
    the step at once.

    >>> Retry(attempts=5, interval=0.2, on=(ConnectionError,)).waits()
    (0.2, 0.4, 0.8, 1.6)
    >>> Retry(attempts=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ValueError: Retry(attempts=...) counts every call, the first included: ...
    """

    __slots__ = ("attempts", "interval", "backoff", "max_interval", "on")

    attempts: int
    interval: float
    backoff: float
    max_interval: float
    on: tuple[type[Exception], ...]

    def __init__(
        self,
        *,
        attempts: int = 3,
        interval: float = 0.1,
        backoff: float = 2.0,
        max_interval: float = 10.0,
        on: tuple[type[Exception], ...] = (Exception,),
    ) -> None:
        init_field(self, "attempts", attempts)
        init_field(self, "interval", interval)
        init_field(self, "backoff", backoff)
        init_field(self, "max_interval", max_interval)
        init_field(self, "on", on)
        self._check()

    def _check(self) -> None:
        attempts: object = self.attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise TypeError(f"Retry(attempts=...) takes an int, got {attempts!r}")
        if attempts < 1:
            raise ValueError(
                "Retry(attempts=...) counts every call, the first included: give 1 "
                f"or more, got {self.attempts}"
            )
        for field, value in (
            ("interval", self.interval),
            ("max_interval", self.max_interval),
        ):
            number: object = value
            if not _number(number) or number < 0:  # type: ignore[operator]
                raise ValueError(
                    f"Retry({field}=...) is seconds, 0 or more, got {value!r}"
                )
        backoff: object = self.backoff
        if not _number(backoff) or backoff < 1:  # type: ignore[operator]
            raise ValueError(
                f"Retry(backoff=...) multiplies each wait: give 1 or more, got "
                f"{self.backoff!r}"
            )
        given: object = self.on
        on = given if isinstance(given, tuple) else (given,)
        for kind in on:
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise TypeError(
                    "Retry(on=...) takes Exception classes (a KeyboardInterrupt or a "
                    f"cancellation is never retried), got {kind!r}"
                )
        init_field(self, "on", on)

    def waits(self) -> tuple[float, ...]:
        """The waits before each retry, in seconds (one fewer than attempts)."""
        return tuple(
            min(self.interval * self.backoff**n, self.max_interval)
            for n in range(self.attempts - 1)
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tenacity() -> object:
    try:
        import tenacity
    except ImportError:  # pragma: no cover - the retry extra is installed in tests
        raise ImportError(
            "retry= runs steps again with tenacity, which is not installed: "
            "pip install 'typed-saga[retry]'"
        ) from None
    return tenacity


def retrying_sync(
    function: Callable[[object], object], policy: Retry
) -> Callable[[object], object]:
    """``function`` called again on the policy's exceptions; each attempt's
    number is what ``current_step().attempt`` says."""
    tenacity = _tenacity()
    retrying = tenacity.Retrying(  # type: ignore[attr-defined]
        **_options(tenacity, policy), sleep=_sleep
    )

    @functools.wraps(function)
    def retried(value: object) -> object:
        trace = running_trace()
        try:
            for attempt in retrying.copy():
                with attempt:
                    if trace is not None:
                        trace.attempt = attempt.retry_state.attempt_number
                    return function(value)
        finally:
            if trace is not None:
                trace.attempt = 1
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    return retried


def retrying_async(
    function: Callable[[object], object], policy: Retry
) -> Callable[[object], Awaitable[object]]:
    """The async twin of :func:`retrying_sync` (asyncio and trio)."""
    import anyio

    tenacity = _tenacity()
    retrying = tenacity.AsyncRetrying(  # type: ignore[attr-defined]
        **_options(tenacity, policy), sleep=anyio.sleep
    )

    @functools.wraps(function)
    async def retried(value: object) -> object:
        trace = running_trace()
        try:
            async for attempt in retrying.copy():
                with attempt:
                    if trace is not None:
                        trace.attempt = attempt.retry_state.attempt_number
                    result = function(value)
                    if inspect.isawaitable(result):
                        result = await result
                    return result
        finally:
            if trace is not None:
                trace.attempt = 1
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    return retried


def _options(tenacity: object, policy: Retry) -> dict[str, object]:
    t = tenacity
    return {
        "stop": t.stop_after_attempt(policy.attempts),  # type: ignore[attr-defined]
        "wait": t.wait_exponential(  # type: ignore[attr-defined]
            multiplier=policy.interval,
            exp_base=policy.backoff,
            min=0,
            max=policy.max_interval,
        ),
        "retry": t.retry_if_exception_type(policy.on),  # type: ignore[attr-defined]
        "reraise": True,
    }


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)
