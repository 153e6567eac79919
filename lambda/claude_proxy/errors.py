"""Error types callers see, and whether retrying can help."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorType(StrEnum):
    """The `error.type` values of a failure response."""

    INVALID_REQUEST = "invalid_request"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    THROTTLED = "throttled"
    ACCESS_DENIED = "access_denied"
    UPSTREAM_ERROR = "upstream_error"
    TIMEOUT = "timeout"
    BUDGET_EXCEEDED = "budget_exceeded"
    BUDGET_UNAVAILABLE = "budget_unavailable"
    CONFIGURATION_ERROR = "configuration_error"
    INTERNAL_ERROR = "internal_error"
    AUTHENTICATION_FAILED = "authentication_failed"  # HTTPS endpoint: missing, unknown or revoked key


# Retryable unless the error says otherwise (upstream_error is retryable only for 5xx).
_RETRYABLE_BY_DEFAULT = frozenset(
    {ErrorType.THROTTLED, ErrorType.TIMEOUT, ErrorType.UPSTREAM_ERROR, ErrorType.BUDGET_UNAVAILABLE}
)


class ProxyError(Exception):
    """A failure with a caller-facing type and message (messages never include prompt text)."""

    def __init__(
        self,
        error_type: ErrorType,
        message: str,
        *,
        retryable: bool | None = None,
        upstream_detail: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = error_type in _RETRYABLE_BY_DEFAULT if retryable is None else retryable
        self.retry_after_s = retry_after_s  # how long to wait before a retry can succeed (rate limits)
        self.upstream_detail = upstream_detail  # Bedrock's words inside `message` (see log_message)

    def log_message(self, *, log_prompts: bool) -> str:
        """`message` for the logs: Bedrock's own words (which may quote the request) left out unless
        `log_prompts`; the caller still gets them in the response."""
        if log_prompts or not self.upstream_detail or self.upstream_detail not in self.message:
            return self.message
        shown = f"[Bedrock's message, {len(self.upstream_detail)} characters: logged only with log_prompts]"
        return self.message.replace(self.upstream_detail, shown)

    def to_dict(self) -> dict[str, Any]:
        """The `error` object of a failure response (with `retry_after_s` when known)."""
        out: dict[str, Any] = {
            "type": self.error_type.value,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.retry_after_s is not None:
            out["retry_after_s"] = self.retry_after_s
        return out


def failure_response(error: ProxyError) -> dict[str, Any]:
    """The failure response shape."""
    return {"ok": False, "error": error.to_dict()}
