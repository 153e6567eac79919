"""`make serve` (devservers.serve): the endpoint app for one project of the config, configured as the
deployed function, against the local stand-ins (moto for DynamoDB/SNS/STS, the local Bedrock server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.stub import Stubber
from proxy_testkit import REGION

from claude_platform.api_keys import ApiKeyStore
from claude_platform.config import load_config
from claude_platform.naming import inference_profile_name, ledger_table_name
from devservers import serve
from devservers.aws_server import create_ledger_table
from devservers.bedrock_server import Usage

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "projects.yaml"
PROJECT = "data-science"  # the example's project with the HTTPS endpoint on


def _platform():
    import yaml

    return load_config(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), source=str(EXAMPLE))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def keys_table(local_aws):
    """The region's ledger table (by its name) on moto, fresh, with one API key of the project."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    name = ledger_table_name(_platform().config.name_prefix)
    if name in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=name)
    create_ledger_table(dynamodb, name)
    key, _ = ApiKeyStore(dynamodb, name).create(PROJECT, "dev-laptop", now=datetime.now(UTC))
    return key


def test_make_serve_starts_serves_healthz_and_one_call_against_the_stand_ins(local_aws, server, keys_table):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")},
        **local_aws.endpoint_env(),
        "AWS_ENDPOINT_URL_STS": local_aws.url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
    }
    server.reset(text="served locally", usage=Usage(input_tokens=8, output_tokens=3))
    process = subprocess.Popen(
        [sys.executable, "-m", "devservers.serve", "--project", PROJECT, "--port", str(port), "--stand-ins"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1][-2000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "make serve did not answer /healthz"
            time.sleep(0.2)
        answer = httpx.post(
            f"{url}/v1/messages",
            headers={"x-api-key": keys_table, "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-opus-5-5",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}],
            },
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["content"][0]["text"] == "served locally"
        sent = server.requests[-1]
        # the example maps claude-opus-5-5 to claude-opus-4-5: its (first) profile was called
        assert sent.model_id == f"arn:aws:bedrock:{REGION}:123456789012:application-inference-profile/local0"
        assert sent.body["requestMetadata"]["api_key"] == "dev-laptop"
        refused = httpx.post(f"{url}/v1/messages", json={"model": "x", "messages": []}, timeout=10)
        assert refused.status_code == 401  # keys are checked as deployed
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_profile_arns_are_looked_up_by_name():
    platform = _platform()
    project = next(p for p in platform.projects if p.name == PROJECT)
    bedrock = boto3.client("bedrock", region_name=REGION)
    names = [
        inference_profile_name(platform.config.name_prefix, project.name, m.model, m.geography)
        for m in project.models
    ]
    arns = [
        f"arn:aws:bedrock:{REGION}:123456789012:application-inference-profile/p{i}" for i in range(len(names))
    ]
    with Stubber(bedrock) as stub:
        stub.add_response(
            "list_inference_profiles",
            {
                "inferenceProfileSummaries": [_summary(names[0], arns[0]), _summary("other", "x" * 20)],
                "nextToken": "t",
            },
            {"typeEquals": "APPLICATION", "maxResults": 1000},
        )
        stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": [_summary(n, a) for n, a in zip(names[1:], arns[1:], strict=True)]},
            {"typeEquals": "APPLICATION", "maxResults": 1000, "nextToken": "t"},
        )
        found = serve.profile_arns(bedrock, platform.config.name_prefix, project)
    assert found == {m.alias: a for m, a in zip(project.models, arns, strict=True)}
    with Stubber(bedrock) as stub:
        stub.add_response("list_inference_profiles", {"inferenceProfileSummaries": []})
        with pytest.raises(serve.ServeError, match="no application inference profile named"):
            serve.profile_arns(bedrock, platform.config.name_prefix, project)


def _summary(name: str, arn: str) -> dict:
    return {
        "inferenceProfileName": name,
        "inferenceProfileArn": arn,
        "inferenceProfileId": "abcdefghij",
        "models": [{"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-opus-4-5"}],
        "status": "ACTIVE",
        "type": "APPLICATION",
    }


def test_a_project_without_the_endpoint_or_unknown_is_one_line(local_aws, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", local_aws.url)
    assert serve.main(["--project", "support-bot", "--config", str(EXAMPLE)]) == 1
    assert "has no HTTPS endpoint" in capsys.readouterr().err
    assert serve.main(["--project", "nope", "--config", str(EXAMPLE)]) == 1
    err = capsys.readouterr().err
    assert "PROJECT=nope: not in" in err and "Traceback" not in err


def test_settings_are_the_deployed_contract(local_aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", local_aws.url)
    env = serve.project_environment(EXAMPLE, PROJECT, stand_ins=True)
    settings = json.loads(env["PROJECT_SETTINGS"])
    assert env["AWS_REGION"] == REGION
    assert settings["gateway"]["keys_table"] == ledger_table_name(_platform().config.name_prefix)
    assert settings["gateway"]["model_aliases"]["claude-opus-5-5"] == "claude-opus-4-5"
    assert settings["spend"]["alert_topic_arn"].startswith(f"arn:aws:sns:{REGION}:123456789012:")
