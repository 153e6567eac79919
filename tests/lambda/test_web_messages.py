"""POST /v1/messages through the ASGI app under uvicorn, with the real anthropic SDK, real LiteLLM and
the local Bedrock server; money through the DynamoDB ledger (moto)."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from claude_proxy.web.runtime import gateway_from_environment
from web_testkit import KEY, KEY_NAME, MemoryAuthenticator, serve_app

from devservers.bedrock_server import Usage


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
