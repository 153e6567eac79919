"""Messages API bodies as Claude Code and the SDKs send them -> what parse_request takes (web.compat)."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from claude_proxy.auth import Caller
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.request import ThinkingAdaptive, ThinkingEnabled, parse_request
from claude_proxy.settings import Settings
from claude_proxy.web.compat import RULES, adjusted_header, normalize_messages, rules_table
from claude_proxy.web.gateway import RequestContext
from proxy_testkit import model_entry, profile_arn, project_settings

from claude_platform.function_settings import FunctionSettings

ROOT = Path(__file__).resolve().parents[2]
CAPTURED = json.loads((Path(__file__).parent / "data" / "claude_code_2_1_332_request.json").read_text())


def _ctx(*aliases: str, limit: int = 8192, **overrides: Any) -> RequestContext:
    models = [
        model_entry(a, arn=profile_arn(f"p{i}")) for i, a in enumerate(aliases or ("claude-sonnet-4-5",))
    ]
    doc = project_settings(models, max_tokens_limit=limit, **overrides)
    settings = Settings(project=FunctionSettings.model_validate(doc), region="us-east-1")
    return RequestContext(
        request_id="r1",
        headers={},
        query={},
        path="/v1/messages",
        settings=settings,
        caller=Caller("ci-bot", "abc"),
        deadline=time.monotonic() + 60,
    )


def _parse(body: dict[str, Any], ctx: RequestContext):
    body = {k: v for k, v in body.items() if k != "stream"}
    return parse_request(normalize_messages(body, ctx))


def test_the_captured_claude_code_request_is_served() -> None:
    """What Claude Code 2.1.332 sent (captured from the installed binary) is accepted, as documented."""
    body = CAPTURED["body"]
    assert body["model"] == "claude-opus-5-5" and body["max_tokens"] == 128000  # what it sends
    assert any(m["role"] == "system" for m in body["messages"])
    with pytest.raises(ProxyError):
        parse_request({k: v for k, v in body.items() if k != "stream"})  # refused without normalization
    ctx = _ctx("claude-opus-5-5", limit=16000)
    request = _parse(body, ctx)
    assert request.model == "claude-opus-5-5"
    assert request.max_tokens == 16000  # clamped to the project's limit
    assert isinstance(request.thinking, ThinkingAdaptive)
    assert [t.name for t in request.tools] == [t["name"] for t in body["tools"]]  # every tool sent
    system_texts = [b.text for b in request.system_blocks]
    moved = next(m for m in body["messages"] if m["role"] == "system")["content"][0]["text"]
    assert system_texts[-1] == moved  # the system turn went to the end of `system`
    assert all(m.role in ("user", "assistant") for m in request.messages)
    adjusted = ctx.extra["adjusted"]
    for item in ("max_tokens=16000", "metadata", "context_management", "output_config", "thinking.display"):
        assert item in adjusted
    assert ctx.extra["requested_model"] == "claude-opus-5-5"
    assert "max_tokens=16000" in adjusted_header(ctx)["x-claude-proxy-adjusted"]
    assert "placeholder" not in adjusted_header(ctx)["x-claude-proxy-adjusted"]  # no prompt text


def test_claude_codes_default_model_is_mapped_or_refused_with_the_projects_models() -> None:
    body = copy.deepcopy(CAPTURED["body"])
    mapped = _ctx("claude-sonnet-4-5", gateway={"model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5"}})
    request = _parse(body, mapped)
    assert request.model == "claude-sonnet-4-5"
    # Sonnet 4.5 has no adaptive thinking: turned off rather than refused
    assert request.thinking is None and "thinking=off" in mapped.extra["adjusted"]
    with pytest.raises(ProxyError) as info:
        _parse(body, _ctx("claude-sonnet-4-5"))
    assert info.value.error_type is ErrorType.MODEL_NOT_ALLOWED
    assert "claude-sonnet-4-5 (also claude-sonnet-4-5-20250929" in info.value.message


def test_thinking_budget_stays_below_a_clamped_max_tokens() -> None:
    """With ANTHROPIC_MODEL=claude-sonnet-4-5 Claude Code sends max_tokens 32000 and a budget of 31999."""
    body = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "messages": [{"role": "user", "content": "hi"}],
    }
    ctx = _ctx("claude-sonnet-4-5", limit=8192)
    request = _parse(body, ctx)
    assert request.max_tokens == 8192
    assert isinstance(request.thinking, ThinkingEnabled) and request.thinking.budget_tokens == 8191
    # a budget already below the clamped max_tokens is left alone
    small = {**body, "thinking": {"type": "enabled", "budget_tokens": 2000}}
    assert _parse(small, _ctx("claude-sonnet-4-5", limit=8192)).thinking.budget_tokens == 2000
    # a limit that leaves no room for Bedrock's minimum budget turns thinking off
    tiny = _ctx("claude-sonnet-4-5", limit=1024)
    assert _parse(body, tiny).thinking is None and "thinking=off" in tiny.extra["adjusted"]
    # within the limit nothing changes
    within = _ctx("claude-sonnet-4-5", limit=64000)
    assert _parse(body, within).max_tokens == 32000 and "adjusted" not in within.extra


def test_budget_thinking_becomes_adaptive_for_a_model_that_takes_only_adaptive() -> None:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": "hi"}],
    }
    request = _parse(body, _ctx("claude-opus-5-5"))
    assert isinstance(request.thinking, ThinkingAdaptive)


def test_tools_options_and_server_tools_are_dropped_and_the_rest_kept() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "citations": None}]},
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "run",
                "input_schema": schema,
                "cache_control": {"type": "ephemeral"},
            },
            {
                "name": "Later",
                "description": "d",
                "input_schema": schema,
                "defer_loading": True,
                "type": "custom",
            },
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "service_tier": "auto",
    }
    ctx = _ctx("claude-sonnet-4-5")
    request = _parse(body, ctx)
    assert [t.name for t in request.tools] == ["Bash", "Later"]
    assert request.tools[0].cache_control is not None
    assert request.tool_choice.type == "auto"
    for item in (
        "tools.web_search_20250305",
        "tools.defer_loading",
        "tools.type",
        "tool_choice.disable_parallel_tool_use",
        "service_tier",
        "content.citations",
    ):
        assert item in ctx.extra["adjusted"], item


def test_unlisted_fields_still_reach_parse_request_and_are_refused_by_name() -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(ProxyError) as info:
        _parse({**body, "frequency_penalty": 1}, _ctx())
    assert "frequency_penalty: unknown field" in info.value.message
    with pytest.raises(ProxyError) as info:
        _parse({**body, "model": 5}, _ctx())
    assert info.value.message == "model: must be a string"


def test_the_docs_table_is_the_code_s_list() -> None:
    doc = (ROOT / "docs" / "clients.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- compat-rules:start -->\n(.*?)\n<!-- compat-rules:end -->", doc, re.S)
    assert match, "docs/clients.md lacks the compat-rules table"
    assert match.group(1).strip() == rules_table()
    # every top-level field the rules drop is one Claude Code sends or the SDKs document
    dropped = {r.field for r in RULES if r.action == "dropped"}
    for name in ("metadata", "context_management", "output_config", "thinking.display"):
        assert name in dropped
