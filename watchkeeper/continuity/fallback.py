"""The fallback chain: what answers when the primary model cannot, in order — simpler
models, then a cached result, then a human — and the error when none of them can.

>>> def simple(features):
...     raise ValueError("no rule")
>>> chain = FallbackChain([simple])
>>> errors = [Step("primary", TimeoutError("0.05 s"))]
>>> chain.run_models((({"country": "XX"},), {}), errors)
(False, None, None)
>>> print(AllFallbacksFailed("fraud", errors))
fraud: every step failed: primary: TimeoutError: 0.05 s; simple: ValueError: no rule
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Call = tuple[tuple[Any, ...], dict[str, Any]]  # (args, kwargs)


@dataclass(frozen=True)
class Step:
    """One step of the chain that failed, and why."""

    name: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.name}: {type(self.error).__name__}: {self.error}"


class AllFallbacksFailed(Exception):
    """The primary and every fallback failed; ``steps`` names each one and its error."""

    def __init__(self, model: str, steps: Sequence[Step]) -> None:
        self.model = model
        self.steps = tuple(steps)
        super().__init__(f"{model}: every step failed: " + "; ".join(map(str, self.steps)))


def step_name(fn: Callable[..., Any]) -> str:
    """The name a fallback is known by in errors and metrics."""
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "primary" if name == "primary" else name  # "primary" is the guarded call's


class FallbackChain:
    """Simpler models, tried in order with the primary's arguments; the first that
    returns answers. Cache and human steps follow them in the guard."""

    __slots__ = ("models", "names")

    def __init__(self, models: Sequence[Callable[..., Any]] = ()) -> None:
        for model in models:
            if not callable(model):
                raise TypeError(f"a fallback must be callable, got {model!r}")
        self.models = tuple(models)
        self.names = tuple(step_name(m) for m in self.models)

    def run_models(self, call: Call, errors: list[Step]) -> tuple[bool, Any, str | None]:
        """``(True, value, name)`` from the first model that answers; each failure is
        appended to ``errors``."""
        args, kwargs = call
        for name, model in zip(self.names, self.models, strict=True):
            try:
                value = model(*args, **kwargs)
                if inspect.isawaitable(value):
                    _close(value)
                    raise TypeError(f"fallback {name} is async: use it with AsyncGuard")
            except Exception as exc:  # a fallback must never take the caller down
                errors.append(Step(name, exc))
                continue
            return True, value, name
        return False, None, None

    async def arun_models(self, call: Call, errors: list[Step]) -> tuple[bool, Any, str | None]:
        """The async form: each model may be sync or async."""
        args, kwargs = call
        for name, model in zip(self.names, self.models, strict=True):
            try:
                value = model(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = await value
            except Exception as exc:
                errors.append(Step(name, exc))
                continue
            return True, value, name
        return False, None, None


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning
