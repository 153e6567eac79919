"""lambda_handler end to end: env settings, endpoint variables, response shapes, logs and EMF metrics."""

from __future__ import annotations

import json

import pytest
from claude_proxy.handler import lambda_handler
from claude_proxy.settings import load_settings
from proxy_testkit import FakeContext, model_entry, profile_arn, project_settings, stdout_json_lines

from devservers.bedrock_server import Reply, Usage

SENTINEL = "SENTINEL-7c1e2b-do-not-log"
SYSTEM_SENTINEL = "SYSTEM-SENTINEL-44aa"
DEAD = "http://127.0.0.1:9"


def event(**extra):
    return {
        "messages": [{"role": "user", "content": f"say hi {SENTINEL}"}],
        "system": SYSTEM_SENTINEL,
        **extra,
    }


def emf(lines):
    return [line for line in lines if "_aws" in line]


def logs(lines):
    return [line for line in lines if "_aws" not in line]


@pytest.fixture
def settings_env(monkeypatch):
    doc = project_settings()
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))
    return doc


@pytest.mark.parametrize(
    "variable", ["AWS_BEDROCK_RUNTIME_ENDPOINT", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"]
)
def test_each_endpoint_variable_is_honoured(monkeypatch, server, settings_env, variable):
    monkeypatch.setenv(variable, server.url)
    response = lambda_handler(event(), FakeContext())
    assert response["ok"] is True, response
    assert len(server.requests) == 1
    assert server.requests[0].model_id == profile_arn()


@pytest.mark.parametrize(
    ("winner", "loser"),
    [
        ("AWS_BEDROCK_RUNTIME_ENDPOINT", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
        ("AWS_BEDROCK_RUNTIME_ENDPOINT", "AWS_ENDPOINT_URL"),
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"),
    ],
)
def test_endpoint_precedence(monkeypatch, server, settings_env, winner, loser):
    monkeypatch.setenv(winner, server.url)
    monkeypatch.setenv(loser, DEAD)
    assert lambda_handler(event(), FakeContext())["ok"] is True
    assert len(server.requests) == 1


def test_success_response_shape(lambda_env, server):
    server.enqueue(Reply.ok(text="Hi there", usage=Usage(10, 4, 100, 50)))
    ctx = FakeContext(aws_request_id="req-abc")
    response = lambda_handler(
        event(model="anthropic.claude-sonnet-4-5-20250929-v1:0", tags={"team": "a"}), ctx
    )
    assert set(response) == {
        "ok",
        "project",
        "model",
        "content",
        "content_blocks",
        "stop_reason",
        "usage",
        "cost_usd",
        "inference_profile_arn",
        "request_id",
        "bedrock_request_id",
        "budget",
    }
    assert response["budget"]["enforcement"] == "off" and response["budget"]["spent_usd"] is None
    assert response["ok"] is True
    assert response["project"] == "alpha"
    assert response["model"] == "claude-sonnet-4-5"
    assert response["content"] == "Hi there"
    assert response["content_blocks"] == [{"type": "text", "text": "Hi there"}]
    assert response["stop_reason"] == "end_turn"
    assert response["usage"] == {
        "input_tokens": 10,
        "output_tokens": 4,
        "cache_read_input_tokens": 100,
        "cache_write_input_tokens": 50,
        "cache_write_1h_input_tokens": 0,
    }
    assert response["cost_usd"] == pytest.approx(
        (10 * 3.3 + 4 * 16.5 + 100 * 0.33 + 50 * 4.125) / 1e6, rel=1e-12
    )
    assert response["inference_profile_arn"] == profile_arn()
    assert response["request_id"] == "req-abc"
    assert response["bedrock_request_id"]
    json.dumps(response)  # the Lambda runtime must be able to serialise it


def test_retries_through_the_handler(lambda_env, server):
    server.enqueue(Reply.throttle())
    response = lambda_handler(event(), FakeContext())
    assert response["ok"] is True
    assert len(server.requests) == 2


def test_no_time_left_is_a_timeout_without_calling_bedrock(lambda_env, server):
    # 1.4 s left minus the 1 s safety margin is under the 0.5 s minimum attempt.
    response = lambda_handler(event(), FakeContext(remaining_ms=1_400))
    assert response["ok"] is False
    assert response["error"]["type"] == "timeout" and response["error"]["retryable"] is True
    assert server.requests == []


def test_logs_never_contain_prompt_or_completion(lambda_env, server, capsys):
    server.enqueue(Reply.ok(text=f"echo {SENTINEL}"))
    assert lambda_handler(event(tags={"team": "a"}), FakeContext())["ok"] is True
    server.enqueue(Reply.error(400))
    assert lambda_handler(event(), FakeContext())["ok"] is False
    assert lambda_handler({"messages": [{"role": "bot", "content": SENTINEL}]}, FakeContext())["ok"] is False
    out = capsys.readouterr()
    text = out.out + out.err
    assert SENTINEL not in text and SYSTEM_SENTINEL not in text
    lines = logs(stdout_json_lines(out.out))
    assert len(lines) == 3
    served = lines[0]
    assert served["project"] == "alpha" and served["model"] == "claude-sonnet-4-5"
    assert served["caller_tags"] == {"team": "a"}
    assert served["input_tokens"] == 12 and served["output_tokens"] == 7
    assert served["cost_usd"] > 0 and served["attempts"] == 1 and served["latency_ms"] > 0
    assert [line.get("error_type") for line in lines] == [None, "invalid_request", "invalid_request"]


@pytest.mark.parametrize(
    "reply", [Reply.error(400), Reply.error(424), Reply.server_error(500)], ids=["400", "424", "500"]
)
def test_bedrocks_error_text_quoting_the_prompt_reaches_the_caller_not_the_logs(
    lambda_env, server, capsys, reply
):
    # Bedrock's validation messages can quote the request: the caller sees them, the logs do not.
    quoted = f"messages.0.content: {SENTINEL} is not allowed here"
    server.enqueue(Reply.error(reply.status, message=quoted), Reply.error(reply.status, message=quoted))
    response = lambda_handler(event(), FakeContext())
    assert response["ok"] is False and SENTINEL in response["error"]["message"]
    out = capsys.readouterr()
    assert SENTINEL not in out.out + out.err
    [line] = [line for line in logs(stdout_json_lines(out.out)) if line.get("error_type")]
    assert "logged only with log_prompts" in line["error_message"]


def test_bedrocks_error_text_is_logged_with_log_prompts(monkeypatch, server, capsys):
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(project_settings(log_prompts=True)))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    server.enqueue(Reply.error(400, message="quoted-error-sentinel-17"))
    assert lambda_handler(event(), FakeContext())["ok"] is False
    assert "quoted-error-sentinel-17" in capsys.readouterr().out


def test_prompts_are_logged_when_enabled(monkeypatch, server, capsys):
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(project_settings(log_prompts=True)))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    server.enqueue(Reply.ok(text="completion-sentinel-91"))
    assert lambda_handler(event(), FakeContext())["ok"] is True
    out = capsys.readouterr().out
    assert SENTINEL in out and SYSTEM_SENTINEL in out and "completion-sentinel-91" in out


