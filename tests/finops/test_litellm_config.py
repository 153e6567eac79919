"""`litellm-config`: the generated model_list is loaded by LiteLLM itself (Router) and a call through
it reaches the project's profile ARN, priced as the right `bedrock/<geo>.<model>`."""

from __future__ import annotations

import sys

import pytest
import yaml
from finops_testkit import ROOT, Clients, run_cli

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devservers.bedrock_server import BedrockServer, Reply, Usage

ACCOUNT = "123456789012"


def _arn(profile: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{profile}"


def _stack(project: str, outputs: dict[str, str]) -> dict:
    return {
        "Stacks": [
            {
                "StackName": f"claude-project-{project}",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


@pytest.fixture
def generated(clients: Clients, tmp_path) -> dict:
    cfn = clients.stub("cloudformation")
    cfn.add_response(
        "describe_stacks",
        _stack(
            "support-bot", {"ClaudeSonnet45ProfileArn": _arn("sb1"), "ClaudeHaiku45ProfileArn": _arn("sb2")}
        ),
        {"StackName": "claude-project-support-bot"},
    )
    cfn.add_response(
        "describe_stacks",
        _stack(
            "data-science", {"ClaudeOpus45ProfileArn": _arn("ds1"), "ClaudeSonnet45ProfileArn": _arn("ds2")}
        ),
        {"StackName": "claude-project-data-science"},
    )
    out = tmp_path / "litellm.yaml"
    result = run_cli(
        ["litellm-config", "--project", "support-bot", "--project", "data-science", "-o", str(out)], clients
    )
    assert result.code == 0, result.err
    assert "wrote 4 model(s)" in result.err
    return yaml.safe_load(out.read_text())


def test_one_entry_per_project_model_with_profile_arn_route_and_tags(generated):
    entries = {e["model_name"]: e for e in generated["model_list"]}
    assert set(entries) == {
        "support-bot/claude-sonnet-4-5",
        "support-bot/claude-haiku-4-5",
        "data-science/claude-opus-4-5",
        "data-science/claude-sonnet-4-5",
    }
    haiku = entries["support-bot/claude-haiku-4-5"]["litellm_params"]
    assert haiku["model"] == "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert haiku["model_id"] == _arn("sb2")
    assert haiku["requestMetadata"] == {"project": "support-bot"}
    opus = entries["data-science/claude-opus-4-5"]
    assert opus["litellm_params"]["model"] == "bedrock/global.anthropic.claude-opus-4-5-20251101-v1:0"
    assert opus["model_info"]["cost_allocation_tags"]["project"] == "data-science"
    assert opus["model_info"]["cost_allocation_tags"]["cost-center"] == "CC-2001"


def test_litellm_router_loads_it_and_calls_go_to_the_profile(generated):
    import litellm

    with BedrockServer() as server:
        # The only change for the test: the local server stands in for Bedrock's endpoint.
        model_list = [
            {**e, "litellm_params": {**e["litellm_params"], "aws_bedrock_runtime_endpoint": server.url}}
            for e in generated["model_list"]
        ]
        router = litellm.Router(model_list=model_list)
        registry = router.registry()
        assert sorted(registry.names()) == sorted(e["model_name"] for e in generated["model_list"])
        (parsed,) = registry.deployments("data-science/claude-opus-4-5")
        assert parsed["litellm_params"]["model_id"] == _arn("ds1")
        assert parsed["model_info"]["id"] == "claude-data-science-opus-4-5-global"
        assert parsed["model_info"]["cost_allocation_tags"]["project"] == "data-science"
        server.enqueue(Reply.ok(usage=Usage(input_tokens=1000, output_tokens=100)))
        response = router.completion(
            model="support-bot/claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}], max_tokens=100
        )
        [request] = server.requests
    assert request.model_id == _arn("sb2")
    assert request.body["requestMetadata"] == {"project": "support-bot"}
    # LiteLLM prices the call as the geography's model: 1000 in + 100 out at us. Haiku 4.5 prices.
    from claude_platform.catalog import Geography, model_prices, resolve_model
    from claude_platform.prices import TokenUsage, cost_usd

    prices = model_prices(resolve_model("claude-haiku-4-5"), Geography.US)
    expected = cost_usd(prices, TokenUsage(input_tokens=1000, output_tokens=100))
    # completion_cost with no model given prices by the response's own model: the route's
    # `bedrock/<geo>.<model>`, never the profile ARN (which LiteLLM could not price).
    assert response.model.endswith("us.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert litellm.completion_cost(completion_response=response) == pytest.approx(expected, rel=1e-9)


def test_undeployed_profile_is_an_error_naming_it(clients: Clients):
    clients.stub("cloudformation").add_response(
        "describe_stacks", _stack("support-bot", {"ClaudeSonnet45ProfileArn": _arn("sb1")})
    )
    result = run_cli(["litellm-config", "--project", "support-bot"], clients)
    assert result.code == 1 and "no profile output for claude-haiku-4-5" in result.err
