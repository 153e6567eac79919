"""Core logic with fake collaborators: model resolution, retries, deadline, backoff, ledger, cost."""

from __future__ import annotations

from dataclasses import replace

import pytest
from claude_proxy.core import (
    BudgetExceededError,
    LlmError,
    LlmResult,
    RetryPolicy,
    invoke,
)
from claude_proxy.errors import ErrorType
from claude_proxy.request import parse_request
from claude_proxy.settings import Settings
from proxy_testkit import (
    Deadline,
    FakeClock,
    FakeLlm,
    MaxRng,
    RecordingLedger,
    model_entry,
    project_settings,
)

from claude_platform.catalog import Geography
from claude_platform.function_settings import FunctionSettings
from claude_platform.limits import GenerationSpeed, speed_for
from claude_platform.prices import ModelPrices, PriceTier, RateCard, TokenUsage, worst_case_cost_usd

POLICY = RetryPolicy(
    max_attempts=4,
    base_delay_s=0.25,
    max_delay_s=4.0,
    safety_margin_ms=1000,
    min_attempt_ms=500,
    speed=None,
)


def settings(**overrides) -> Settings:
    return Settings(
        project=FunctionSettings.model_validate(
            project_settings(
                [
                    model_entry("claude-sonnet-4-5", Geography.US),
                    model_entry("claude-haiku-4-5", Geography.GLOBAL),
                ],
                **overrides,
            )
        ),
        region="us-east-1",
    )


def request(**fields):
    return parse_request({"messages": [{"role": "user", "content": "hello"}], **fields})


def run(
    req=None,
    *,
    llm,
    clock=None,
    budget_ms=60_000,
    rng=None,
    ledger=None,
    policy=POLICY,
    cfg=None,
    caller=None,
):
    clock = clock or FakeClock()
    return invoke(
        req or request(),
        settings=cfg or settings(),
        llm=llm,
        clock=clock,
        remaining_ms=Deadline(clock, budget_ms),
        rng=rng or MaxRng(),
        request_id="req-1",
        ledger=ledger,
        policy=policy,
        caller=caller,
    )


def throttle() -> LlmError:
    return LlmError(ErrorType.THROTTLED, "throttled", retryable=True, status_code=429)


def server_error() -> LlmError:
    return LlmError(ErrorType.UPSTREAM_ERROR, "503", retryable=True, status_code=503)


def ok(usage: TokenUsage | None = None) -> LlmResult:
    usage = usage or TokenUsage(100, 50, 0, 0)
    return LlmResult(text="answer", stop_reason="length", usage=usage, upstream_request_id="up")


# --- resolution and limits ------------------------------------------------------------------------


def test_default_model_and_max_tokens_are_used():
    llm = FakeLlm(ok())
    result = run(llm=llm)
    assert result.ok and result.model == "claude-sonnet-4-5"
    call = llm.calls[0]
    assert call.litellm_model == "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert call.max_tokens == 1024
    assert call.temperature is None and call.request_metadata is None
    assert result.stop_reason == "max_tokens"  # LiteLLM's "length" back in Bedrock's words


@pytest.mark.parametrize("name", ["claude-haiku-4-5", "anthropic.claude-haiku-4-5-20251001-v1:0"])
def test_model_by_alias_or_base_id(name):
    llm = FakeLlm(ok())
    result = run(request(model=name), llm=llm)
    assert result.model == "claude-haiku-4-5"
    assert llm.calls[0].litellm_model == "bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.mark.parametrize("name", ["claude-opus-4-5", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "gpt-4"])
def test_model_outside_the_project_is_not_allowed(name):
    llm = FakeLlm()
    result = run(request(model=name), llm=llm)
    assert result.error.error_type is ErrorType.MODEL_NOT_ALLOWED
    assert result.error.retryable is False
    assert "claude-sonnet-4-5" in result.error.message and "model" in result.error.message
    assert llm.calls == []


def test_max_tokens_over_the_project_limit_never_reaches_the_model():
    llm = FakeLlm()
    result = run(request(max_tokens=8193), llm=llm)
    assert result.error.error_type is ErrorType.INVALID_REQUEST
    assert result.error.message.startswith("max_tokens:")
    assert llm.calls == []
    assert run(request(max_tokens=8192), llm=FakeLlm(ok())).ok


def test_messages_system_and_tags_are_passed_through():
    llm = FakeLlm(ok())
    req = parse_request(
        {
            "system": "be brief",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": "c"},
                {"role": "user", "content": "d"},
            ],
            "temperature": 0.2,
            "tags": {"team": "data", "ticket": "T-1"},
        }
    )
    run(req, llm=llm)
    call = llm.calls[0]
    assert call.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"},
    ]
    assert call.temperature == 0.2
    assert call.request_metadata == {"team": "data", "ticket": "T-1"}
    assert call.profile_arn.startswith(
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
    )


# --- retries ----------------------------------------------------------------------------------


def test_throttle_then_success_retries_once_with_jittered_sleep():
    clock, rng = FakeClock(), MaxRng(fraction=0.5)
    llm = FakeLlm(throttle(), ok(), clock=clock)
    result = run(llm=llm, clock=clock, rng=rng)
    assert result.ok and result.attempts == 2 and len(llm.calls) == 2
    assert rng.ranges == [(0.0, 0.25)]
    assert clock.sleeps == [0.125]


def test_backoff_is_exponential_capped_and_full_jitter():
    clock, rng = FakeClock(), MaxRng()
    policy = RetryPolicy(
        max_attempts=6, base_delay_s=1.0, max_delay_s=3.0, safety_margin_ms=0, min_attempt_ms=1
    )
    llm = FakeLlm(*[server_error()] * 5, ok(), clock=clock)
    result = run(llm=llm, clock=clock, rng=rng, policy=policy, budget_ms=10**9)
    assert result.ok and result.attempts == 6
    assert [b for _, b in rng.ranges] == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert all(a == 0.0 for a, _ in rng.ranges)
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_sleeps_stay_within_the_jitter_range():
    import random

    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=5, base_delay_s=0.5, max_delay_s=2.0, safety_margin_ms=0, min_attempt_ms=1
    )
    llm = FakeLlm(*[throttle()] * 4, ok(), clock=clock)
    run(llm=llm, clock=clock, rng=random.Random(7), policy=policy, budget_ms=10**9)
    ceilings = [0.5, 1.0, 2.0, 2.0]
    assert len(clock.sleeps) == 4
    assert all(0 <= s <= c for s, c in zip(clock.sleeps, ceilings, strict=True))
    assert len(set(clock.sleeps)) == 4  # jittered, not fixed


def test_attempts_are_bounded_and_the_last_error_is_returned():
    clock = FakeClock()
    llm = FakeLlm(*[server_error()] * 10, clock=clock)
    result = run(llm=llm, clock=clock)
    assert len(llm.calls) == 4 == result.attempts
    assert result.error.error_type is ErrorType.UPSTREAM_ERROR and result.error.retryable is True
    assert "after 4 attempts" in result.error.message
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize(
    "error",
    [
        LlmError(ErrorType.INVALID_REQUEST, "400", retryable=False, status_code=400),
        LlmError(ErrorType.ACCESS_DENIED, "403", retryable=False, status_code=403),
        LlmError(ErrorType.UPSTREAM_ERROR, "404", retryable=False, status_code=404),
    ],
)
def test_non_retryable_errors_are_not_retried(error):
    clock = FakeClock()
    llm = FakeLlm(error, ok(), clock=clock)
    result = run(llm=llm, clock=clock)
    assert len(llm.calls) == 1 and clock.sleeps == []
    assert result.error.error_type is error.error_type and result.error.retryable is False


def test_retries_stop_when_the_invocation_runs_out_of_time():
    # Each call takes 2 s of a 6 s budget; margin 1 s, min attempt 0.5 s, backoff 0.25/0.5 s max.
    clock = FakeClock()
    llm = FakeLlm(*[throttle()] * 10, clock=clock, call_seconds=2.0)
    result = run(llm=llm, clock=clock, budget_ms=6_000)
    # t=0 call1 -> t=2, sleep .25 -> call2 -> t=4.25; remaining 1.75 s: .5 s sleep leaves 1.25-1 < .5: stop.
    assert len(llm.calls) == 2
    assert clock.sleeps == [0.25]
    assert result.error.error_type is ErrorType.THROTTLED and result.error.retryable is True


