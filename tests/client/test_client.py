"""The project client: against the real handler in-process, and against the Lambda API shape (Stubber)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from claude_project_client import (
    BotoLambdaTransport,
    BudgetExceeded,
    BudgetUnavailable,
    FunctionCrashed,
    InvalidRequest,
    InvokeResponse,
    InvokeTimedOut,
    LambdaThrottled,
    ModelNotAllowed,
    PayloadTooLarge,
    ProjectClient,
    RetryPolicy,
    Throttled,
)
from claude_project_client.client import LAMBDA_PAYLOAD_MAX_BYTES, READ_TIMEOUT_MARGIN_S

from devservers.bedrock_server import Reply, Usage, thinking_block

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "claude-alpha-proxy"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def make_client(transport, **kwargs) -> tuple[ProjectClient, list[float]]:
    sleeps: list[float] = []
    client = ProjectClient(FUNCTION, transport=transport, sleep=sleeps.append, **kwargs)
    return client, sleeps


# --- against the real handler -----------------------------------------------------------------


def test_create_returns_the_sdk_shape_with_cost(handler_transport, server):
    server.enqueue(Reply.ok("Hello!", usage=Usage(12, 3)))
    client, _ = make_client(handler_transport)
    msg = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=256,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hi"}],
        metadata={"user_id": "u-7"},
        tags={"feature": "greeting"},
    )
    assert msg.text == "Hello!"
    assert msg.content[0].type == "text" and msg.content[0]["text"] == "Hello!"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (12, 3)
    assert msg.cost_usd > 0 and msg.cost_usd == msg.raw["cost_usd"]
    assert msg.id == "req-1" and msg.model == "claude-sonnet-4-5"
    assert handler_transport.payloads[0]["tags"] == {"feature": "greeting", "user_id": "u-7"}
    assert server.requests[0].body["requestMetadata"] == {"feature": "greeting", "user_id": "u-7"}


def test_tool_use_loop_sends_content_back_unchanged(handler_transport, server):
    server.enqueue(
        Reply.tool_use("get_weather", {"city": "Paris"}, tool_use_id="tu_1", thinking="Look it up."),
        Reply.tool_use("get_weather", {"city": "Lyon"}, tool_use_id="tu_2"),
        Reply.ok("Paris 21°C, Lyon 19°C."),
    )
    client, _ = make_client(handler_transport)
    messages = [{"role": "user", "content": "Weather in Paris and Lyon?"}]
    answers = {"Paris": "21°C", "Lyon": "19°C"}
    for _ in range(5):
        msg = client.messages.create(
            max_tokens=2048,
            messages=messages,
            tools=[WEATHER],
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
        if msg.stop_reason != "tool_use":
            break
        use = next(b for b in msg.content if b.type == "tool_use")
        messages += [
            {"role": "assistant", "content": msg.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": answers[use.input["city"]]}
                ],
            },
        ]
    assert msg.text == "Paris 21°C, Lyon 19°C."
    assert len(server.requests) == 3
    replayed = server.requests[2].body["messages"][1]["content"][0]
    assert replayed == thinking_block("Look it up.")


def test_gateway_errors_are_typed_and_carry_the_request_id(handler_transport, server):
    client, _ = make_client(handler_transport)
    with pytest.raises(InvalidRequest) as info:
        client.messages.create(messages=[{"role": "user", "content": [{"type": "video"}]}])
    assert info.value.request_id == "req-1" and "messages[0].content[0]" in info.value.message
    with pytest.raises(ModelNotAllowed):
        client.messages.create(model="claude-opus-4-7", messages=[{"role": "user", "content": "x"}])
    assert server.requests == []


def test_throttled_is_retried_with_backoff_then_succeeds(handler_transport, server):
    # the function retries 4 times within one invoke; the client backs off and invokes again
    server.enqueue(*[Reply.throttle()] * 4, Reply.ok("finally"))
    client, sleeps = make_client(handler_transport, retry=RetryPolicy(max_retries=2, base_delay_s=1.0))
    msg = client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert msg.text == "finally"
    assert handler_transport.count == 2 and len(sleeps) == 1 and 0 <= sleeps[0] <= 1.0


def test_throttled_gives_up_after_max_retries(handler_transport, server):
    server.enqueue(*[Reply.throttle()] * 20)
    client, sleeps = make_client(handler_transport, retry=RetryPolicy(max_retries=1, base_delay_s=0.5))
    with pytest.raises(Throttled) as info:
        client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert info.value.retryable is True
    assert handler_transport.count == 2 and len(sleeps) == 1


# --- error shapes that need no Bedrock --------------------------------------------------------


def canned(*responses):
    calls = []

    def transport(payload: bytes) -> InvokeResponse:
        calls.append(json.loads(payload))
        item = responses[min(len(calls) - 1, len(responses) - 1)]
        if isinstance(item, Exception):
            raise item
        return item

    transport.calls = calls
    return transport


def failure(error_type: str, retryable: bool = False) -> InvokeResponse:
    body = {
        "ok": False,
        "error": {"type": error_type, "message": "m", "retryable": retryable},
        "request_id": "r",
    }
    return InvokeResponse(200, json.dumps(body).encode())


def test_budget_exceeded_is_not_retried_and_budget_unavailable_is():
    transport = canned(failure("budget_exceeded"))
    client, sleeps = make_client(transport)
    with pytest.raises(BudgetExceeded):
        client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert len(transport.calls) == 1 and sleeps == []

    ok = {"ok": True, "content": "y", "content_blocks": [{"type": "text", "text": "y"}], "usage": {},
          "budget": {"limit_usd": 100.0, "spent_usd": 12.5}, "cost_usd": 0.001, "request_id": "r2"}  # fmt: skip
    transport = canned(failure("budget_unavailable", True), InvokeResponse(200, json.dumps(ok).encode()))
    client, sleeps = make_client(transport)
    msg = client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert msg.budget == {"limit_usd": 100.0, "spent_usd": 12.5} and len(sleeps) == 1

    transport = canned(failure("budget_unavailable", True))
    client, _ = make_client(transport, retry=RetryPolicy(max_retries=0))
    with pytest.raises(BudgetUnavailable):
        client.messages.create(messages=[{"role": "user", "content": "x"}])


def test_function_crash_and_oversized_answer_are_clear():
    crash = InvokeResponse(200, b'{"errorMessage": "Task timed out after 120.00 seconds", "errorType": "Sandbox.Timedout"}', "Unhandled")  # fmt: skip
    client, _ = make_client(canned(crash))
    with pytest.raises(FunctionCrashed, match="Task timed out") as info:
        client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert info.value.error_type == "Sandbox.Timedout"
    big = InvokeResponse(200, b'{"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).", "errorType": "Function.ResponseSizeTooLarge"}', "Unhandled")  # fmt: skip
    client, _ = make_client(canned(big))
    with pytest.raises(PayloadTooLarge, match="answer"):
        client.messages.create(messages=[{"role": "user", "content": "x"}])


def test_oversized_request_is_refused_before_invoking():
    transport = canned(failure("internal_error"))
    client, _ = make_client(transport)
    huge = "x" * (LAMBDA_PAYLOAD_MAX_BYTES + 1)
    with pytest.raises(PayloadTooLarge, match="6291456"):
        client.messages.create(messages=[{"role": "user", "content": huge}])
    assert transport.calls == []


def test_stream_is_refused():
    client, _ = make_client(canned(failure("internal_error")))
    with pytest.raises(TypeError, match="stream"):
        client.messages.create(messages=[{"role": "user", "content": "x"}], stream=True)


# --- the Lambda API shape (botocore Stubber) --------------------------------------------------


def stubbed(function_timeout_s: float = 300):
    transport = BotoLambdaTransport(
        FUNCTION, region="us-east-1", qualifier="live", function_timeout_s=function_timeout_s
    )
    return transport, Stubber(transport.lambda_client)


def body(data: dict | bytes) -> StreamingBody:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_default_lambda_client_waits_longer_than_the_function_and_never_retries():
    transport, _ = stubbed(function_timeout_s=300)
    config = transport.lambda_client.meta.config
    assert config.read_timeout == 300 + READ_TIMEOUT_MARGIN_S > 300
    assert config.retries["total_max_attempts"] == 1


def test_default_read_timeout_outlasts_the_longest_function_timeout_a_project_can_set():
    """Without `function_timeout_s` the client never abandons a call the function may still be running."""
    from claude_platform.config_model import ProjectSettings

    longest = next(
        m.le for m in ProjectSettings.model_fields["lambda_timeout_seconds"].metadata if hasattr(m, "le")
    )
    for client in (
        BotoLambdaTransport(FUNCTION, region="us-east-1"),
        ProjectClient(FUNCTION, region="us-east-1").transport,
    ):
        config = client.lambda_client.meta.config
        assert config.read_timeout >= longest + READ_TIMEOUT_MARGIN_S
        assert config.retries["total_max_attempts"] == 1


def test_invoke_request_shape_and_success(monkeypatch):
    transport, stub = stubbed()
    event = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    ok = {"ok": True, "content": "hey", "content_blocks": [{"type": "text", "text": "hey"}], "stop_reason": "end_turn",
          "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 0, "cache_write_input_tokens": 0},
          "cost_usd": 2.4e-05, "request_id": "rid", "model": "claude-haiku-4-5"}  # fmt: skip
    stub.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": body(ok)},
        {
            "FunctionName": FUNCTION,
            "InvocationType": "RequestResponse",
            "Qualifier": "live",
            "Payload": json.dumps(event).encode(),
        },
    )
    with stub:
        msg = ProjectClient(FUNCTION, transport=transport).messages.create(
            messages=event["messages"], max_tokens=10
        )
    stub.assert_no_pending_responses()
    assert msg.text == "hey" and msg.usage.input_tokens == 3 and msg.id == "rid"


def test_lambda_throttling_is_retried_and_function_errors_surface():
    transport, stub = stubbed()
    stub.add_client_error("invoke", "TooManyRequestsException", "Rate exceeded", 429)
    stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                 "Payload": body({"errorMessage": "boom", "errorType": "RuntimeError"})})  # fmt: skip
    sleeps: list[float] = []
    client = ProjectClient(FUNCTION, transport=transport, sleep=sleeps.append)
    with stub, pytest.raises(FunctionCrashed, match="boom"):
        client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert len(sleeps) == 1


def test_lambda_throttling_exhausts_into_lambda_throttled():
    transport, stub = stubbed()
    for _ in range(2):
        stub.add_client_error("invoke", "TooManyRequestsException", "Rate exceeded", 429)
    client = ProjectClient(
        FUNCTION, transport=transport, sleep=lambda s: None, retry=RetryPolicy(max_retries=1)
    )
    with stub, pytest.raises(LambdaThrottled):
        client.messages.create(messages=[{"role": "user", "content": "x"}])


def test_request_too_large_from_lambda():
    transport, stub = stubbed()
    stub.add_client_error(
        "invoke", "RequestTooLargeException", "Request must be smaller than 6291456 bytes", 413
    )
    with stub, pytest.raises(PayloadTooLarge):
        ProjectClient(FUNCTION, transport=transport).messages.create(
            messages=[{"role": "user", "content": "x"}]
        )


def test_read_timeout_is_not_retried():
    calls = []

    class TimingOut:
        def invoke(self, **params):
            calls.append(params)
            raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    transport = BotoLambdaTransport(FUNCTION, lambda_client=TimingOut())
    client = ProjectClient(FUNCTION, transport=transport, sleep=lambda s: None)
    with pytest.raises(InvokeTimedOut, match="not retried"):
        client.messages.create(messages=[{"role": "user", "content": "x"}])
    assert len(calls) == 1


def test_client_package_imports_only_boto3_and_the_standard_library():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'client')!r});"
        "import claude_project_client as c; c.ProjectClient('f', region='us-east-1');"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT / "client",
        env={"AWS_EC2_METADATA_DISABLED": "true"},
    ).stdout.split()
    assert "boto3" in out
    for heavy in ("litellm", "aws_cdk", "pydantic", "claude_proxy", "claude_platform"):
        assert heavy not in out


def test_boto3_default_session_region_is_used(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    transport = BotoLambdaTransport(FUNCTION)
    assert transport.lambda_client.meta.region_name == "eu-west-1"
    assert isinstance(boto3.session.Session().region_name, str)
