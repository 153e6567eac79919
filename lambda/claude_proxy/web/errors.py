"""Our error types as HTTP errors in the Anthropic API's shape and status.

Every error carries an explicit `x-should-retry` header, which the Anthropic SDKs obey before their
own status rules (they retry 408, 409, 429 and 5xx otherwise): `budget_exceeded` is a 402
`billing_error` with `x-should-retry: false`, so no standard client retries it in a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claude_proxy.errors import ErrorType, ProxyError

RETRY_AFTER_S = 2  # what a retryable refusal asks the client to wait, unless it knows (rate limits)


@dataclass(frozen=True)
class HttpError:
    """How one of our error types goes out over HTTP (Anthropic's error `type` and status)."""

    status: int
    anthropic_type: str


_HTTP: dict[ErrorType, HttpError] = {
    ErrorType.INVALID_REQUEST: HttpError(400, "invalid_request_error"),
    ErrorType.AUTHENTICATION_FAILED: HttpError(401, "authentication_error"),
    ErrorType.BUDGET_EXCEEDED: HttpError(402, "billing_error"),
    ErrorType.ACCESS_DENIED: HttpError(403, "permission_error"),
    ErrorType.MODEL_NOT_ALLOWED: HttpError(404, "not_found_error"),
    ErrorType.THROTTLED: HttpError(429, "rate_limit_error"),
    ErrorType.INTERNAL_ERROR: HttpError(500, "api_error"),
    ErrorType.CONFIGURATION_ERROR: HttpError(500, "api_error"),
    ErrorType.TIMEOUT: HttpError(504, "timeout_error"),
    ErrorType.BUDGET_UNAVAILABLE: HttpError(529, "overloaded_error"),
}
_UPSTREAM_RETRYABLE = HttpError(529, "overloaded_error")
_UPSTREAM_FINAL = HttpError(502, "api_error")


def http_error(error: ProxyError) -> HttpError:
    """Status and Anthropic error type for `error`."""
    if error.error_type is ErrorType.UPSTREAM_ERROR:
        return _UPSTREAM_RETRYABLE if error.retryable else _UPSTREAM_FINAL
    return _HTTP.get(error.error_type, HttpError(500, "api_error"))


def anthropic_error_body(error: ProxyError, request_id: str) -> dict[str, Any]:
    """`{"type": "error", "error": {...}, "request_id": ...}` with our own type and retryability added."""
    return {
        "type": "error",
        "error": {
            "type": http_error(error).anthropic_type,
            "message": error.message,
            "platform_error_type": error.error_type.value,
            "retryable": error.retryable,
        },
        "request_id": request_id,
    }


def error_headers(error: ProxyError, request_id: str) -> dict[str, str]:
    """request-id, x-should-retry (always explicit) and retry-after for retryable refusals."""
    headers = {"request-id": request_id, "x-should-retry": "true" if error.retryable else "false"}
    if error.retryable and error.error_type in (ErrorType.THROTTLED, ErrorType.BUDGET_UNAVAILABLE):
        wait = error.retry_after_s if error.retry_after_s is not None else RETRY_AFTER_S
        headers["retry-after"] = str(wait)
    return headers