def test_never_starts_a_sleep_that_would_overrun_the_deadline():
    clock = FakeClock()
    llm = FakeLlm(*[throttle()] * 10, clock=clock, call_seconds=0.1)
    deadline = Deadline(clock, 3_000)
    policy = RetryPolicy(
        max_attempts=50,
        base_delay_s=0.2,
        max_delay_s=10.0,
        safety_margin_ms=1000,
        min_attempt_ms=500,
        speed=None,
    )
    invoke(
        request(),
        settings=settings(),
        llm=llm,
        clock=clock,
        remaining_ms=deadline,
        rng=MaxRng(),
        request_id="r",
        policy=policy,
    )
    assert len(llm.calls) >= 2 and clock.sleeps
    # Every attempt started with at least min_attempt_ms left after the margin, so the invocation
    # never ate into the margin, however many attempts the policy would allow.
    assert (clock.now - deadline.start) * 1000 <= 3_000 - policy.safety_margin_ms
    assert len(llm.calls) < policy.max_attempts


def test_attempt_timeout_is_what_is_left_minus_the_margin_capped_by_policy():
    clock = FakeClock()
    llm = FakeLlm(ok())
    run(llm=llm, clock=clock, budget_ms=12_000)
    assert llm.calls[0].timeout_s == pytest.approx(11.0)
    llm = FakeLlm(ok())
    run(
        llm=llm,
        budget_ms=12_000,
        policy=RetryPolicy(max_attempt_timeout_s=2.5, speed=None),
    )
    assert llm.calls[0].timeout_s == 2.5


def test_no_time_for_even_one_attempt_is_a_retryable_timeout():
    llm = FakeLlm()
    result = run(llm=llm, budget_ms=1_200)
    assert llm.calls == []
    assert result.error.error_type is ErrorType.TIMEOUT and result.error.retryable is True


def test_timeouts_are_retried():
    clock = FakeClock()
    llm = FakeLlm(LlmError(ErrorType.TIMEOUT, "slow", retryable=True), ok(), clock=clock)
    result = run(llm=llm, clock=clock)
    assert result.ok and result.attempts == 2


# --- cost and ledger ----------------------------------------------------------------------------


def test_cost_uses_the_model_prices_and_usage():
    usage = TokenUsage(
        input_tokens=1000, output_tokens=200, cache_read_input_tokens=3000, cache_write_input_tokens=400
    )
    result = run(llm=FakeLlm(ok(usage)))
    card = settings().project.models[0].prices.standard  # us. Sonnet 4.5: 3.3 / 16.5 / 4.125 / 0.33
    expected = (1000 * 3.3 + 200 * 16.5 + 400 * 4.125 + 3000 * 0.33) / 1e6
    assert card == RateCard(3.3, 16.5, 4.125, 0.33)
    assert result.cost_usd == pytest.approx(expected, rel=1e-12)
    response = result.to_response()
    assert response["usage"] == {
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_read_input_tokens": 3000,
        "cache_write_input_tokens": 400,
        "cache_write_1h_input_tokens": 0,
    }
    assert response["cost_usd"] == result.cost_usd and response["ok"] is True


def test_ledger_reserves_worst_case_then_settles_actual():
    ledger = RecordingLedger()
    req = request(max_tokens=500)
    result = run(req, llm=FakeLlm(ok()), ledger=ledger)
    prices = settings().project.models[0].prices
    worst = worst_case_cost_usd(prices, input_tokens=req.input_token_bound, max_output_tokens=500)
    assert ledger.events == [
        ("reserve", {"model": "claude-sonnet-4-5", "amount_usd": worst}),
        ("settle", {"id": "res-req-1-1", "amount_usd": result.cost_usd, "estimated": False}),
    ]
    assert result.to_response()["budget"] == {"period": "2026-11", "enforcement": "test"}
    assert worst >= result.cost_usd or result.usage.input_tokens > req.input_token_bound


def test_ledger_release_on_failure_and_refusal_before_any_call():
    ledger = RecordingLedger()
    run(llm=FakeLlm(LlmError(ErrorType.ACCESS_DENIED, "no", retryable=False)), ledger=ledger)
    assert [e for e, _ in ledger.events] == ["reserve", "release"]

    llm = FakeLlm()
    refusing = RecordingLedger(refuse=BudgetExceededError("project alpha is over its hard cap"))
    result = run(llm=llm, ledger=refusing)
    assert llm.calls == []
    assert result.error.error_type is ErrorType.BUDGET_EXCEEDED and result.error.retryable is False


