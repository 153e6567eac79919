"""Fixtures for the client tests: the real gateway handler in-process, behind the local Bedrock server."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "client", ROOT / "lambda", ROOT, ROOT / "tests" / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from proxy_testkit import ENDPOINT_VARS, FakeContext, project_settings  # noqa: E402

from devservers.bedrock_server import BedrockServer  # noqa: E402


@pytest.fixture(scope="session")
def bedrock_server_session() -> Iterator[BedrockServer]:
    with BedrockServer() as server:
        yield server


@pytest.fixture
def server(bedrock_server_session: BedrockServer) -> BedrockServer:
    bedrock_server_session.reset()
    return bedrock_server_session


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        *ENDPOINT_VARS,
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class HandlerTransport:
    """Invokes the real lambda_handler in-process, as Lambda would: JSON bytes in, JSON bytes out."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.count = 0

    def __call__(self, payload: bytes) -> Any:
        from claude_project_client import InvokeResponse
        from claude_proxy.handler import lambda_handler

        self.count += 1
        event = json.loads(payload)
        self.payloads.append(event)
        response = lambda_handler(event, FakeContext(aws_request_id=f"req-{self.count}"))
        return InvokeResponse(status_code=200, payload=json.dumps(response).encode())


@pytest.fixture
def handler_transport(monkeypatch: pytest.MonkeyPatch, server: BedrockServer) -> HandlerTransport:
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(project_settings()))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    return HandlerTransport()
