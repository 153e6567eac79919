"""What the core is given and raises: the LLM call and its client, clock, randomness, the spend
ledger's interface (with a ledger that records nothing), and the core's own exceptions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from claude_platform.prices import TokenUsage
from claude_proxy.auth import Caller
from claude_proxy.errors import ErrorType
from claude_proxy.guardrail import GuardrailOutcome


@dataclass(frozen=True)
class LlmCall:
    """One model call, as the LLM client needs it."""

    litellm_model: str
    profile_arn: str
    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float | None
    request_metadata: dict[str, str] | None
    region: str
    endpoint: str | None
    timeout_s: float
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    tools: list[dict[str, Any]] | None = None  # LiteLLM (OpenAI) shape
    tool_choice: str | dict[str, Any] | None = None  # LiteLLM (OpenAI) shape
    thinking: dict[str, Any] | None = None  # Anthropic shape, sent as Converse additionalModelRequestFields
    cache_ttl_1h: bool = False  # some cache point asks for 1h: unsplit cache writes are priced at 1h
    guardrail: dict[str, Any] | None = (
        None  # Converse guardrailConfig (claude_proxy.guardrail.converse_config)
    )


@dataclass(frozen=True)
class LlmResult:
    """What came back, with usage as Bedrock counts it (input excludes cache tokens).

    `stop_reason` is Bedrock's own (end_turn, max_tokens, stop_sequence, tool_use, ...);
    `content_blocks` the answer in the Anthropic shape (text, tool_use, thinking, redacted_thinking).
    """

    text: str
    stop_reason: str
    usage: TokenUsage
    upstream_request_id: str | None = None
    content_blocks: list[dict[str, Any]] = field(default_factory=list)
    guardrail: GuardrailOutcome | None = None  # read from Bedrock's trace when the call had a guardrail


class LlmError(Exception):
    """A failed call, already classified."""

    def __init__(
        self,
        error_type: ErrorType,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        outcome_unknown: bool = False,
        upstream_detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        # Bedrock's (or LiteLLM's) own words inside `message`: may quote the request, so logs
        # leave them out unless log_prompts.
        self.upstream_detail = upstream_detail
        # True when Bedrock may have generated (and billed) an answer we never received.
        self.outcome_unknown = outcome_unknown


class LlmClient(Protocol):
    """Sends one call; raises LlmError on failure."""

    def complete(self, call: LlmCall) -> LlmResult:
        """Send `call` once (no retries)."""
        ...


class Clock(Protocol):
    """Time source."""

    def monotonic(self) -> float:
        """Seconds, monotonic."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`."""
        ...


class RandomSource(Protocol):
    """Jitter source (random.Random fits)."""

    def uniform(self, a: float, b: float) -> float:
        """A number in [a, b]."""
        ...


class BudgetExceededError(Exception):
    """The ledger refuses the reservation: the project's hard cap would be passed."""


class BudgetUnavailableError(Exception):
    """The ledger could not be reached in time; a hard cap cannot be enforced, so the call is refused."""


class RateLimitedError(Exception):
    """A requests- or tokens-per-minute limit refuses the call; `retry_after_s` None: it can never fit."""

    def __init__(self, message: str, retry_after_s: int | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SpendLedger(Protocol):
    """Reserve worst-case spend before the call; settle the actual cost after, or release.

    `reserve` returns an opaque handle for `settle`/`release`; every call creates a hold of its own
    (a retry of the same request holds anew), and a handle settles or releases only its own hold.
    `remaining_ms` is the invocation's time left: the ledger's requests (this one and the handle's
    settle/release) fit in it. `settle` returns the budget status shown to the caller (or None).
    Neither `settle` nor `release` raises for ledger failures: the call already happened, so they
    record what they can and report the problem themselves.
    """

    def reserve(
        self,
        *,
        model: str,
        request_id: str,
        amount_usd: float,
        remaining_ms: Callable[[], int] | None = None,
        tokens: int = 0,
        caller: Caller | None = None,
    ) -> Any:
        """Hold `amount_usd` (and `tokens`, the request's bound, where tokens are rate limited) for
        `caller` (an API key, charged and limited with the project). Raises BudgetExceededError,
        BudgetUnavailableError or RateLimitedError to refuse."""
        ...

    def settle(
        self, reservation: Any, *, amount_usd: float, usage: TokenUsage | None, estimated: bool
    ) -> Any:
        """Replace the hold with the actual cost (`estimated`: a worst case for an unknown outcome)."""
        ...

    def release(self, reservation: Any) -> None:
        """Drop the hold (Bedrock certainly did no work)."""
        ...

    def status(self) -> dict[str, Any] | None:
        """The caller-facing budget status when nothing was settled (or None)."""
        ...


class NullLedger:
    """A ledger that records nothing and never refuses (`enforcement: off`)."""

    def reserve(
        self,
        *,
        model: str,
        request_id: str,
        amount_usd: float,
        remaining_ms: Callable[[], int] | None = None,
        tokens: int = 0,
        caller: Caller | None = None,
    ) -> str:
        """Accept every reservation."""
        return request_id

    def settle(
        self, reservation: Any, *, amount_usd: float, usage: TokenUsage | None, estimated: bool
    ) -> None:
        """Nothing to settle."""

    def release(self, reservation: Any) -> None:
        """Nothing to release."""

    def status(self) -> None:
        """No status."""