def test_rate_refusals_are_throttled_with_the_wait_or_invalid_when_they_never_fit():
    from claude_proxy.core import RateLimitedError

    llm = FakeLlm()
    result = run(llm=llm, ledger=RecordingLedger(refuse=RateLimitedError("at the limit", 12)))
    assert llm.calls == [] and result.error.error_type is ErrorType.THROTTLED
    assert result.error.retryable is True
    assert result.to_response()["error"] == {
        "type": "throttled",
        "message": "at the limit",
        "retryable": True,
        "retry_after_s": 12,
    }
    result = run(llm=llm, ledger=RecordingLedger(refuse=RateLimitedError("too big for the limit", None)))
    assert llm.calls == [] and result.error.error_type is ErrorType.INVALID_REQUEST
    assert result.error.retryable is False


def test_the_token_bound_and_the_caller_reach_the_ledger():
    from claude_proxy.auth import Caller

    class Seen(RecordingLedger):
        def reserve(self, **kwargs):
            self.seen = kwargs
            return super().reserve(**kwargs)

    ledger = Seen()
    request = parse_request({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 77})
    caller = Caller("alice", "abc")
    run(request, llm=FakeLlm(), ledger=ledger, caller=caller)
    assert ledger.seen["tokens"] == request.input_token_bound + 77
    assert ledger.seen["caller"] is caller


def test_a_cost_that_cannot_be_computed_is_an_error_never_zero():
    ledger = RecordingLedger()
    bad = LlmResult(text="x", stop_reason="stop", usage=TokenUsage(-1, 5, 0, 0))
    result = run(llm=FakeLlm(bad), ledger=ledger)
    assert result.ok is False
    assert result.error.error_type is ErrorType.INTERNAL_ERROR and "cost" in result.error.message
    assert result.to_response()["ok"] is False
    assert ledger.events[-1][0] == "settle" and ledger.events[-1][1]["amount_usd"] > 0


def test_long_context_tiers_apply_above_their_thresholds_with_1h_writes_apart():
    prices = ModelPrices(
        standard=RateCard(3, 15, 3.75, 0.3, 6),
        tiers=(
            PriceTier(100_000, RateCard(5, 20, 6.25, 0.5, 10)),
            PriceTier(200_000, RateCard(6, 22.5, 7.5, 0.6, 12)),
        ),
    )
    cfg = Settings(
        project=FunctionSettings.model_validate(project_settings([model_entry(prices=prices)])),
        region="us-east-1",
    )
    assert cfg.project.models[0].prices == prices  # through the compact settings form
    usage = TokenUsage(
        input_tokens=150_000,
        output_tokens=1000,
        cache_read_input_tokens=40_001,
        cache_write_input_tokens=10_000,
        cache_write_1h_input_tokens=4_000,
    )
    result = run(llm=FakeLlm(ok(usage)), cfg=cfg)
    expected = 150_000 * 6 + 1000 * 22.5 + 40_001 * 0.6 + 6_000 * 7.5 + 4_000 * 12
    assert result.cost_usd == pytest.approx(expected / 1e6, rel=1e-12)
    middle = TokenUsage(input_tokens=100_001, output_tokens=10)
    assert run(llm=FakeLlm(ok(middle)), cfg=cfg).cost_usd == pytest.approx(
        (100_001 * 5 + 10 * 20) / 1e6, rel=1e-12
    )


# --- spend: what is charged when the outcome of an attempt is unknown --------------------------------


def timeout_error() -> LlmError:
    return LlmError(ErrorType.TIMEOUT, "timed out", retryable=True, outcome_unknown=True)


def test_a_timed_out_attempt_keeps_its_worst_case_charge_and_a_retry_reserves_again():
    ledger = RecordingLedger()
    req = request(max_tokens=500)
    result = run(req, llm=FakeLlm(timeout_error(), ok()), ledger=ledger)
    worst = worst_case_cost_usd(
        settings().project.models[0].prices, input_tokens=req.input_token_bound, max_output_tokens=500
    )
    assert result.ok and result.estimated_charge_usd == worst
    assert ledger.events == [
        ("reserve", {"model": "claude-sonnet-4-5", "amount_usd": worst}),
        ("settle", {"id": "res-req-1-1", "amount_usd": worst, "estimated": True}),
        ("reserve", {"model": "claude-sonnet-4-5", "amount_usd": worst}),
        ("settle", {"id": "res-req-1-2", "amount_usd": result.cost_usd, "estimated": False}),
    ]


def test_throttling_keeps_one_reservation_across_retries_and_releases_it_if_all_fail():
    ledger = RecordingLedger()
    result = run(llm=FakeLlm(throttle(), throttle(), throttle(), throttle()), ledger=ledger)
    assert result.error.error_type is ErrorType.THROTTLED
    assert [e for e, _ in ledger.events] == ["reserve", "release"]
    assert result.estimated_charge_usd == 0