def test_emf_metrics_on_success(lambda_env, server, capsys):
    server.enqueue(Reply.ok(usage=Usage(1000, 200, 3000, 400)))
    response = lambda_handler(event(), FakeContext())
    blobs = emf(stdout_json_lines(capsys.readouterr().out))
    assert len(blobs) == 1
    blob = blobs[0]
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ClaudePlatform"
    assert directive["Dimensions"] == [["project", "model"], ["project"]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {
        "Requests",
        "Errors",
        "LatencyMs",
        "CostUSD",
        "SpendUSD",
        "InputTokens",
        "OutputTokens",
        "CacheReadInputTokens",
        "CacheWriteInputTokens",
        "BudgetRefusals",
        "LedgerErrors",
    }
    assert blob["project"] == "alpha" and blob["model"] == "claude-sonnet-4-5"

    def value(name):
        v = blob[name]
        return v[0] if isinstance(v, list) else v

    assert value("CostUSD") == pytest.approx(response["cost_usd"], rel=1e-12)
    assert value("SpendUSD") == value("CostUSD")  # nothing estimated: spend is the exact cost
    assert value("CostUSD") == pytest.approx(
        (1000 * 3.3 + 200 * 16.5 + 3000 * 0.33 + 400 * 4.125) / 1e6, rel=1e-12
    )
    assert (value("InputTokens"), value("OutputTokens")) == (1000, 200)
    assert (value("CacheReadInputTokens"), value("CacheWriteInputTokens")) == (3000, 400)
    assert (value("Requests"), value("Errors")) == (1, 0)


def test_emf_metrics_on_failure_carry_the_error_type_in_a_separate_blob(lambda_env, server, capsys):
    server.enqueue(Reply.error(403))
    response = lambda_handler(event(), FakeContext())
    assert response["error"]["type"] == "access_denied"
    blobs = emf(stdout_json_lines(capsys.readouterr().out))
    assert [b["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for b in blobs] == [
        [["project", "model"], ["project"]],
        [["project", "model", "error_type"], ["project", "error_type"]],
    ]
    main, per_type = blobs
    assert "CostUSD" not in main
    assert main["SpendUSD"] in (0, [0], 0.0, [0.0])  # a refused call reached no model: nothing spent
    assert main["Errors"] in (1, [1], 1.0, [1.0])
    assert per_type["error_type"] == "access_denied" and per_type["model"] == "claude-sonnet-4-5"


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (None, "PROJECT_SETTINGS is not set"),
        ("{not json", "not valid JSON"),
        (json.dumps(project_settings(default_model="claude-opus-4-5")), "default_model"),
        (json.dumps(project_settings(max_tokens_default=9000)), "max_tokens_default"),
        (json.dumps(project_settings(surprise=1)), "surprise"),
        (
            json.dumps(project_settings([{k: v for k, v in model_entry().items() if k != "prices"}])),
            "models.0.prices",
        ),
        (
            json.dumps(project_settings([model_entry() | {"prices": {"standard": {"input": 3}}}])),
            "prices",
        ),
        (
            json.dumps(project_settings([model_entry() | {"prices": {"rates": [-1, 1, 1, 1, 2]}}])),
            "negative",
        ),
        (
            json.dumps(project_settings([model_entry() | {"prices": {"rates": [0, 0, 0, 0, 0]}}])),
            "silent zero",
        ),
        (json.dumps(project_settings([model_entry(arn="not-an-arn")])), "profile_arn"),
    ],
)
def test_configuration_errors(monkeypatch, server, settings, needle, capsys):
    if settings is None:
        monkeypatch.delenv("PROJECT_SETTINGS", raising=False)
    else:
        monkeypatch.setenv("PROJECT_SETTINGS", settings)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    response = lambda_handler(event(), FakeContext())
    assert response["ok"] is False
    assert response["error"]["type"] == "configuration_error"
    assert response["error"]["retryable"] is False
    assert needle in response["error"]["message"]
    assert "Traceback" not in response["error"]["message"]
    assert server.requests == []
    assert SENTINEL not in capsys.readouterr().out


