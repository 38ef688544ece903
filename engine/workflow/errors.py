"""Named errors of the engine. Each carries a stable `code` the web layer maps to a status."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class NotFound(EngineError):
    """The object does not exist or the actor may not see it (never say which)."""

    code = "not_found"


class Forbidden(EngineError):
    """The actor may not take this step."""

    code = "forbidden"


class InvalidTransition(EngineError):
    """The step is not allowed in the application's current status."""

    code = "invalid_transition"


class ValidationFailed(EngineError):
    """Input is malformed; `errors` maps field names to messages (English, what the API returns).
    `problems`, when given, says the same as codes with parameters per field, e.g.
    `{"amount": [("max", {"max": "360"})]}`, for the web layer to word in the reader's language."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, list[str]], message: str = "Invalid input", *,
                 problems: dict[str, list[tuple[str, dict[str, Any]]]] | None = None) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors
        self.problems = problems


class ConcurrencyConflict(EngineError):
    """Somebody else changed the instance first; reload and try again."""

    code = "conflict"
    # Running the whole operation again may succeed (see Engine.retrying).
    retryable = True


class TransientConflict(ConcurrencyConflict):
    """The database gave up on this transaction (deadlock, serialization failure, lock timeout)."""


class ScriptSecurityError(EngineError):
    """A BPMN script or expression tried something the sandbox does not allow."""

    code = "script_refused"

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message, source=source)
        self.source = source


class ModelError(EngineError):
    """A BPMN model cannot be parsed, validated or run."""

    code = "model_error"


class StepAlreadyTaken(ConcurrencyConflict):
    """The step was already taken (by this or another request); nothing was changed."""

    code = "step_already_taken"
    retryable = False


class RateLimited(EngineError):
    """Too many attempts; `retry_after` says how many seconds to wait."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
