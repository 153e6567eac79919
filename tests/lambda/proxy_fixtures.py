"""Fixtures shared by the function's tests and the client's: the local Bedrock server and a fake,
offline AWS environment. Imported by tests/lambda/conftest.py and tests/client/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from proxy_testkit import ENDPOINT_VARS, REGION

from devservers.bedrock_server import BedrockServer


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