def test_unexpected_exception_returns_internal_error_and_logs_the_trace(lambda_env, server, capsys):
    class BrokenContext(FakeContext):
        def get_remaining_time_in_millis(self) -> int:
            raise RuntimeError("context exploded")

    response = lambda_handler(event(), BrokenContext(aws_request_id="req-boom"))
    assert response["ok"] is False
    assert response["error"]["type"] == "internal_error" and response["error"]["retryable"] is False
    assert "exploded" not in response["error"]["message"] and "req-boom" in response["error"]["message"]
    out = capsys.readouterr().out
    assert "RuntimeError" in out and "context exploded" in out and "Traceback" in out
    assert SENTINEL not in out
    per_type = emf(stdout_json_lines(out))[-1]
    assert (per_type["project"], per_type["error_type"]) == ("alpha", "internal_error")


def test_settings_are_parsed_once_per_environment(lambda_env):
    import os

    first = load_settings(os.environ)
    assert load_settings(dict(os.environ)) is first
    assert first.project.project == "alpha" and first.region == "us-east-1"
    assert first.metrics_namespace == "ClaudePlatform"


def test_spend_metric_adds_the_worst_case_of_unknown_outcomes(capsys):
    """SpendUSD (what the region dashboard ranks by) is never less than what the ledger charged."""
    from claude_proxy.core import InvokeResult
    from claude_proxy.errors import ErrorType, ProxyError
    from claude_proxy.observability import emit_metrics

    capsys.readouterr()
    emit_metrics(
        InvokeResult(
            project="p", model="m", attempts=2, latency_ms=1.0, cost_usd=0.25, estimated_charge_usd=0.5
        ),
        caller="ci",
    )
    emit_metrics(
        InvokeResult(
            project="p",
            model="m",
            attempts=1,
            latency_ms=1.0,
            error=ProxyError(ErrorType.TIMEOUT, "no answer"),
            estimated_charge_usd=0.75,
        )
    )
    blobs = [b for b in emf(stdout_json_lines(capsys.readouterr().out)) if "SpendUSD" in b]

    def spend(blob):
        v = blob["SpendUSD"]
        return v[0] if isinstance(v, list) else v

    per_project = [b for b in blobs if "api_key" not in b]
    per_key = [b for b in blobs if "api_key" in b]
    assert [spend(b) for b in per_project] == [pytest.approx(0.75), pytest.approx(0.75)]
    assert [spend(b) for b in per_key] == [pytest.approx(0.75)]