def test_a_final_timeout_is_charged_not_released():
    ledger = RecordingLedger()
    result = run(llm=FakeLlm(*[timeout_error()] * 4), ledger=ledger)
    assert result.error.error_type is ErrorType.TIMEOUT
    kinds = [(e, d.get("estimated")) for e, d in ledger.events]
    assert kinds == [("reserve", None), ("settle", True)] * 4
    assert "release" not in [e for e, _ in ledger.events]
    assert "charged an estimated" in result.error.message


def test_a_retry_after_a_timeout_that_the_cap_refuses_is_not_sent():
    ledger = RecordingLedger(refuse=BudgetExceededError("over the cap"), refuse_after=1)
    llm = FakeLlm(timeout_error(), ok())
    result = run(llm=llm, ledger=ledger)
    assert len(llm.calls) == 1
    assert result.error.error_type is ErrorType.TIMEOUT and result.error.retryable is False
    assert "not retried: over the cap" in result.error.message


def test_an_unreachable_ledger_refuses_before_the_call_as_budget_unavailable():
    from claude_proxy.core import BudgetUnavailableError

    llm = FakeLlm()
    result = run(llm=llm, ledger=RecordingLedger(refuse=BudgetUnavailableError("ledger down")))
    assert llm.calls == []
    assert result.error.error_type is ErrorType.BUDGET_UNAVAILABLE and result.error.retryable is True


def test_an_unexpected_client_failure_mid_call_charges_the_worst_case():
    class Boom(FakeLlm):
        def complete(self, call):
            raise RuntimeError("bug")

    ledger = RecordingLedger()
    with pytest.raises(RuntimeError):
        run(llm=Boom(), ledger=ledger)
    assert [(e, d.get("estimated")) for e, d in ledger.events] == [("reserve", None), ("settle", True)]


# --- attempt timing: per model, never cutting a call that can finish -----------------------------

PER_MODEL = RetryPolicy(
    max_attempts=4, base_delay_s=0.25, max_delay_s=4.0, safety_margin_ms=1000, min_attempt_ms=500
)
FIXED = GenerationSpeed("test", best_tokens_per_s=100.0, slow_tokens_per_s=20.0)  # 2 s / 5 s first token
FIXED_POLICY = replace(PER_MODEL, speed=FIXED)


