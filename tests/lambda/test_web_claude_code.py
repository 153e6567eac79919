"""Claude Code itself (the pinned npm package's binary) against the app under uvicorn on 127.0.0.1,
real LiteLLM streaming from the local Bedrock server, money in the DynamoDB ledger (moto).

`claude -p ... --output-format json` runs a turn where the model asks for its Read tool, Claude Code
runs it and sends the result back, and the final answer comes back; the ledger holds the cost of
every call. With the settings `claude-finops claude-code-settings` writes, every call Claude Code
makes asks for one of the project's models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from claude_proxy.web.runtime import gateway_from_environment
from proxy_testkit import REGION, profile_arn
from web_testkit import KEY, MemoryAuthenticator, serve_app

from claude_platform.config import runtime_settings
from claude_platform.function_settings import FunctionSettings
from claude_platform.ledger import LedgerTable, period_of, to_micro
from claude_platform.prices import TokenUsage, cost_usd
from devservers.aws_server import create_ledger_table
from devservers.bedrock_server import Reply, Usage
from finops import claude_code
from finops.cli import read_platform

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "node_modules" / ".bin" / "claude"
PROJECT = "support-bot"  # of the example config: claude-sonnet-4-5, claude-haiku-4-5

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists() or not shutil.which("node"),
    reason="Claude Code is not installed (make setup: npm ci installs the pinned @anthropic-ai/claude-code)",
)


class Recorder:
    """A first normalizer that notes the model each Messages request asked for (then passes it on)."""

    def __init__(self) -> None:
        self.models: list[str | None] = []

    def __call__(self, body: dict[str, Any], ctx: Any) -> dict[str, Any]:
        self.models.append(body.get("model"))
        return body


@pytest.fixture
def served(local_aws, server, monkeypatch, tmp_path):
    """support-bot's PROJECT_SETTINGS as the stack writes them (tracing off), a fresh ledger, the app."""
    platform = read_platform(ROOT / "projects.yaml")
    project = next(p for p in platform.projects if p.name == PROJECT)
    table = f"ledger-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_ledger_table(dynamodb, table)
    arns = {m.alias: profile_arn(f"cc{i}") for i, m in enumerate(project.models)}
    doc = runtime_settings(project, arns, ledger_table=table)
    doc.pop("tracing", None)  # the example's Langfuse is not reachable offline
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    gateway = gateway_from_environment(MemoryAuthenticator())
    recorder = Recorder()
    gateway.normalizers.insert(0, recorder)
    with serve_app(gateway) as url:
        yield {
            "url": url,
            "project": project,
            "settings": FunctionSettings.model_validate(doc),
            "ledger": LedgerTable(dynamodb, table),
            "recorder": recorder,
            "workdir": tmp_path,
        }


