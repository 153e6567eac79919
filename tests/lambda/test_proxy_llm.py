"""Real LiteLLM over real HTTP to the local Bedrock server: wire format, usage, errors, retries, prices."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from claude_proxy.core import RetryPolicy, invoke
from claude_proxy.errors import ErrorType
from claude_proxy.llm import LiteLLMClient, _DiscardingExecutor, tune
from claude_proxy.request import parse_request
from claude_proxy.settings import Settings
from proxy_testkit import (
    Deadline,
    FakeClock,
    MaxRng,
    RecordingLedger,
    model_entry,
    profile_arn,
    project_settings,
)

from claude_platform import catalog
from claude_platform.catalog import Geography
from claude_platform.function_settings import FunctionSettings
from claude_platform.prices import RateCard
from devservers.bedrock_server import Reply, Usage

POLICY = RetryPolicy(
    max_attempts=4,
    base_delay_s=0.01,
    max_delay_s=0.05,
    safety_margin_ms=1000,
    min_attempt_ms=500,
    speed=None,
)


@pytest.fixture(scope="module")
def client() -> LiteLLMClient:
    return LiteLLMClient()


def make_settings(server, models=None, **overrides) -> Settings:
    return Settings(
        project=FunctionSettings.model_validate(project_settings(models, **overrides)),
        region="us-east-1",
        bedrock_endpoint=server.url,
    )


def call(server, client, event=None, *, settings=None, policy=POLICY, clock=None, budget_ms=30_000):
    clock = clock or FakeClock()
    return invoke(
        parse_request(event or {"messages": [{"role": "user", "content": "hello"}]}),
        settings=settings or make_settings(server),
        llm=client,
        clock=clock,
        remaining_ms=Deadline(clock, budget_ms),
        rng=MaxRng(),
        request_id="req-1",
        policy=policy,
    )


# --- wire format ------------------------------------------------------------------------------


def test_request_goes_to_the_profile_arn_signed_with_sigv4(server, client):
    arn = profile_arn("p0abc123xyz9")
    settings = make_settings(server, [model_entry(arn=arn)])
    event = {
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 321,
        "temperature": 0.3,
        "tags": {"team": "data-science", "ticket": "ABC-1 / run:7"},
    }
    result = call(server, client, event, settings=settings)
    assert result.ok, result.error
    [req] = server.requests
    assert req.method == "POST"
    assert req.raw_path == "/model/" + arn.replace(":", "%3A").replace("/", "%2F") + "/converse"
    assert req.model_id == arn and req.operation == "converse"
    auth = req.header("Authorization")
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/bedrock/aws4_request" in auth and "Signature=" in auth
    assert req.header("X-Amz-Date")
    body = req.body
    assert body["inferenceConfig"]["maxTokens"] == 321
    assert body["inferenceConfig"]["temperature"] == 0.3
    assert body["requestMetadata"] == {"team": "data-science", "ticket": "ABC-1 / run:7"}
    assert body["system"] == [{"text": "You are terse."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hello"}]}]
    assert result.profile_arn == arn
    assert result.upstream_request_id and len(result.upstream_request_id) == 36


def test_defaults_and_no_metadata_without_tags(server, client):
    result = call(server, client)
    assert result.ok
    body = server.requests[0].body
    assert body["inferenceConfig"]["maxTokens"] == 1024
    assert "temperature" not in body["inferenceConfig"]
    assert "requestMetadata" not in body
    assert result.content == "Hello from the local Bedrock server."
    assert result.stop_reason == "end_turn"


def test_content_blocks_and_multi_turn(server, client):
    event = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "c"},
            {"role": "user", "content": "d"},
        ]
    }
    assert call(server, client, event).ok
    messages = server.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"text": "a"}, {"text": "b"}]


def test_stop_reason_max_tokens(server, client):
    server.enqueue(Reply.ok(stop_reason="max_tokens"))
    assert call(server, client).stop_reason == "max_tokens"


# --- usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "usage",
    [
        Usage(input_tokens=100, output_tokens=20, cache_read_input_tokens=1000, cache_write_input_tokens=500),
        Usage(input_tokens=7, output_tokens=3),
        Usage(input_tokens=0, output_tokens=1, cache_read_input_tokens=4096),
        Usage(input_tokens=3, output_tokens=9, cache_write_input_tokens=2048),
    ],
)
def test_usage_is_bedrocks_input_excludes_cache_tokens(server, client, usage):
    server.enqueue(Reply.ok(usage=usage))
    result = call(server, client)
    sent = Usage(**{k: v for k, v in vars(usage).items()}).to_converse()
    assert result.to_response()["usage"] == {
        "input_tokens": sent["inputTokens"],
        "output_tokens": sent["outputTokens"],
        "cache_read_input_tokens": sent["cacheReadInputTokens"],
        "cache_write_input_tokens": sent["cacheWriteInputTokens"],
        "cache_write_1h_input_tokens": 0,
    }
    u = result.usage
    assert (
        u.input_tokens + u.cache_read_input_tokens + u.cache_write_input_tokens + u.output_tokens
        == sent["totalTokens"]
    )


# --- errors and retries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "requests", "ok"),
    [
        ([Reply.throttle()], 2, True),
        ([Reply.server_error(503), Reply.server_error(503)], 3, True),
        ([Reply.server_error(500)], 2, True),
        ([Reply.throttle(), Reply.server_error(500), Reply.server_error(503)], 4, True),
    ],
)
def test_transient_errors_are_retried(server, client, script, requests, ok):
    server.enqueue(*script)
    clock = FakeClock()
    result = call(server, client, clock=clock)
    assert result.ok is ok
    assert len(server.requests) == requests == result.attempts
    assert len(clock.sleeps) == requests - 1
    assert all(0 <= s <= POLICY.max_delay_s for s in clock.sleeps)


@pytest.mark.parametrize(
    ("reply", "error_type", "retryable", "requests"),
    [
        (Reply.throttle(), ErrorType.THROTTLED, True, 4),
        (Reply.server_error(500), ErrorType.UPSTREAM_ERROR, True, 4),
        (Reply.server_error(503), ErrorType.UPSTREAM_ERROR, True, 4),
        (Reply.error(400), ErrorType.INVALID_REQUEST, False, 1),
        (Reply.error(403), ErrorType.ACCESS_DENIED, False, 1),
        (Reply.error(403, error_type="UnrecognizedClientException"), ErrorType.ACCESS_DENIED, False, 1),
        (Reply.error(404), ErrorType.UPSTREAM_ERROR, False, 1),
    ],
)
def test_error_types_retryability_and_request_counts(server, client, reply, error_type, retryable, requests):
    server.enqueue(*[reply] * 6)
    result = call(server, client)
    assert result.error is not None
    assert (result.error.error_type, result.error.retryable) == (error_type, retryable)
    assert len(server.requests) == requests
    response = result.to_response()
    assert response == {
        "ok": False,
        "error": {"type": error_type.value, "message": result.error.message, "retryable": retryable},
        "request_id": "req-1",
    }
    assert "hello" not in result.error.message


def test_slow_response_times_out_then_the_retry_succeeds(server, client):
    server.enqueue(Reply.slow(2.0))
    policy = RetryPolicy(
        max_attempts=3, base_delay_s=0.01, max_delay_s=0.01, max_attempt_timeout_s=0.3, speed=None
    )
    result = call(server, client, policy=policy)
    assert result.ok, result.error
    assert result.attempts == 2 and len(server.requests) == 2


def test_persistent_slowness_is_a_retryable_timeout(server, client):
    server.enqueue(Reply.slow(2.0), Reply.slow(2.0))
    policy = RetryPolicy(
        max_attempts=2, base_delay_s=0.01, max_delay_s=0.01, max_attempt_timeout_s=0.25, speed=None
    )
    result = call(server, client, policy=policy)
    assert result.error.error_type is ErrorType.TIMEOUT and result.error.retryable is True
    assert len(server.requests) == 2


def test_unreachable_endpoint_is_an_upstream_error(server, client):
    settings = make_settings(server).model_copy(update={"bedrock_endpoint": "http://127.0.0.1:9"})
    result = call(server, client, settings=settings)
    assert result.error.error_type is ErrorType.UPSTREAM_ERROR
    assert result.attempts == 1


def test_litellm_prints_nothing_on_errors(server, client, capsys):
    server.enqueue(Reply.error(400))
    call(server, client)
    captured = capsys.readouterr()
    assert "Give Feedback" not in captured.out + captured.err
    assert "LiteLLM.Info" not in captured.out + captured.err


def test_litellm_per_call_work_is_switched_off(client):
    """Guards the fast path: an upgrade that moves these hooks must fail here, not slow down silently."""
    import litellm
    from litellm import utils

    applied = tune()
    assert applied == {
        "executor": True,
        "response_metadata": True,
        "tool_result_status": True,
        "guard_whole_prompt": True,
    }
    assert isinstance(utils.executor, _DiscardingExecutor)
    assert utils.update_response_metadata.__module__ == "claude_proxy.llm"
    assert litellm.suppress_debug_info is True and litellm.telemetry is False
    assert litellm.success_callback == [] and litellm.callbacks == []


# --- prices -----------------------------------------------------------------------------------

USAGE = Usage(
    input_tokens=1234, output_tokens=567, cache_read_input_tokens=8901, cache_write_input_tokens=2345
)


def by_hand(card: RateCard, usage: Usage) -> float:
    d = Decimal
    total = (
        d(usage.input_tokens) * d(str(card.input))
        + d(usage.output_tokens) * d(str(card.output))
        + d(usage.cache_read_input_tokens) * d(str(card.cache_read))
        + d(usage.cache_write_input_tokens) * d(str(card.cache_write))
    )
    return float(total / d(1_000_000))


def _priced_combinations():
    for model in catalog.MODELS:
        for geo in sorted(model.geographies, key=lambda g: g.value):
            try:
                catalog.model_prices(model, geo)
            except catalog.MissingPriceError:
                continue
            yield pytest.param(model.alias, geo, id=f"{model.alias}-{geo.value}")


PRICED = list(_priced_combinations())


def test_most_of_the_catalog_is_priced():
    assert len(PRICED) >= 60


@pytest.mark.parametrize(("alias", "geo"), PRICED)
def test_cost_matches_the_catalog_price(server, client, alias, geo):
    prices = catalog.model_prices(catalog.resolve_model(alias), geo)
    settings = make_settings(server, [model_entry(alias, geo)])
    server.enqueue(Reply.ok(usage=USAGE))
    result = call(server, client, settings=settings)
    assert result.ok, result.error
    assert result.cost_usd == pytest.approx(by_hand(prices.standard, USAGE), rel=1e-12, abs=0)
    assert result.cost_usd > 0
    assert server.requests[0].model_id == profile_arn()
    assert json.dumps(server.requests[0].body)  # a real Converse body went out


def test_regional_profiles_cost_ten_percent_more_than_global(server, client):
    costs = {}
    for geo in (Geography.US, Geography.GLOBAL):
        server.enqueue(Reply.ok(usage=USAGE))
        costs[geo] = call(
            server, client, settings=make_settings(server, [model_entry("claude-sonnet-4-5", geo)])
        ).cost_usd
    global_card = RateCard(
        input=3.0, output=15.0, cache_write=3.75, cache_read=0.3
    )  # published global. price
    assert costs[Geography.GLOBAL] == pytest.approx(by_hand(global_card, USAGE), rel=1e-12)
    assert costs[Geography.US] == pytest.approx(costs[Geography.GLOBAL] * 1.10, rel=1e-9)


@pytest.mark.parametrize(
    ("alias", "threshold"), [("claude-sonnet-4-5", 200_000), ("claude-haiku-5-5", 100_000)]
)
def test_long_context_tier_above_its_threshold_of_prompt_tokens(server, client, alias, threshold):
    prices = catalog.model_prices(catalog.resolve_model(alias), Geography.US)
    (tier,) = prices.tiers
    assert tier.above_tokens == threshold
    settings = make_settings(server, [model_entry(alias, Geography.US)])
    input_tokens = threshold - 50_000
    at = Usage(input_tokens=input_tokens, output_tokens=1000, cache_read_input_tokens=50_000)  # exactly at it
    above = Usage(
        input_tokens=input_tokens,
        output_tokens=1000,
        cache_read_input_tokens=49_000,
        cache_write_input_tokens=1001,
    )
    server.enqueue(Reply.ok(usage=at), Reply.ok(usage=above))
    cost_at = call(server, client, settings=settings).cost_usd
    cost_above = call(server, client, settings=settings).cost_usd
    assert cost_at == pytest.approx(by_hand(prices.standard, at), rel=1e-12)
    assert cost_above == pytest.approx(by_hand(tier.rates, above), rel=1e-12)
    assert cost_above > cost_at * 1.5


# --- what is charged when Bedrock did work we cannot price, and when nothing was sent (issue 13) -------


def ledgered_call(server, client, event, *, ledger, settings=None):
    clock = FakeClock()
    return invoke(
        parse_request(event),
        settings=settings or make_settings(server),
        llm=client,
        clock=clock,
        remaining_ms=Deadline(clock, 30_000),
        rng=MaxRng(),
        request_id="req-1",
        ledger=ledger,
        policy=POLICY,
    )


HELLO = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 100}


def assert_caller_safe(message: str) -> None:
    assert "Traceback" not in message and 'File "' not in message
    assert ".py" not in message and "site-packages" not in message and "/work/" not in message


def test_a_model_error_424_keeps_the_worst_case_marked_estimated(server, client):
    server.enqueue(Reply.error(424, message="The model failed to process the request."))
    ledger = RecordingLedger()
    result = ledgered_call(server, client, HELLO, ledger=ledger)
    assert result.error.error_type is ErrorType.UPSTREAM_ERROR and result.error.retryable is False
    assert "model failed" in result.error.message and "charged an estimated" in result.error.message
    assert len(server.requests) == 1  # not retried: each attempt could be billed again
    reserve, settle = ledger.events
    assert reserve[0] == "reserve" and settle[0] == "settle"
    assert settle[1]["estimated"] is True and settle[1]["amount_usd"] == reserve[1]["amount_usd"] > 0
    assert result.estimated_charge_usd == reserve[1]["amount_usd"]


@pytest.mark.parametrize(
    "usage",
    [
        {"inputTokens": "many", "outputTokens": 3},
        "none",
        {"inputTokens": -5},
        {"inputTokens": -5, "outputTokens": 3, "totalTokens": -2},
    ],
)
def test_a_200_answer_whose_usage_cannot_be_read_keeps_the_worst_case_marked_estimated(server, client, usage):
    server.enqueue(Reply.unreadable_usage(usage))
    ledger = RecordingLedger()
    result = ledgered_call(server, client, HELLO, ledger=ledger)
    assert result.ok is False and result.error.error_type is ErrorType.UPSTREAM_ERROR
    assert "answer could not be read" in result.error.message
    assert [(e, d.get("estimated")) for e, d in ledger.events] == [("reserve", None), ("settle", True)]
    assert ledger.events[1][1]["amount_usd"] == ledger.events[0][1]["amount_usd"]


def test_a_failure_before_the_request_is_sent_is_released_not_charged(server, client, monkeypatch):
    # A 250-level input_schema makes LiteLLM's deepcopy raise RecursionError (as APIConnectionError)
    # before any byte is sent. Validation now refuses it; with the bound lifted the client's own
    # proof (its HTTP handler never sent) decides: internal_error, released, no traceback.
    from claude_proxy import json_limits

    monkeypatch.setattr(json_limits, "MAX_JSON_DEPTH", 10_000)
    schema: dict = {"type": "object"}
    for _ in range(250):
        schema = {"type": "object", "properties": {"a": schema}}
    event = {**HELLO, "tools": [{"name": "deep", "input_schema": schema}]}
    ledger = RecordingLedger()
    result = ledgered_call(server, client, event, ledger=ledger)
    assert server.requests == []
    assert result.error.error_type is ErrorType.INTERNAL_ERROR and result.error.retryable is False
    assert "RecursionError" in result.error.message and "nothing was sent" in result.error.message
    assert_caller_safe(result.error.message)
    assert [e for e, _ in ledger.events] == ["reserve", "release"]
    assert result.estimated_charge_usd == 0 and result.attempts == 1


def test_the_http_handler_knows_whether_the_request_went_out(server, client):
    assert call(server, client).ok
    assert client.http.request_sent() is True
    client.http.begin(1.0)
    assert client.http.request_sent() is False


def test_error_texts_for_callers_carry_no_traceback_or_file_path():
    from claude_proxy.llm import caller_safe

    text = (
        "litellm.APIConnectionError: BedrockException - maximum recursion depth exceeded\n"
        "Traceback (most recent call last):\n"
        '  File "/var/task/litellm/main.py", line 6576, in completion\n'
        "    response = _complete_bedrock(ctx)\n"
    )
    assert caller_safe(text) == "APIConnectionError: BedrockException - maximum recursion depth exceeded"
    assert caller_safe("could not open /var/task/claude_proxy/llm.py now") == "could not open <path> now"
    url = "could not reach http://127.0.0.1:9/model/arn%3Aaws/converse"
    assert caller_safe(url) == url


@pytest.mark.parametrize(
    "reply",
    [Reply.error(400, message="bad"), Reply.error(424), Reply.server_error(500), Reply.unreadable_usage()],
)
def test_no_error_message_carries_a_traceback_or_a_path(server, client, reply):
    server.enqueue(*[reply] * 4)
    result = call(server, client)
    assert result.error is not None
    assert_caller_safe(result.error.message)
