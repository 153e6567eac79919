"""Core logic: resolve the model, reserve spend, call the LLM with bounded retries, price the result.

Pure of AWS and LiteLLM: every collaborator is passed in, so tests use fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_platform.function_settings import ModelSettings
from claude_platform.prices import TokenUsage, cost_usd, worst_case_cost_usd
from claude_proxy.attempt_timing import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    Timing,
    attempt_timeout_s,
    implausible,
    may_retry,
)
from claude_proxy.auth import Caller
from claude_proxy.capabilities import ModelCapabilities, capabilities_for
from claude_proxy.content_blocks import Base64PdfSource, DocumentBlock, ImageBlock, ToolResultBlock
from claude_proxy.converse_messages import call_fields, to_litellm_messages
from claude_proxy.core_contracts import (
    BudgetExceededError,
    BudgetUnavailableError,
    Clock,
    LlmCall,
    LlmClient,
    LlmError,
    LlmResult,
    NullLedger,
    RandomSource,
    RateLimitedError,
    SpendLedger,
)
from claude_proxy.errors import ErrorType, ProxyError, failure_response
from claude_proxy.guardrail import GuardrailOutcome, converse_config, guardrail_cost, summary, worst_case_usd
from claude_proxy.request import ClaudeRequest, ThinkingAdaptive, ThinkingEnabled
from claude_proxy.settings import Settings

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
    content_blocks: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    profile_arn: str | None = None
    request_id: str = ""
    upstream_request_id: str | None = None
    budget: dict[str, Any] | None = None
    estimated_charge_usd: float = 0.0  # worst cases charged for attempts whose outcome is unknown
    # What each Bedrock attempt was charged, in order: its cost, its worst case (outcome unknown) or 0.
    attempt_charges_usd: tuple[float, ...] = ()
    guardrail: dict[str, Any] | None = None  # the guardrail's outcome and its part of cost_usd

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None

    def to_response(self) -> dict[str, Any]:
        """The response returned to the caller."""
        if self.error is not None:
            return {**failure_response(self.error), "request_id": self.request_id}
        return {
            "ok": True,
            "project": self.project,
            "model": self.model,
            "content": self.content,
            "content_blocks": self.content_blocks or [{"type": "text", "text": self.content}],
            "stop_reason": self.stop_reason,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "cache_read_input_tokens": self.usage.cache_read_input_tokens,
                "cache_write_input_tokens": self.usage.cache_write_input_tokens,
                "cache_write_1h_input_tokens": self.usage.cache_write_1h_input_tokens,
            },
            "cost_usd": self.cost_usd,
            "inference_profile_arn": self.profile_arn,
            "request_id": self.request_id,
            "bedrock_request_id": self.upstream_request_id,
            "budget": self.budget,
            **({"guardrail": self.guardrail} if self.guardrail is not None else {}),
        }


# --- the core function ------------------------------------------------------------------------


def _check_model_accepts(request: ClaudeRequest, model: ModelSettings, caps: ModelCapabilities) -> None:
    """Refuse what this model would refuse at Bedrock (or LiteLLM would silently rewrite)."""

    def refuse(message: str) -> None:
        raise ProxyError(ErrorType.INVALID_REQUEST, f"{message} (model {model.alias})")

    if request.sampling_params and not caps.sampling_params:
        refuse(f"{', '.join(request.sampling_params)}: this model takes no sampling parameters")
    if isinstance(request.thinking, ThinkingEnabled) and not caps.budget_thinking:
        hint = '; use thinking {"type": "adaptive"}' if caps.adaptive_thinking else ""
        refuse(f"thinking: this model does not take a thinking budget{hint}")
    if isinstance(request.thinking, ThinkingAdaptive) and not caps.adaptive_thinking:
        refuse("thinking: this model does not take adaptive thinking")
    controls = request.cache_controls
    if controls and not caps.prompt_caching:
        refuse("cache_control: this model does not support prompt caching on Bedrock")
    if any(c.effective_ttl == "1h" for c in controls) and not caps.cache_ttl_1h:
        refuse("cache_control.ttl: this model does not take a 1h cache TTL on Bedrock")
    blocks = [b for m in request.messages for b in m.blocks]
    blocks += [
        c for b in blocks if isinstance(b, ToolResultBlock) and isinstance(b.content, list) for c in b.content
    ]
    if any(isinstance(b, ImageBlock) for b in blocks) and not caps.vision:
        refuse("messages: this model does not take images")
    pdf = any(isinstance(b, DocumentBlock) and isinstance(b.source, Base64PdfSource) for b in blocks)
    if pdf and not caps.pdf_input:
        refuse("messages: this model does not take PDF documents")


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
    thinking = request.thinking
    if isinstance(thinking, ThinkingEnabled) and thinking.budget_tokens >= max_tokens:
        raise ProxyError(
            ErrorType.INVALID_REQUEST,
            f"thinking.budget_tokens: {thinking.budget_tokens} must be less than max_tokens ({max_tokens}): "
            "thinking tokens are output tokens within max_tokens",
        )
    _check_model_accepts(request, model, capabilities_for(model.litellm_model, model.base_id))
    return model, max_tokens


def _backoff_s(policy: RetryPolicy, rng: RandomSource, retry_number: int) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**(n-1)))."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** (retry_number - 1)))
    return max(0.0, min(ceiling, rng.uniform(0.0, ceiling)))


def _failure_error(
    last_error: LlmError | None, refusal: ProxyError | None, attempts: int, estimated_usd: float
) -> ProxyError:
    """The error returned when no attempt succeeded."""
    if last_error is None:
        return ProxyError(
            ErrorType.TIMEOUT,
            "not enough time left in this invocation to call the model"
            + (f" (after {attempts} attempts)" if attempts else ""),
            retryable=True,
        )
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    if estimated_usd:
        suffix += f"; charged an estimated {estimated_usd:.6f} USD for attempts whose outcome is unknown"
    if refusal is not None:
        return ProxyError(
            last_error.error_type,
            f"{last_error.message}{suffix}; {refusal.message}",
            retryable=refusal.retryable,
            upstream_detail=last_error.upstream_detail,
        )
    return ProxyError(
        last_error.error_type,
        last_error.message + suffix,
        retryable=last_error.retryable,
        upstream_detail=last_error.upstream_detail,
    )


@dataclass
class _Spend:
    """The worst-case hold for one request, across its attempts.

    Each reservation is a hold of its own; `reservation` is only ever the hold this request's
    latest reserve created, so a settle or release never touches another attempt's hold (one
    whose estimated settle failed stays open and is charged by the stale-hold rule).
    """

    ledger: SpendLedger
    model: str
    request_id: str
    amount_usd: float
    remaining_ms: Callable[[], int] | None = None
    tokens: int = 0  # the request's token bound (input bound + max_tokens), for tokens-per-minute limits
    caller: Caller | None = None
    reservation: Any = None
    estimated_usd: float = 0.0
    attempt_charges: list[float] = field(default_factory=list)  # failed attempts so far, in order

    def hold(self) -> ProxyError | None:
        """Reserve unless already held; the refusal as an error, or None."""
        if self.reservation is not None:
            return None
        try:
            self.reservation = self.ledger.reserve(
                model=self.model,
                request_id=self.request_id,
                amount_usd=self.amount_usd,
                remaining_ms=self.remaining_ms,
                tokens=self.tokens,
                caller=self.caller,
            )
        except BudgetExceededError as exc:
            return ProxyError(ErrorType.BUDGET_EXCEEDED, str(exc), retryable=False)
        except RateLimitedError as exc:
            if exc.retry_after_s is None:
                return ProxyError(ErrorType.INVALID_REQUEST, str(exc), retryable=False)
            return ProxyError(ErrorType.THROTTLED, str(exc), retryable=True, retry_after_s=exc.retry_after_s)
        except BudgetUnavailableError as exc:
            return ProxyError(ErrorType.BUDGET_UNAVAILABLE, str(exc), retryable=True)
        return None

    def charge_unknown_outcome(self) -> None:
        """Charge the held worst case, marked estimated: the attempt may have been billed."""
        if self.reservation is not None:
            self.ledger.settle(self.reservation, amount_usd=self.amount_usd, usage=None, estimated=True)
            self.reservation, self.estimated_usd = None, self.estimated_usd + self.amount_usd


def _attempt(
    make_call: Callable[[float], LlmCall],
    *,
    llm: LlmClient,
    clock: Clock,
    remaining_ms: Callable[[], int],
    rng: RandomSource,
    policy: RetryPolicy,
    timing: Timing,
    spend: _Spend,
) -> tuple[LlmResult | None, int, LlmError | None, ProxyError | None]:
    """Attempts with backoff within the deadline: (result, attempts, last error, refusal of a retry)."""
    attempts = 0
    last_error: LlmError | None = None
    while attempts < policy.max_attempts:
        budget_s = (remaining_ms() - policy.safety_margin_ms) / 1000
        if budget_s * 1000 < policy.min_attempt_ms:
            break
        if last_error is not None and not may_retry(timing, budget_s, last_error.outcome_unknown):
            break
        refused = spend.hold()
        if refused is not None:
            refused.message = f"not retried: {refused.message}"
            return None, attempts, last_error, refused
        attempts += 1
        timeout_s = attempt_timeout_s(policy, budget_s, timing, attempts >= policy.max_attempts)
        try:
            call = make_call(timeout_s)
        except Exception as exc:  # ours, before the client got the call: nothing was sent
            error = LlmError(
                ErrorType.INTERNAL_ERROR,
                f"the request could not be prepared ({type(exc).__name__}); nothing was sent or charged",
                retryable=False,
            )
            return None, attempts, error, None
        try:
            return llm.complete(call), attempts, None, None
        except LlmError as err:
            last_error = err
        spend.attempt_charges.append(spend.amount_usd if last_error.outcome_unknown else 0.0)
        if last_error.outcome_unknown:
            spend.charge_unknown_outcome()
        if not last_error.retryable or attempts >= policy.max_attempts:
            break
        delay_s = _backoff_s(policy, rng, attempts)
        if remaining_ms() - delay_s * 1000 - policy.safety_margin_ms < policy.min_attempt_ms:
            break  # no time for the sleep plus another attempt
        clock.sleep(delay_s)
    return None, attempts, last_error, None


@dataclass
class PreparedCall:
    """A validated request ready for its attempts: model, bounds, the worst-case hold and the call builder.

    Built by `prepare_call` for every entry point (invoke and streaming), so resolving the model,
    refusing what cannot finish, pricing the worst case and reserving it happen in one place.
    """

    request: ClaudeRequest
    settings: Settings
    model: ModelSettings
    max_tokens: int
    timing: Timing
    reserve_usd: float
    spend: _Spend
    guardrail_reserve_usd: float = 0.0  # the guardrail's part of reserve_usd

    def make_call(self, timeout_s: float) -> LlmCall:
        """The LLM call of one attempt, with that attempt's timeout."""
        request, model = self.request, self.model
        return LlmCall(
            litellm_model=model.litellm_model,
            profile_arn=model.profile_arn,
            messages=to_litellm_messages(request),
            max_tokens=self.max_tokens,
            temperature=request.temperature,
            request_metadata=dict(request.tags) or None,
            region=self.settings.region,
            endpoint=self.settings.bedrock_endpoint,
            timeout_s=timeout_s,
            guardrail=converse_config(guardrail) if (guardrail := self.settings.project.guardrail) else None,
            **call_fields(request),
        )


