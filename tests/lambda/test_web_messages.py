"""POST /v1/messages through the ASGI app under uvicorn, with the real anthropic SDK, real LiteLLM and
the local Bedrock server; money through the DynamoDB ledger (moto)."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from claude_proxy.web.runtime import gateway_from_environment
from proxy_testkit import stdout_json_lines
from web_testkit import KEY, KEY_NAME, MemoryAuthenticator, serve_app

from devservers.bedrock_server import Reply, Usage


@pytest.fixture
def web(lambda_env, server):
    """The app over the deployed gateway wiring (in-memory keys); yields (base_url, authenticator)."""
    keys = MemoryAuthenticator()
    with serve_app(gateway_from_environment(keys)) as url:
        yield url, keys


def client(url: str, key: str = KEY, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, **kwargs)


def test_healthz_needs_no_key(web):
    url, keys = web
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert keys.calls == 0


def test_create_returns_anthropic_shape(web, server):
    url, _ = web
    server.reset(text="Hi there", usage=Usage(input_tokens=11, output_tokens=3))
    message = client(url).messages.create(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == "Hi there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == 11 and message.usage.output_tokens == 3
    assert message.model == "claude-sonnet-4-5"
    sent = server.requests[-1]
    assert sent.operation == "converse"
    assert sent.body["requestMetadata"] == {"api_key": KEY_NAME}


def test_unknown_key_is_401_and_not_retried(web, server):
    url, _ = web
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(url, key="nope").messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    body = caught.value.body
    assert body["error"]["platform_error_type"] == "authentication_failed"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert server.requests == []


def test_the_key_name_is_the_caller_in_logs_and_metrics_and_the_key_never_appears(web, server, capsys):
    url, _ = web
    client(url).messages.create(
        model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hello"}]
    )
    out = capsys.readouterr().out
    assert KEY not in out
    lines = stdout_json_lines(out)
    served = [line for line in lines if line.get("message") == "claude request served"]
    assert served and served[-1]["caller"] == KEY_NAME
    assert served[-1]["caller_tags"] == {"api_key": KEY_NAME}
    per_key = [line for line in lines if line.get("api_key") == KEY_NAME and "Requests" in line]
    assert per_key and per_key[-1]["project"] == "alpha"
    dims = per_key[-1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert dims == [["project", "api_key"]]


def test_bad_bodies_and_unknown_models_are_anthropic_errors(web, server):
    url, _ = web
    headers = {"x-api-key": KEY, "content-type": "application/json"}
    broken = httpx.post(f"{url}/v1/messages", content=b"{not json", headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    invalid = httpx.post(
        f"{url}/v1/messages", json={"model": "claude-sonnet-4-5", "messages": []}, headers=headers
    )
    assert invalid.status_code == 400 and "messages" in invalid.json()["error"]["message"]
    spoofed = httpx.post(
        f"{url}/v1/messages",
        json={"messages": [{"role": "user", "content": "hi"}], "tags": {"api_key": "someone-else"}},
        headers=headers,
    )
    assert spoofed.status_code == 400 and "tags" in spoofed.json()["error"]["message"]
    unknown = httpx.post(
        f"{url}/v1/messages",
        json={"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )
    body = unknown.json()
    assert unknown.status_code == 404 and body["error"]["type"] == "not_found_error"
    assert (
        "claude-sonnet-4-5" in body["error"]["message"]
        and body["request_id"] == unknown.headers["request-id"]
    )
    nowhere = httpx.get(f"{url}/v1/nothing", headers=headers)
    assert nowhere.status_code == 404 and nowhere.json()["type"] == "error"
    assert server.requests == []


def test_bedrock_access_denied_is_a_403_permission_error(web, server):
    url, _ = web
    server.enqueue(Reply.error(403))
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client(url).messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["platform_error_type"] == "access_denied"
