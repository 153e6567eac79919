"""Fixtures for the client tests: the real gateway handler in-process, behind the local Bedrock server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "client", ROOT / "lambda", ROOT, ROOT / "tests" / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from proxy_fixtures import aws_env, bedrock_server_session, server  # noqa: E402, F401
from proxy_testkit import FakeContext, project_settings  # noqa: E402

from devservers.bedrock_server import BedrockServer  # noqa: E402


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
def handler_transport(monkeypatch: pytest.MonkeyPatch, server: BedrockServer) -> HandlerTransport:  # noqa: F811
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(project_settings()))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    return HandlerTransport()
