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

from proxy_testkit import ENDPOINT_VARS, REGION, project_settings  # noqa: E402

from devservers.aws_server import LocalAwsServer  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402


@pytest.fixture(scope="session")
def bedrock_server_session() -> Iterator[BedrockServer]:
    """One local Bedrock server per test process (xdist workers each get their own)."""
    with BedrockServer() as server:
        yield server


@pytest.fixture
def server(bedrock_server_session: BedrockServer) -> BedrockServer:
    """The shared server, reset for this test."""
    bedrock_server_session.reset()
    return bedrock_server_session


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no endpoint overrides, profiles or real config files."""
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
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ClaudePlatform")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "claude_proxy")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, server: BedrockServer) -> dict[str, Any]:
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
