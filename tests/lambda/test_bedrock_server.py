"""The local Bedrock server itself: real clients (boto3, LiteLLM streaming) accept what it sends."""

from __future__ import annotations

import http.client
import json
import socket
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from proxy_testkit import profile_arn

from devservers.bedrock_server import BedrockServer, Reply, Usage

ARN = profile_arn()
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]


def bedrock(server: BedrockServer):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_boto3_converse_parses_the_response(server):
    usage = Usage(input_tokens=11, output_tokens=5, cache_read_input_tokens=200, cache_write_input_tokens=30)
    server.enqueue(Reply.ok(text="pong", usage=usage))
    response = bedrock(server).converse(modelId=ARN, messages=MESSAGES, inferenceConfig={"maxTokens": 9})
    assert response["output"]["message"]["content"] == [{"text": "pong"}]
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {
        "inputTokens": 11,
        "outputTokens": 5,
        "totalTokens": 246,
        "cacheReadInputTokens": 200,
        "cacheWriteInputTokens": 30,
    }
    assert response["metrics"]["latencyMs"] == 42
    assert response["ResponseMetadata"]["RequestId"]
    [req] = server.requests
    assert req.model_id == ARN and "%3A" in req.raw_path and req.body["inferenceConfig"] == {"maxTokens": 9}


@pytest.mark.parametrize(
    ("reply", "code", "status"),
    [
        (Reply.throttle(), "ThrottlingException", 429),
        (Reply.server_error(500), "InternalServerException", 500),
        (Reply.server_error(503), "ServiceUnavailableException", 503),
        (Reply.error(400), "ValidationException", 400),
        (Reply.error(403), "AccessDeniedException", 403),
        (Reply.error(404), "ResourceNotFoundException", 404),
    ],
)
def test_boto3_sees_aws_errors(server, reply, code, status):
    server.enqueue(reply)
    with pytest.raises(ClientError) as info:
        bedrock(server).converse(modelId=ARN, messages=MESSAGES)
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(server.requests) == 1


def test_boto3_converse_stream_reads_event_stream_with_usage_and_metrics(server):
    server.enqueue(Reply.ok(text="a longer streamed answer, in chunks", usage=Usage(3, 8, 1, 2)))
    response = bedrock(server).converse_stream(modelId=ARN, messages=MESSAGES)
    events = list(response["stream"])
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "a longer streamed answer, in chunks"
    assert events[-1]["metadata"]["usage"]["cacheWriteInputTokens"] == 2
    assert events[-1]["metadata"]["metrics"] == {"latencyMs": 42}
    assert server.requests[0].operation == "converse-stream"


def test_litellm_streaming_keeps_bedrocks_usage(server, monkeypatch):
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    server.enqueue(Reply.ok(text="streamed", usage=Usage(input_tokens=123, output_tokens=45)))
    chunks = list(
        litellm.completion(
            model="bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            model_id=ARN,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
            aws_region_name="us-east-1",
            aws_bedrock_runtime_endpoint=server.url,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = next(c.usage for c in reversed(chunks) if getattr(c, "usage", None))
    assert text == "streamed"
    assert (usage.prompt_tokens, usage.completion_tokens) == (123, 45)


def test_scripted_queue_then_defaults(server):
    server.enqueue(Reply.throttle(), Reply.ok(text="second"))
    client = bedrock(server)
    with pytest.raises(ClientError):
        client.converse(modelId=ARN, messages=MESSAGES)
    assert (
        client.converse(modelId=ARN, messages=MESSAGES)["output"]["message"]["content"][0]["text"] == "second"
    )
    assert server.pending_replies == 0
    default = client.converse(modelId=ARN, messages=MESSAGES)
    assert default["output"]["message"]["content"][0]["text"] == server.default_text
    assert [r.header("authorization").startswith("AWS4-HMAC-SHA256") for r in server.requests] == [True] * 3


def test_unknown_route_is_404_and_recorded(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/foo")
    response = conn.getresponse()
    assert response.status == 404
    assert json.loads(response.read())["message"].startswith("unknown operation")
    conn.close()
    assert server.requests[0].operation is None


def test_accepted_sockets_have_tcp_nodelay(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/model/x/converse", body=b"{}", headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("x-amzn-RequestId")
    assert json.loads(response.read())["usage"]["totalTokens"] == 19
    sockets = server.open_connections  # keep-alive: still open
    assert sockets
    assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
    conn.close()


def test_stops_cleanly_with_idle_and_slow_connections():
    server = BedrockServer().start()
    url_port = server.port
    idle = socket.create_connection(("127.0.0.1", url_port), timeout=5)
    server.enqueue(Reply.slow(20.0))
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=5)
    conn.request("POST", "/model/x/converse", body=b"{}", headers={"Content-Type": "application/json"})
    time.sleep(0.05)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", url_port), timeout=1).close()
    idle.close()
    conn.close()
    server.stop()  # idempotent
