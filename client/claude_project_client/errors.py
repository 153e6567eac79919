"""Typed exceptions: one per gateway error type, plus Lambda-level failures."""

from __future__ import annotations

from typing import Any


class ClaudeGatewayError(Exception):
    """Base of every error this client raises."""

    retryable: bool = False

    def __init__(self, message: str, *, request_id: str | None = None, response: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.response = response


class GatewayError(ClaudeGatewayError):
    """The function answered `{"ok": false, "error": {...}}`."""

    error_type = "unknown"

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        retryable: bool = False,
        request_id: str | None = None,
        response: Any = None,
    ) -> None:
        super().__init__(message, request_id=request_id, response=response)
        self.error_type = error_type or type(self).error_type
        self.retryable = retryable

    def __str__(self) -> str:
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.error_type}: {self.message}{suffix}"


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something the model does not take."""

    error_type = "invalid_request"


class ModelNotAllowed(GatewayError):
    """The model is not enabled for this project."""

    error_type = "model_not_allowed"


class Throttled(GatewayError):
    """Bedrock throttled the project's profile (retried with backoff before raising)."""

    error_type = "throttled"


class AccessDenied(GatewayError):
    """Bedrock refused the function's role."""

    error_type = "access_denied"


class UpstreamError(GatewayError):
    """Bedrock failed or could not be reached."""

    error_type = "upstream_error"


class GatewayTimeout(GatewayError):
    """The function ran out of time for the model call."""

    error_type = "timeout"


class BudgetExceeded(GatewayError):
    """The project's budget cap refuses the call."""

    error_type = "budget_exceeded"


class BudgetUnavailable(GatewayError):
    """The spend ledger could not be reached (retryable)."""

    error_type = "budget_unavailable"


class ConfigurationError(GatewayError):
    """The function is misconfigured (the platform team's problem)."""

    error_type = "configuration_error"


class InternalError(GatewayError):
    """An unexpected error inside the function."""

    error_type = "internal_error"


ERROR_TYPES: dict[str, type[GatewayError]] = {
    cls.error_type: cls
    for cls in (
        InvalidRequest,
        ModelNotAllowed,
        Throttled,
        AccessDenied,
        UpstreamError,
        GatewayTimeout,
        BudgetExceeded,
        BudgetUnavailable,
        ConfigurationError,
        InternalError,
    )
}


class LambdaInvokeError(ClaudeGatewayError):
    """The Lambda call itself failed (not an answer from the gateway)."""


class FunctionCrashed(LambdaInvokeError):
    """The function raised, timed out or ran out of memory (Lambda `FunctionError`)."""

    def __init__(self, message: str, *, error_type: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error_type = error_type


class PayloadTooLarge(LambdaInvokeError):
    """The request (or the answer) is over Lambda's 6 MB synchronous payload limit."""


class InvokeTimedOut(LambdaInvokeError):
    """No answer within the client's read timeout. Not retried: the call may still be generating (and billing)."""


class LambdaThrottled(LambdaInvokeError):
    """Lambda refused to start the function (concurrency limit), after retries."""

    retryable = True


def from_response(response: dict[str, Any]) -> GatewayError:
    """The exception for a failure response."""
    error = response.get("error") if isinstance(response.get("error"), dict) else {}
    error_type = str(error.get("type") or "unknown")
    cls = ERROR_TYPES.get(error_type, GatewayError)
    return cls(
        str(error.get("message") or "the gateway reported an error without a message"),
        error_type=error_type,
        retryable=bool(error.get("retryable", False)),
        request_id=response.get("request_id"),
        response=response,
    )