class CallRefused(Exception):
    """The request is refused before any attempt: `model` is the alias when it was resolved."""

    def __init__(self, model: str | None, error: ProxyError) -> None:
        super().__init__(error.message)
        self.model = model
        self.error = error


@dataclass(frozen=True)
class Attempts:
    """What the attempts produced: the answer (or an opened stream), or the last error / a refused retry."""

    answer: Any
    count: int
    last_error: LlmError | None
    refusal: ProxyError | None


def prepare_call(
    request: ClaudeRequest,
    *,
    settings: Settings,
    ledger: SpendLedger,
    remaining_ms: Callable[[], int],
    request_id: str,
    policy: RetryPolicy,
    caller: Caller | None = None,
    streamed: bool = False,
) -> PreparedCall:
    """Resolve the model, refuse what cannot finish in time, reserve the worst case; raises CallRefused.

    `caller`: the API key (HTTPS endpoint) whose cap and rate limits apply with the project's.
    The worst case includes the project's guardrail (its priced policies over the input's size bound
    and the most output `max_tokens` allows).
    """
    try:
        model, max_tokens = _resolve(request, settings)
    except ProxyError as err:
        raise CallRefused(None, err) from None
    timing = Timing(policy.speed_for(model.base_id), max_tokens)
    refusal = implausible(policy, timing, remaining_ms())
    if refusal is not None:
        raise CallRefused(model.alias, refusal)
    window = capabilities_for(model.litellm_model, model.base_id).max_input_tokens
    input_bound = request.input_token_bound_for(window)
    reserve_usd = worst_case_cost_usd(model.prices, input_tokens=input_bound, max_output_tokens=max_tokens)
    guardrail_usd = 0.0
    if settings.project.guardrail is not None:
        # The token bound counts the prompt's UTF-8 bytes, at least its characters.
        guardrail_usd = worst_case_usd(
            settings.project.guardrail,
            input_chars_bound=input_bound,
            max_output_tokens=max_tokens,
            streamed=streamed,
        )
        reserve_usd += guardrail_usd
    spend = _Spend(
        ledger=ledger,
        model=model.alias,
        request_id=request_id,
        amount_usd=reserve_usd,
        remaining_ms=remaining_ms,
        tokens=input_bound + max_tokens,
        caller=caller,
    )
    refused = spend.hold()
    if refused is not None:
        raise CallRefused(model.alias, refused)
    return PreparedCall(
        request=request,
        settings=settings,
        model=model,
        max_tokens=max_tokens,
        timing=timing,
        reserve_usd=reserve_usd,
        spend=spend,
        guardrail_reserve_usd=guardrail_usd,
    )


