"""Core logic: resolve the model, reserve spend, call the LLM with bounded retries, price the result.

Pure of AWS and LiteLLM: every collaborator is passed in, so tests use fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from claude_platform.prices import TokenUsage, cost_usd, worst_case_cost_usd
from claude_proxy.errors import ErrorType, ProxyError, failure_response
from claude_proxy.request import ClaudeRequest
from claude_proxy.settings import ModelSettings, Settings

# --- collaborators ----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class LlmResult:
    """What came back, with usage as Bedrock counts it (input excludes cache tokens)."""

    text: str
    stop_reason: str
    usage: TokenUsage
    upstream_request_id: str | None = None


class LlmError(Exception):
    """A failed call, already classified."""

    def __init__(
        self, error_type: ErrorType, message: str, *, retryable: bool, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = retryable
        self.status_code = status_code


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


class SpendLedger(Protocol):
    """Reserve worst-case spend before the call; settle the actual cost after, or release."""

    def reserve(self, *, project: str, model: str, request_id: str, amount_usd: float) -> str:
        """Hold `amount_usd`; returns a reservation id. Raises BudgetExceededError to refuse."""
        ...

    def settle(self, reservation_id: str, *, amount_usd: float) -> None:
        """Replace the hold with the actual cost."""
        ...

    def release(self, reservation_id: str) -> None:
        """Drop the hold (nothing was spent)."""
        ...


class NullLedger:
    """A ledger that records nothing and never refuses."""

    def reserve(self, *, project: str, model: str, request_id: str, amount_usd: float) -> str:
        """Accept every reservation."""
        return request_id

    def settle(self, reservation_id: str, *, amount_usd: float) -> None:
        """Nothing to settle."""

    def release(self, reservation_id: str) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on throttling, 5xx and timeouts, with full-jitter exponential backoff, within the deadline."""

    max_attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    safety_margin_ms: int = 1_000  # left for logging, metrics and returning the response
    min_attempt_ms: int = 500  # never start an attempt with less time than this
    max_attempt_timeout_s: float | None = None  # per-attempt cap; None: whatever time is left


DEFAULT_RETRY_POLICY = RetryPolicy()

# --- outcome ----------------------------------------------------------------------------------

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


@dataclass(frozen=True)
class InvokeResult:
    """Outcome of one invocation: success fields, or `error`."""

    project: str
    model: str | None
    attempts: int
    latency_ms: float
    error: ProxyError | None = None
    content: str = ""
    stop_reason: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    profile_arn: str | None = None
    request_id: str = ""
    upstream_request_id: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None

    def to_response(self) -> dict[str, Any]:
        """The response returned to the caller."""
        if self.error is not None:
            return failure_response(self.error)
        return {
            "ok": True,
            "project": self.project,
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "cache_read_input_tokens": self.usage.cache_read_input_tokens,
                "cache_write_input_tokens": self.usage.cache_write_input_tokens,
            },
            "cost_usd": self.cost_usd,
            "inference_profile_arn": self.profile_arn,
            "request_id": self.request_id,
            "bedrock_request_id": self.upstream_request_id,
        }


# --- the core function ------------------------------------------------------------------------


def _to_litellm_messages(request: ClaudeRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system is not None:
        messages.append({"role": "system", "content": request.system})
    for m in request.messages:
        content: Any = (
            m.content if isinstance(m.content, str) else [{"type": "text", "text": b.text} for b in m.content]
        )
        messages.append({"role": m.role, "content": content})
    return messages


def _resolve(request: ClaudeRequest, settings: Settings) -> tuple[ModelSettings, int]:
    project = settings.project
    name = request.model or project.default_model
    model = project.find_model(name)
    if model is None:
        raise ProxyError(
            ErrorType.MODEL_NOT_ALLOWED,
            f"model: {name!r} is not enabled for project {project.project!r}; "
            f"allowed: {', '.join(project.model_aliases)}",
        )
    max_tokens = request.max_tokens if request.max_tokens is not None else project.max_tokens_default
    if max_tokens > project.max_tokens_limit:
        raise ProxyError(
            ErrorType.INVALID_REQUEST,
            f"max_tokens: {max_tokens} is over this project's limit of {project.max_tokens_limit}",
        )
    return model, max_tokens


def _backoff_s(policy: RetryPolicy, rng: RandomSource, retry_number: int) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**(n-1)))."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** (retry_number - 1)))
    return max(0.0, min(ceiling, rng.uniform(0.0, ceiling)))


