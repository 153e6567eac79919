"""A traced project run from the real bundle, like Lambda: the tracing dependencies are shipped, load
from the bundle with bytecode, read the secret over Secrets Manager's API and deliver the trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from proxy_testkit import project_settings

from devservers.bedrock_server import BedrockServer
from devservers.lambda_runner import lambda_env, run_child
from devservers.otlp_server import OtlpServer
from devservers.secrets_server import SecretsServer
from lambda_build import BundleError, Target, build_bundle, find_python, sdk_dir

TARGET = Target.from_names("python3.13", "x86_64")
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bundle/otlp-AbC123"


@pytest.mark.bundle
def test_traced_cold_call_from_the_bundle():
    try:
        python = find_python(TARGET.python_version)
    except BundleError as exc:
        pytest.skip(str(exc))
    bundle = build_bundle(TARGET, python=python)
    with (
        BedrockServer() as bedrock,
        OtlpServer(path="/v1/traces", required_headers={"x-api-key": "k-1"}) as collector,
        SecretsServer({SECRET: json.dumps({"x-api-key": "k-1"})}) as secrets,
    ):
        tracing = {"otlp": {"endpoint": collector.url + "/v1/traces", "headers_secret_arn": SECRET}}
        env = lambda_env(
            {
                "PROJECT_SETTINGS": json.dumps(project_settings(tracing=tracing)),
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets.url,
            }
        )
        result = run_child(
            python,
            "handler",
            front=[bundle.path],
            back=[sdk_dir(TARGET)],
            endpoint=bedrock.url,
            env=env,
            modules=True,
        )
        spans = collector.spans
        reads = dict(secrets.reads)
    assert result["response"]["ok"] is True, result["response"]
    assert reads == {SECRET: 1}
    (root,) = [s for s in spans if s.name == "claude_proxy.invoke"]
    assert root.attributes["claude_proxy.cost_usd"] == pytest.approx(result["response"]["cost_usd"])
    assert len({s.trace_id for s in spans}) == 1

    modules = result["modules"]
    root_dir = str(bundle.path) + "/"
    for name in ("claude_proxy.tracing", "opentelemetry.sdk.trace", "litellm.integrations.opentelemetry"):
        assert modules[name].startswith(root_dir), (name, modules[name])
        source = Path(modules[name])
        assert (source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc").is_file(), name
