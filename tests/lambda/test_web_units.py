"""The web app's small pure parts: error mapping and retry headers, the deadline, the caller tag, normalizers."""

from __future__ import annotations

import json
import time

import pytest
from claude_proxy.auth import Caller
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.settings import Settings
from claude_proxy.web.errors import anthropic_error_body, error_headers, http_error
from claude_proxy.web.gateway import (
    DEFAULT_DEADLINE_S,
    Gateway,
    RefuseAll,
    RequestContext,
    caller_tag_value,
    deadline_from,
)
from proxy_testkit import project_settings

from claude_platform.function_settings import FunctionSettings


def settings(**spend: object) -> Settings:
    doc = project_settings(spend={"enforcement": "off", "cap_usd": 1.0, **spend})
    return Settings(project=FunctionSettings.model_validate(doc), region="us-east-1")


@pytest.mark.parametrize(
    ("error_type", "retryable", "status", "kind", "retry_after"),
    [
        (ErrorType.INVALID_REQUEST, False, 400, "invalid_request_error", False),
        (ErrorType.AUTHENTICATION_FAILED, False, 401, "authentication_error", False),
        (ErrorType.BUDGET_EXCEEDED, False, 402, "billing_error", False),
        (ErrorType.ACCESS_DENIED, False, 403, "permission_error", False),
        (ErrorType.MODEL_NOT_ALLOWED, False, 404, "not_found_error", False),
        (ErrorType.THROTTLED, True, 429, "rate_limit_error", True),
        (ErrorType.UPSTREAM_ERROR, True, 529, "overloaded_error", False),
        (ErrorType.UPSTREAM_ERROR, False, 502, "api_error", False),
        (ErrorType.BUDGET_UNAVAILABLE, True, 529, "overloaded_error", True),
        (ErrorType.TIMEOUT, True, 504, "timeout_error", False),
        (ErrorType.INTERNAL_ERROR, False, 500, "api_error", False),
        (ErrorType.CONFIGURATION_ERROR, False, 500, "api_error", False),
    ],
)
def test_every_error_type_has_a_status_an_anthropic_type_and_explicit_retry_headers(
    error_type, retryable, status, kind, retry_after
):
    error = ProxyError(error_type, "why", retryable=retryable)
    assert (http_error(error).status, http_error(error).anthropic_type) == (status, kind)
    headers = error_headers(error, "rid")
    assert headers["x-should-retry"] == ("true" if retryable else "false")
    assert ("retry-after" in headers) is retry_after
    body = anthropic_error_body(error, "rid")
    assert body == {
        "type": "error",
        "error": {
            "type": kind,
            "message": "why",
            "platform_error_type": error_type.value,
            "retryable": retryable,
        },
        "request_id": "rid",
    }


def test_every_error_type_is_mapped():
    assert {e for e in ErrorType if http_error(ProxyError(e, "x")).status == 500} == {
        ErrorType.INTERNAL_ERROR,
        ErrorType.CONFIGURATION_ERROR,
    }


def test_the_deadline_comes_from_the_adapters_lambda_context_else_the_settings():
    now = 100.0
    in_30s = int((time.time() + 30) * 1000)
    header = {"x-amzn-lambda-context": json.dumps({"request_id": "r", "deadline": in_30s})}
    assert deadline_from(header, settings(), now) == pytest.approx(now + 30, abs=1)
    assert deadline_from({}, settings(stale_after_s=960), now) == now + 900
    assert deadline_from({}, settings(), now) == now + DEFAULT_DEADLINE_S
    assert deadline_from({"x-amzn-lambda-context": "not json"}, settings(), now) == now + DEFAULT_DEADLINE_S


def test_the_caller_tag_keeps_to_bedrocks_request_metadata_characters():
    assert caller_tag_value("ci-bot@team.example") == "ci-bot@team.example"
    assert caller_tag_value("名前!") == "___"
    assert len(caller_tag_value("k" * 300)) == 256


def test_refuse_all_fails_closed():
    with pytest.raises(ProxyError) as caught:
        RefuseAll().authenticate({"x-api-key": "anything"})
    assert caught.value.error_type is ErrorType.AUTHENTICATION_FAILED


def test_normalizers_run_in_order_before_the_request_model_and_cannot_set_the_caller():
    seen: list[str] = []

    def first(body, ctx):
        seen.append("first")
        return {k: v for k, v in body.items() if k != "metadata"}

    def second(body, ctx):
        seen.append("second")
        return {**body, "max_tokens": min(body["max_tokens"], ctx.settings.project.max_tokens_limit)}

    gateway = Gateway(
        settings=settings,
        authenticator=lambda s: RefuseAll(),
        llm=None,  # type: ignore[arg-type]
        ledger_for=None,  # type: ignore[arg-type]
        clock=None,  # type: ignore[arg-type]
        rng=None,  # type: ignore[arg-type]
        recorder=None,  # type: ignore[arg-type]
        normalizers=[first, second],
    )
    ctx = RequestContext("r", {}, {}, "/v1/messages", settings(), Caller("bot", "id"), deadline=0.0)
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 999_999,
        "metadata": {"user_id": "u"},
    }
    request = gateway.parse(body, ctx)
    assert seen == ["first", "second"]
    assert request.max_tokens == 8192 and request.tags == {"api_key": "bot"}
    with pytest.raises(ProxyError, match="tags"):
        gateway.parse({**body, "tags": {"api_key": "someone"}}, ctx)