def invoke(
    request: ClaudeRequest,
    *,
    settings: Settings,
    llm: LlmClient,
    clock: Clock,
    remaining_ms: Callable[[], int],
    rng: RandomSource,
    request_id: str,
    ledger: SpendLedger | None = None,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> InvokeResult:
    """Serve one validated request. Returns a result carrying either the answer or a classified error."""
    started = clock.monotonic()
    project = settings.project.project
    ledger = ledger or NullLedger()

    def done(model: str | None, attempts: int, **fields: Any) -> InvokeResult:
        latency_ms = round((clock.monotonic() - started) * 1000, 3)
        return InvokeResult(project=project, model=model, attempts=attempts, latency_ms=latency_ms, **fields)

    try:
        model, max_tokens = _resolve(request, settings)
    except ProxyError as err:
        return done(None, 0, error=err)

    reserve_usd = worst_case_cost_usd(
        model.prices, input_tokens=request.input_token_bound, max_output_tokens=max_tokens
    )
    try:
        reservation = ledger.reserve(
            project=project, model=model.alias, request_id=request_id, amount_usd=reserve_usd
        )
    except BudgetExceededError as exc:
        return done(model.alias, 0, error=ProxyError(ErrorType.BUDGET_EXCEEDED, str(exc), retryable=False))

    messages = _to_litellm_messages(request)
    attempts = 0
    last_error: LlmError | None = None
    result: LlmResult | None = None
    while attempts < policy.max_attempts:
        budget_ms = remaining_ms() - policy.safety_margin_ms
        if budget_ms < policy.min_attempt_ms:
            break
        timeout_s = budget_ms / 1000
        if policy.max_attempt_timeout_s is not None:
            timeout_s = min(timeout_s, policy.max_attempt_timeout_s)
        attempts += 1
        call = LlmCall(
            litellm_model=model.litellm_model,
            profile_arn=model.profile_arn,
            messages=messages,
            max_tokens=max_tokens,
            temperature=request.temperature,
            request_metadata=dict(request.tags) or None,
            region=settings.region,
            endpoint=settings.bedrock_endpoint,
            timeout_s=timeout_s,
        )
        try:
            result = llm.complete(call)
            break
        except LlmError as err:
            last_error = err
        if not last_error.retryable or attempts >= policy.max_attempts:
            break
        delay_s = _backoff_s(policy, rng, attempts)
        if remaining_ms() - delay_s * 1000 - policy.safety_margin_ms < policy.min_attempt_ms:
            break  # no time for the sleep plus another attempt
        clock.sleep(delay_s)

    if result is None:
        ledger.release(reservation)
        if last_error is None:
            error = ProxyError(
                ErrorType.TIMEOUT,
                "not enough time left in this invocation to call the model"
                + (f" (after {attempts} attempts)" if attempts else ""),
                retryable=True,
            )
        else:
            suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
            error = ProxyError(
                last_error.error_type, last_error.message + suffix, retryable=last_error.retryable
            )
        return done(model.alias, attempts, error=error, profile_arn=model.profile_arn)

    try:
        cost = cost_usd(model.prices, result.usage)
    except Exception as exc:
        ledger.settle(reservation, amount_usd=reserve_usd)  # spent, amount unknown: keep the worst case
        error = ProxyError(ErrorType.INTERNAL_ERROR, f"cost could not be computed: {exc}", retryable=False)
        return done(model.alias, attempts, error=error, usage=result.usage, profile_arn=model.profile_arn)
    ledger.settle(reservation, amount_usd=cost)
    return done(
        model.alias,
        attempts,
        content=result.text,
        stop_reason=_STOP_REASONS.get(result.stop_reason, result.stop_reason),
        usage=result.usage,
        cost_usd=cost,
        profile_arn=model.profile_arn,
        request_id=request_id,
        upstream_request_id=result.upstream_request_id,
    )