def _run_claude(workdir: Path, prompt: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_", "AWS_"))}
    full_env = {**base, "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"), **env}
    completed = subprocess.run(
        [str(CLAUDE), "-p", prompt, "--output-format", "json", *args],
        check=False,
        cwd=workdir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    return json.loads(completed.stdout)


def _wait_settled(ledger: LedgerTable, requests: int):
    deadline = time.monotonic() + 10
    while True:
        state = ledger.month(PROJECT, period_of(datetime.now(UTC)))
        if (state.requests >= requests and state.reserved_micro == 0) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_claude_code_runs_a_tool_turn_and_the_ledger_holds_its_cost(served, server):
    workdir: Path = served["workdir"]
    (workdir / "note.txt").write_text("the secret word is banana\n", encoding="utf-8")
    tool_usage, final_usage = (
        Usage(input_tokens=900, output_tokens=40),
        Usage(input_tokens=950, output_tokens=12),
    )
    server.reset(usage=Usage(input_tokens=30, output_tokens=5))
    server.enqueue(
        Reply.tool_use(
            "Read", {"file_path": str(workdir / "note.txt")}, tool_use_id="toolu_read1", usage=tool_usage
        ),
        Reply.ok("The note says the secret word is banana.", usage=final_usage),
    )
    env = {
        "ANTHROPIC_BASE_URL": served["url"],
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_MODEL": "claude-sonnet-4-5",
        "ANTHROPIC_SMALL_FAST_MODEL": "claude-sonnet-4-5",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-sonnet-4-5",
    }
    result = _run_claude(workdir, "What does note.txt say?", env)
    assert result["is_error"] is False, result
    assert result["result"] == "The note says the secret word is banana."
    assert server.pending_replies == 0
    calls = server.requests
    assert all(r.operation == "converse-stream" for r in calls)  # Claude Code streams
    # the tool ran: the file's text went back to Bedrock as the Read tool's result
    second = json.dumps(calls[1].body)
    assert "the secret word is banana" in second and "toolu_read1" in second
    # Claude Code's 128000 was clamped to the project's limit on the way to Bedrock
    limit = served["settings"].max_tokens_limit
    assert all(r.body["inferenceConfig"]["maxTokens"] <= limit for r in calls)
    # money: every call settled at its actual usage, none estimated
    prices = served["settings"].find_model("claude-sonnet-4-5").prices
    usages = [tool_usage, final_usage] + [Usage(input_tokens=30, output_tokens=5)] * (len(calls) - 2)
    expected = sum(
        to_micro(cost_usd(prices, TokenUsage(u.input_tokens, u.output_tokens, 0, 0))) for u in usages
    )
    state = _wait_settled(served["ledger"], len(calls))
    assert state.requests == len(calls) and state.reserved_micro == 0 and state.estimated_micro == 0
    assert state.spent_micro == expected
    assert state.spent_usd > 0


def test_with_the_written_settings_every_call_asks_for_a_project_model(served, server):
    workdir: Path = served["workdir"]
    key_file = workdir / "key"
    key_file.write_text(KEY, encoding="utf-8")
    document = claude_code.settings(
        served["project"], base_url=served["url"], api_key_helper=f"cat {key_file}"
    )
    settings_file = workdir / "settings.json"
    settings_file.write_text(claude_code.render(document), encoding="utf-8")
    server.reset(text="Done.", usage=Usage(input_tokens=20, output_tokens=3))
    result = _run_claude(workdir, "say hi", {}, "--settings", str(settings_file))
    assert result["is_error"] is False, result
    assert result["result"] == "Done."
    asked = served["recorder"].models
    assert asked, "Claude Code sent nothing to the endpoint"
    names = {m.alias for m in served["settings"].models}
    assert set(asked) <= names, asked
    assert len(server.requests) == len(asked)  # nothing refused: every call reached Bedrock


def test_claude_codes_defaults_with_adaptive_thinking_and_a_tool_turn(
    local_aws, server, monkeypatch, tmp_path
):
    """No model pinned: Claude Code asks for its default (claude-opus-5-5) with adaptive thinking;
    the thinking block of the tool turn goes back to Bedrock with its signature."""
    from proxy_testkit import model_entry, project_settings

    table = f"ledger-{uuid.uuid4().hex[:8]}"
    create_ledger_table(boto3.client("dynamodb", region_name=REGION), table)
    doc = project_settings(
        [
            model_entry("claude-opus-5-5", arn=profile_arn("op")),
            model_entry("claude-haiku-5-5", arn=profile_arn("hk")),
        ],
        max_tokens_limit=16000,
        spend={"enforcement": "hard", "cap_usd": 50.0, "ledger_table": table},
    )
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    (tmp_path / "note.txt").write_text("the colour is teal\n", encoding="utf-8")
    server.reset(usage=Usage(input_tokens=30, output_tokens=5))
    server.enqueue(
        Reply.tool_use(
            "Read",
            {"file_path": str(tmp_path / "note.txt")},
            tool_use_id="toolu_r2",
            thinking="I should read it",
        ),
        Reply.ok("The colour is teal."),
    )
    with serve_app(gateway_from_environment(MemoryAuthenticator())) as url:
        env = {
            "ANTHROPIC_BASE_URL": url,
            "ANTHROPIC_AUTH_TOKEN": KEY,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        result = _run_claude(tmp_path, "What colour does note.txt name?", env)
    assert result["is_error"] is False and result["result"] == "The colour is teal.", result
    calls = server.requests
    assert calls[0].model_id == calls[1].model_id == profile_arn("op")  # its default, claude-opus-5-5
    first, second = calls[0].body, calls[1].body
    assert first["additionalModelRequestFields"]["thinking"] == {"type": "adaptive"}  # passed on
    assert first["inferenceConfig"]["maxTokens"] == 16000  # 128000 clamped
    turn = second["messages"][1]["content"]
    assert turn[0]["reasoningContent"]["reasoningText"]["text"] == "I should read it"
    assert turn[0]["reasoningContent"]["reasoningText"]["signature"]
    assert any("toolUse" in block for block in turn)