def run_attempts(
    prepared: PreparedCall,
    *,
    llm: LlmClient,
    clock: Clock,
    remaining_ms: Callable[[], int],
    rng: RandomSource,
    policy: RetryPolicy,
) -> Attempts:
    """The attempt loop over the prepared hold; an unexpected failure mid-call charges the worst case."""
    try:
        answer, count, last_error, refusal = _attempt(
            prepared.make_call,
            llm=llm,
            clock=clock,
            remaining_ms=remaining_ms,
            rng=rng,
            policy=policy,
            timing=prepared.timing,
            spend=prepared.spend,
        )
    except BaseException:
        prepared.spend.charge_unknown_outcome()  # its outcome is unknown
        raise
    return Attempts(answer, count, last_error, refusal)


def no_answer(prepared: PreparedCall, attempts: Attempts) -> dict[str, Any]:
    """No attempt answered: release what is still held; the InvokeResult fields of the failure."""
    spend = prepared.spend
    if spend.reservation is not None:
        spend.ledger.release(spend.reservation)
        spend.reservation = None
    error = _failure_error(attempts.last_error, attempts.refusal, attempts.count, spend.estimated_usd)
    return {
        "error": error,
        "profile_arn": prepared.model.profile_arn,
        "budget": spend.ledger.status(),
        "estimated_charge_usd": spend.estimated_usd,
        "attempt_charges_usd": tuple(spend.attempt_charges),
    }


