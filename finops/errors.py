"""One clear line per AWS error, and the CLI's own failures."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

EXIT_OK = 0
EXIT_ERROR = 1  # the command could not do its work (bad input, AWS error)
# 2: argparse's usage error (unknown command or option)
EXIT_ATTENTION = 3  # it ran, and found something to act on (differences, not ready, not seen yet)

ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "AuthorizationError",
    "AuthFailure",
}
THROTTLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "RequestLimitExceeded",
}


class CliError(Exception):
    """A failure the CLI reports as one line and exit code 1."""


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('' otherwise)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def describe_aws_error(exc: BaseException, action: str) -> str:
    """`<action>: <what went wrong>; <what to do>` in one line."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"{action}: no AWS credentials found; set AWS_PROFILE or run `aws sso login`"
    if isinstance(exc, NoRegionError):
        return f"{action}: no AWS region; pass --region or set AWS_REGION"
    if isinstance(exc, EndpointConnectionError | ReadTimeoutError):
        return f"{action}: cannot reach the AWS endpoint ({exc}); check the network and region"
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        operation = getattr(exc, "operation_name", "")
        if code in ACCESS_DENIED_CODES:
            return (
                f"{action}: access denied ({operation}): {message or code}; "
                "the credentials need the permission named above"
            )
        if code in THROTTLE_CODES:
            return f"{action}: throttled by AWS ({operation}: {code}); wait a minute and run it again"
        if code == "DataUnavailableException":
            return f"{action}: no data yet ({operation}): Cost Explorer has no data for this period or account yet"
        if code == "BillExpirationException":
            return f"{action}: that period's bill has expired from Cost Explorer ({message})"
        if code in {"ResourceNotFoundException", "ValidationError"} and "does not exist" in message:
            return f"{action}: not found ({operation}): {message}; is the stack deployed in this region?"
        return f"{action}: {operation} failed: {code}: {message}"
    if isinstance(exc, BotoCoreError):
        return f"{action}: {exc}"
    return f"{action}: {type(exc).__name__}: {exc}"
