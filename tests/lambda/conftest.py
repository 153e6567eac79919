"""Fixtures for the claude_proxy tests: local Bedrock server, fake AWS env, PROJECT_SETTINGS."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "tests", ROOT / "lambda", ROOT, Path(__file__).parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from proxy_fixtures import aws_env, bedrock_server_session, server  # noqa: E402, F401
from proxy_testkit import project_settings  # noqa: E402

from devservers.aws_server import LocalAwsServer  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, server: BedrockServer) -> dict[str, Any]:  # noqa: F811
    """PROJECT_SETTINGS for the default project and AWS_ENDPOINT_URL_BEDROCK_RUNTIME at the server."""
    doc = project_settings()
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    return doc


@pytest.fixture(scope="session")
def local_aws_session() -> Iterator[LocalAwsServer]:
    """One local DynamoDB/SNS endpoint (moto) per test process."""
    with LocalAwsServer() as aws:
        yield aws


@pytest.fixture
def local_aws(local_aws_session: LocalAwsServer, monkeypatch: pytest.MonkeyPatch) -> LocalAwsServer:
    """The local AWS endpoint, with boto3 pointed at it and the function's cached ledger dropped."""
    from claude_proxy.spend_wiring import ledger_for

    for name, value in local_aws_session.endpoint_env().items():
        monkeypatch.setenv(name, value)
    ledger_for.cache_clear()
    yield local_aws_session
    ledger_for.cache_clear()
