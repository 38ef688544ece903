"""Services that run again after a retryable conflict (a concurrent save, a deadlock)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from engine.workflow.runtime import Engine

P = ParamSpec("P")
T = TypeVar("T")


def retry_on_conflict(service: Callable[P, T]) -> Callable[P, T]:
    """Decorate a service whose first argument is the Engine: run it again after a retryable conflict."""

    @functools.wraps(service)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        engine = args[0]
        assert isinstance(engine, Engine)
        return engine.retrying(lambda: service(*args, **kwargs))

    return wrapper
