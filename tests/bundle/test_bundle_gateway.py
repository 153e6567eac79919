"""The gateway function from the real bundle: run.sh starts uvicorn on the adapter's port, as the
Lambda Web Adapter would run it (the adapter itself is not installable offline; docs/https-endpoint.md)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from datetime import UTC, datetime

import boto3
import httpx
import pytest
from bundle_support import TARGET
from proxy_testkit import project_settings

from claude_platform.api_keys import ApiKeyStore, generate_key
from devservers.aws_server import LocalAwsServer, create_ledger_table
from devservers.bedrock_server import BedrockServer
from devservers.lambda_runner import lambda_env
from lambda_build import BundleError, build_bundle, find_python, sdk_dir

pytestmark = pytest.mark.bundle


@pytest.fixture(scope="module")
def python() -> str:
    try:
        return find_python(TARGET.python_version)
    except BundleError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def bundle(python):
    return build_bundle(TARGET, python=python)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_sh_is_an_executable_at_the_bundle_root(bundle):
    script = bundle.path / "run.sh"
    assert script.is_file() and script.stat().st_mode & stat.S_IXUSR
    assert "claude_proxy.web.app:app" in script.read_text()


def test_run_sh_serves_healthz_authenticates_against_the_key_table_and_answers(python, bundle, tmp_path):
    """The bundle's own boto3 reads the project's keys (local AWS server): unknown key 401, nothing
    sent; a valid key is answered through the local Bedrock server."""
    port = _free_port()
    # The interpreter without `site`: this machine's site-packages .pth files would otherwise run
    # and may write into the bundle (its files are hard links into the build cache).
    interpreter = tmp_path / "python"
    interpreter.write_text(f'#!/bin/sh\nexec "{python}" -S "$@"\n')
    interpreter.chmod(0o755)
    with BedrockServer() as server, LocalAwsServer() as aws:
        dynamodb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=aws.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        create_ledger_table(dynamodb, "gateway-keys")
        key, _ = ApiKeyStore(dynamodb, "gateway-keys").create("alpha", "bundle-e2e", now=datetime.now(UTC))
        settings = project_settings(gateway={"keys_table": "gateway-keys"})
        env = lambda_env(
            {
                "PROJECT_SETTINGS": json.dumps(settings),
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
                "AWS_ENDPOINT_URL_DYNAMODB": aws.url,
                "AWS_LWA_PORT": str(port),
                "LAMBDA_TASK_ROOT": str(bundle.path),
                "LAMBDA_RUNTIME_DIR": str(sdk_dir(TARGET)),
                "CLAUDE_PROXY_PYTHON": str(interpreter),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            }
        )
        started = time.monotonic()
        child = subprocess.Popen(
            ["/bin/sh", str(bundle.path / "run.sh")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            while True:
                try:
                    health = httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if child.poll() is not None or time.monotonic() - started > 120:
                        out = child.stdout.read().decode(errors="replace") if child.stdout else ""
                        pytest.fail(f"run.sh did not serve /healthz: {out[-2000:]}")
                    time.sleep(0.1)
            assert health.status_code == 200 and health.json() == {"ok": True}
            refused = httpx.post(
                f"{base}/v1/messages",
                json={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 10,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                headers={"x-api-key": generate_key()},
                timeout=30,
            )
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"]["type"] == "authentication_error"
            assert refused.headers["x-should-retry"] == "false"
            assert server.requests == []  # refused before anything was sent
            answered = httpx.post(
                f"{base}/v1/messages",
                json={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 10,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                headers={"authorization": f"Bearer {key}"},
                timeout=60,
            )
            assert answered.status_code == 200, answered.text
            assert answered.json()["type"] == "message"
            assert len(server.requests) == 1
        finally:
            child.terminate()
            child.wait(timeout=10)
