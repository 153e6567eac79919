"""`claude-code-settings`: Claude Code settings with every model family pinned to a project model.

That Claude Code itself then asks only for project models is tested against the served app in
tests/lambda/test_web_claude_code.py.
"""

from __future__ import annotations

import json

from finops_testkit import EXAMPLE, Clients, run_cli

from finops import claude_code
from finops.cli import read_platform


def _project(name: str):
    platform = read_platform(EXAMPLE)
    return next(p for p in platform.projects if p.name == name)


def test_every_model_variable_is_pinned_to_a_project_model() -> None:
    for name in ("support-bot", "data-science", "legacy-summarizer"):
        project = _project(name)
        aliases = {m.alias for m in project.models}
        pins = claude_code.pinned_models(project)
        assert set(pins) == set(claude_code.MODEL_ENV_VARS)
        assert set(pins.values()) <= aliases, name


def test_families_go_to_their_own_model_and_background_work_to_the_cheapest() -> None:
    pins = claude_code.pinned_models(_project("support-bot"))  # sonnet-4-5, haiku-4-5
    assert pins["ANTHROPIC_MODEL"] == "claude-sonnet-4-5"
    assert pins["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "claude-sonnet-4-5"
    assert pins["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-4-5"
    assert pins["ANTHROPIC_SMALL_FAST_MODEL"] == "claude-haiku-4-5"
    assert pins["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "claude-sonnet-4-5"  # no opus: the default
    pins = claude_code.pinned_models(_project("data-science"))  # opus-4-5, sonnet-4-5
    assert pins["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "claude-opus-4-5"
    assert pins["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-sonnet-4-5"  # no haiku: the cheaper one


def test_cli_writes_the_settings_file_with_the_url_and_key_helper(tmp_path) -> None:
    out = tmp_path / "settings.json"
    result = run_cli(
        [
            "claude-code-settings",
            "--project",
            "support-bot",
            "--base-url",
            "https://abc.lambda-url.us-east-1.on.aws/",
            "--api-key-helper",
            "cat ~/.config/claude-platform/support-bot.key",
            "-o",
            str(out),
        ]
    )
    assert result.code == 0, result.err
    document = json.loads(out.read_text())
    assert document["env"]["ANTHROPIC_BASE_URL"] == "https://abc.lambda-url.us-east-1.on.aws"
    assert document["apiKeyHelper"] == "cat ~/.config/claude-platform/support-bot.key"
    assert document["model"] == "claude-sonnet-4-5"
    assert "ANTHROPIC_AUTH_TOKEN" not in document["env"] and "ANTHROPIC_API_KEY" not in document["env"]


def test_cli_without_a_helper_tells_to_set_the_key_and_reads_the_url_from_the_stack(clients: Clients) -> None:
    cfn = clients.stub("cloudformation")
    stack = {
        "StackName": "claude-project-support-bot",
        "CreationTime": "2026-11-01T00:00:00Z",
        "StackStatus": "UPDATE_COMPLETE",
        "Outputs": [{"OutputKey": "GatewayUrl", "OutputValue": "https://u.lambda-url.us-east-1.on.aws/"}],
    }
    cfn.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "claude-project-support-bot"})
    result = run_cli(["claude-code-settings", "--project", "support-bot"], clients)
    assert result.code == 0, result.err
    assert json.loads(result.out)["env"]["ANTHROPIC_BASE_URL"] == "https://u.lambda-url.us-east-1.on.aws"
    assert "ANTHROPIC_AUTH_TOKEN" in result.err
    assert "apiKeyHelper" not in json.loads(result.out)


def test_unknown_project_and_undeployed_endpoint_are_clear_errors(clients: Clients) -> None:
    result = run_cli(["claude-code-settings", "--project", "nope", "--base-url", "http://x"])
    assert result.code == 1 and "--project nope: not in the config" in result.err
    cfn = clients.stub("cloudformation")
    stack = {
        "StackName": "claude-project-support-bot",
        "CreationTime": "2026-11-01T00:00:00Z",
        "StackStatus": "UPDATE_COMPLETE",
        "Outputs": [],
    }
    cfn.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "claude-project-support-bot"})
    result = run_cli(["claude-code-settings", "--project", "support-bot"], clients)
    assert result.code == 1 and "no GatewayUrl output" in result.err and "--base-url" in result.err