class GeneratingLlm(FakeLlm):
    """An LLM whose answers take `need_s` (one per call, the last repeated) on the fake clock: a call
    given less time runs until its timeout and fails with an unknown outcome."""

    def __init__(self, *need_s: float, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.need_s = list(need_s)

    def complete(self, call):
        self.calls.append(call)
        need = self.need_s.pop(0) if len(self.need_s) > 1 else self.need_s[0]
        if need > call.timeout_s:
            self.clock.now += call.timeout_s
            raise timeout_error()
        self.clock.now += need
        return ok()


def opus_settings() -> Settings:
    models = [model_entry("claude-opus-4-5", Geography.US), model_entry("claude-haiku-4-5", Geography.GLOBAL)]
    return Settings(project=FunctionSettings.model_validate(project_settings(models)), region="us-east-1")


def test_a_call_that_can_finish_in_the_time_left_is_not_cut_for_a_retry():
    # The case: an Opus answer needing 12 s with 20 s left used to get half (9.5 s), time
    # out, be retried and time out again: two generations billed, a timeout returned.
    clock = FakeClock()
    llm = GeneratingLlm(12.0, clock=clock)
    ledger = RecordingLedger()
    result = run(
        request(max_tokens=500),
        llm=llm,
        clock=clock,
        budget_ms=20_000,
        policy=PER_MODEL,
        cfg=opus_settings(),
        ledger=ledger,
    )
    assert result.ok and result.attempts == 1
    assert llm.calls[0].timeout_s == pytest.approx(19.0)
    assert [e for e, _ in ledger.events] == ["reserve", "settle"]
    assert ledger.events[1][1]["estimated"] is False


def test_an_attempt_keeps_what_a_working_call_needs_and_leaves_a_whole_retry():
    # 300 s after the margin; 1000 tokens at the slow rate need 5 + 50 = 55 s: the first attempt may
    # run 300 - (4 s backoff + 55 s) = 241 s; a stalled one is cut there and the retry still gets 55 s.
    clock = FakeClock()
    llm = GeneratingLlm(1000.0, 30.0, clock=clock)
    result = run(request(max_tokens=1000), llm=llm, clock=clock, budget_ms=301_000, policy=FIXED_POLICY)
    assert llm.calls[0].timeout_s == pytest.approx(241.0)
    assert result.ok and result.attempts == 2
    assert llm.calls[1].timeout_s >= FIXED.slow_seconds(1000)


def test_no_retry_after_a_timeout_unless_a_working_call_fits_in_the_time_left():
    # 100 s left, 1000 tokens need 55 s at the slow rate: no room for two, so the first attempt gets
    # all 100 s; when it times out nothing is retried (a second generation would be billed too).
    clock = FakeClock()
    llm = GeneratingLlm(500.0, clock=clock)
    ledger = RecordingLedger()
    result = run(
        request(max_tokens=1000), llm=llm, clock=clock, budget_ms=101_000, policy=FIXED_POLICY, ledger=ledger
    )
    assert llm.calls[0].timeout_s == pytest.approx(100.0)
    assert len(llm.calls) == 1 and result.error.error_type is ErrorType.TIMEOUT
    assert [(e, d.get("estimated")) for e, d in ledger.events] == [("reserve", None), ("settle", True)]


def test_a_retry_after_a_timeout_needs_the_slow_rate_not_the_best():
    # An attempt capped at 20 s times out with 60 s left; 1000 tokens need 12 s at best but 55 s slow:
    # the retry is sent. With 40 s left it is not: it could only finish at an optimistic pace.
    for budget_ms, calls in ((81_000, 2), (61_000, 1)):
        clock = FakeClock()
        llm = GeneratingLlm(500.0, 10.0, clock=clock)
        policy = replace(FIXED_POLICY, max_attempt_timeout_s=20.0)
        run(request(max_tokens=1000), llm=llm, clock=clock, budget_ms=budget_ms, policy=policy)
        assert len(llm.calls) == calls, budget_ms


def test_a_throttled_retry_needs_only_the_best_rate():
    clock = FakeClock()
    llm = FakeLlm(throttle(), ok(), clock=clock, call_seconds=1.0)
    result = run(request(max_tokens=1000), llm=llm, clock=clock, budget_ms=16_000, policy=FIXED_POLICY)
    assert result.ok and result.attempts == 2  # 12 s at best fits the ~14 s left; 55 s slow does not


def test_a_max_tokens_that_cannot_finish_in_time_is_refused_up_front():
    llm = FakeLlm()
    result = run(request(max_tokens=8000), llm=llm, budget_ms=30_000, policy=FIXED_POLICY)
    assert llm.calls == []
    assert result.error.error_type is ErrorType.INVALID_REQUEST
    assert result.error.message.startswith(
        "max_tokens: 8000 tokens cannot plausibly be generated in the 29 s"
    )
    assert "ask for at most 2700" in result.error.message


def test_speed_is_per_model_family():
    assert speed_for("anthropic.claude-opus-4-5-20251101-v1:0").family == "opus"
    assert speed_for("us.anthropic.claude-sonnet-4-5-20250929-v1:0").family == "sonnet"
    assert speed_for("claude-3-haiku").family == "haiku"
    assert speed_for("anthropic.claude-mystery-9").family == "unknown"
    # 4000 tokens in 29 s: Opus cannot (2 + 40 s at its best 100 tokens/s), Haiku can (2 + 16 s).
    cfg = opus_settings()
    opus = run(request(max_tokens=4000), llm=FakeLlm(ok()), budget_ms=30_000, policy=PER_MODEL, cfg=cfg)
    assert opus.error.error_type is ErrorType.INVALID_REQUEST and "opus models" in opus.error.message
    haiku = run(
        request(max_tokens=4000, model="claude-haiku-4-5"),
        llm=FakeLlm(ok()),
        budget_ms=30_000,
        policy=PER_MODEL,
        cfg=cfg,
    )
    assert haiku.ok


def test_a_failure_on_our_side_before_the_client_is_called_is_released_not_charged(monkeypatch):
    from claude_proxy import core

    def broken(request):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(core, "call_fields", broken)
    llm, ledger = FakeLlm(ok()), RecordingLedger()
    result = run(llm=llm, ledger=ledger)
    assert llm.calls == []
    assert result.error.error_type is ErrorType.INTERNAL_ERROR and result.error.retryable is False
    assert "nothing was sent" in result.error.message
    assert [e for e, _ in ledger.events] == ["reserve", "release"]
    assert result.estimated_charge_usd == 0