def settle_answer(
    prepared: PreparedCall, usage: TokenUsage, guardrail: GuardrailOutcome | None = None
) -> dict[str, Any]:
    """Settle the hold to the answer's cost (its worst case, estimated, if it cannot be priced).

    The cost is the model's tokens plus the guardrail's units (its worst case, estimated, when the
    trace carried none), in one ledger charge. Returns the InvokeResult fields for money: usage,
    cost_usd, budget, estimated_charge_usd, guardrail, and `error` when the cost could not be computed.
    """
    spend = prepared.spend
    reservation, spend.reservation = spend.reservation, None
    settings = prepared.settings.project.guardrail
    guarded: dict[str, Any] = {}
    try:
        cost = cost_usd(prepared.model.prices, usage)
        if settings is not None:
            part = guardrail_cost(settings, guardrail, prepared.guardrail_reserve_usd)
            cost += part.cost_usd
            guarded = {"guardrail": summary(guardrail, part)}
    except Exception as exc:
        budget = spend.ledger.settle(reservation, amount_usd=prepared.reserve_usd, usage=None, estimated=True)
        error = ProxyError(ErrorType.INTERNAL_ERROR, f"cost could not be computed: {exc}", retryable=False)
        return {
            "error": error,
            "usage": usage,
            "budget": budget,
            "estimated_charge_usd": spend.estimated_usd + prepared.reserve_usd,
            "attempt_charges_usd": (*spend.attempt_charges, prepared.reserve_usd),
        }
    estimated = bool(guarded and guarded["guardrail"]["estimated"])
    budget = spend.ledger.settle(reservation, amount_usd=cost, usage=usage, estimated=estimated)
    return {
        "usage": usage,
        "cost_usd": cost,
        "budget": budget,
        "estimated_charge_usd": spend.estimated_usd,
        "attempt_charges_usd": (*spend.attempt_charges, cost),
        **guarded,
    }


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
    caller: Caller | None = None,
) -> InvokeResult:
    """Serve one validated request. Returns a result carrying either the answer or a classified error.

    Spend: one reservation of the worst case is held while attempts run. An attempt that failed
    before Bedrock did any work (throttled, 4xx, refused connection) keeps the hold for the retry;
    one whose outcome is unknown (timeout, a 5xx other than ServiceUnavailable, broken connection) is charged its
    worst case, marked estimated, and a retry reserves again. What is still held at the end is
    settled to the actual cost, or released when no attempt did any work.
    """
    started = clock.monotonic()

    def done(model: str | None, attempts: int, **fields: Any) -> InvokeResult:
        return InvokeResult(
            project=settings.project.project,
            model=model,
            attempts=attempts,
            latency_ms=round((clock.monotonic() - started) * 1000, 3),
            request_id=request_id,
            **fields,
        )

    try:
        prepared = prepare_call(
            request,
            settings=settings,
            ledger=ledger or NullLedger(),
            remaining_ms=remaining_ms,
            request_id=request_id,
            policy=policy,
            caller=caller,
        )
    except CallRefused as refused:
        return done(refused.model, 0, error=refused.error)
    alias = prepared.model.alias
    attempts = run_attempts(prepared, llm=llm, clock=clock, remaining_ms=remaining_ms, rng=rng, policy=policy)
    result: LlmResult | None = attempts.answer
    if result is None:
        return done(alias, attempts.count, **no_answer(prepared, attempts))
    money = settle_answer(prepared, result.usage, result.guardrail)
    if "error" in money:
        return done(alias, attempts.count, profile_arn=prepared.model.profile_arn, **money)
    return done(
        alias,
        attempts.count,
        content=result.text,
        content_blocks=list(result.content_blocks),
        stop_reason=_STOP_REASONS.get(result.stop_reason, result.stop_reason),
        profile_arn=prepared.model.profile_arn,
        upstream_request_id=result.upstream_request_id,
        **money,
    )
