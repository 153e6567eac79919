"""Messages API bodies as clients send them (Claude Code 2.1.x, the Anthropic SDKs) -> what `parse_request` takes.

One normalization step on the HTTP path, before the one request model validates the body. What it
passes on, changes or drops is listed in RULES, and docs/clients.md carries that list as a table
(tests/lambda/test_web_compat.py keeps them equal). Anything not listed reaches `parse_request`
unchanged, which refuses an unknown field by name. What was changed is kept in
`ctx.extra["adjusted"]` (field names and numbers only, never prompt text) for the log line and the
`x-claude-proxy-adjusted` response header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claude_platform.function_settings import ModelSettings
from claude_proxy.capabilities import ModelCapabilities, capabilities_for
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.model_names import ModelNames
from claude_proxy.request import MIN_THINKING_BUDGET
from claude_proxy.web.gateway import RequestContext

ADJUSTED_HEADER = "x-claude-proxy-adjusted"


@dataclass(frozen=True)
class Rule:
    """One documented normalization: the field, what happens to it, and why."""

    field: str
    action: str  # "mapped", "passed on", "changed" or "dropped"
    why: str


RULES: tuple[Rule, ...] = (
    Rule(
        "model",
        "mapped",
        "any name of a project model (alias, Bedrock base or inference id, Anthropic API name) or a "
        "`gateway.model_aliases` name becomes the project model; any other model is refused with the "
        "list of the project's models",
    ),
    Rule("stream", "passed on", "`true` answers with Server-Sent Events"),
    Rule(
        "max_tokens",
        "changed",
        "above the project's `max_tokens_limit` it is lowered to the limit, so the reservation stays "
        "bounded (Claude Code asks for up to 128000)",
    ),
    Rule(
        "thinking.budget_tokens",
        "changed",
        "when `max_tokens` was lowered to or below it, it becomes `max_tokens - 1`; below Bedrock's "
        f"minimum of {MIN_THINKING_BUDGET} thinking is turned off",
    ),
    Rule(
        'thinking {"type": "adaptive"}',
        "changed",
        "for a model without adaptive thinking (a client's default mapped to an older model) thinking "
        "is turned off",
    ),
    Rule(
        'thinking {"type": "enabled"}',
        "changed",
        "for a model that takes only adaptive thinking it becomes adaptive (within the same `max_tokens`)",
    ),
    Rule(
        "thinking.display",
        "dropped",
        "Bedrock has no display option: thinking comes back as Bedrock returns it (billed the same)",
    ),
    Rule(
        'messages[] with role "system"',
        "changed",
        "moved, in order, to the end of `system` (Bedrock has no system turns)",
    ),
    Rule("metadata", "dropped", "Bedrock has no metadata; the caller is identified by its API key"),
    Rule(
        "context_management",
        "dropped",
        "not passed to Bedrock by this function: no context edits are made (the full context is "
        "sent and billed, as the client sent it)",
    ),
    Rule(
        "output_config",
        "dropped",
        "`effort` is not passed to Bedrock by this function: the model's default effort applies, "
        "within the same `max_tokens`",
    ),
    Rule("service_tier", "dropped", "Bedrock has no service tier on this path"),
    Rule(
        "tools[].defer_loading, tools[].eager_input_streaming, tools[].type: custom",
        "dropped",
        "Anthropic-API options Converse does not take: every tool is sent as a plain tool",
    ),
    Rule(
        "tools[] with another type (server tools)",
        "dropped",
        "Anthropic-run tools (web search, code execution, tool search) do not exist on Bedrock",
    ),
    Rule(
        "tool_choice.disable_parallel_tool_use",
        "dropped",
        "Converse has no such option: the model may call several tools at once",
    ),
    Rule(
        "cache_control (other keys than type and ttl)",
        "dropped",
        "Bedrock cache points take a TTL only",
    ),
    Rule("content[].citations: null", "dropped", "an empty field Claude Code echoes from earlier answers"),
    Rule(
        "anthropic-beta header, ?beta=true",
        "dropped",
        "betas are not passed to Bedrock; a request that needs one (e.g. a 1M-token context) is "
        "answered as Bedrock answers it without",
    ),
)

_DROPPED_TOP_LEVEL = ("metadata", "context_management", "output_config", "service_tier")
_DROPPED_TOOL_KEYS = ("defer_loading", "eager_input_streaming")
_CACHE_KEYS = ("type", "ttl")


def rules_table() -> str:
    """RULES as the Markdown table docs/clients.md carries."""
    lines = ["| Field | What happens | Why |", "|---|---|---|"]
    for rule in RULES:
        lines.append(f"| `{rule.field}` | {rule.action} | {rule.why} |")
    return "\n".join(lines)


class _Changes:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, item: str) -> None:
        if item not in self.items:
            self.items.append(item)


def _clean_cache_control(block: Any, changes: _Changes) -> Any:
    if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
        control = block["cache_control"]
        extra = [k for k in control if k not in _CACHE_KEYS]
        if extra:
            changes.add("cache_control." + ",".join(sorted(extra)))
            block = {**block, "cache_control": {k: v for k, v in control.items() if k in _CACHE_KEYS}}
    return block


def _clean_block(block: Any, changes: _Changes) -> Any:
    if not isinstance(block, dict):
        return block
    if "citations" in block and not block["citations"]:
        block = {k: v for k, v in block.items() if k != "citations"}
        changes.add("content.citations")
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        block = {**block, "content": [_clean_block(b, changes) for b in block["content"]]}
    return _clean_cache_control(block, changes)


def _system_blocks(system: Any) -> list[Any]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"type": "text", "text": system}] if system.strip() else []
    return list(system) if isinstance(system, list) else [system]


def _messages(body: dict[str, Any], changes: _Changes) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    kept: list[Any] = []
    moved: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "system":
            moved.extend(_system_blocks(message.get("content")))
            continue
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            kept.append({**message, "content": [_clean_block(b, changes) for b in message["content"]]})
        else:
            kept.append(message)
    if moved:
        changes.add("messages.role=system->system")
        body["system"] = _system_blocks(body.get("system")) + moved
    if isinstance(body.get("system"), list):
        body["system"] = [_clean_block(b, changes) for b in body["system"]]
    body["messages"] = kept


def _tools(body: dict[str, Any], changes: _Changes) -> None:
    tools = body.get("tools")
    if isinstance(tools, list):
        out = []
        for tool in tools:
            if not isinstance(tool, dict):
                out.append(tool)
                continue
            kind = tool.get("type")
            if kind is not None and kind != "custom":
                changes.add(f"tools.{kind}")
                continue
            for key in (*_DROPPED_TOOL_KEYS, "type"):
                if key in tool:
                    changes.add(f"tools.{key}")
            plain = {k: v for k, v in tool.items() if k not in (*_DROPPED_TOOL_KEYS, "type")}
            out.append(_clean_cache_control(plain, changes))
        if out:
            body["tools"] = out
        else:
            body.pop("tools")
            if isinstance(body.get("tool_choice"), dict) and body["tool_choice"].get("type") in (
                "auto",
                "none",
            ):
                body.pop("tool_choice")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and "disable_parallel_tool_use" in choice:
        body["tool_choice"] = {k: v for k, v in choice.items() if k != "disable_parallel_tool_use"}
        changes.add("tool_choice.disable_parallel_tool_use")


def _thinking(body: dict[str, Any], caps: ModelCapabilities, limit: int, changes: _Changes) -> None:
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > limit:
        body["max_tokens"] = max_tokens = limit
        changes.add(f"max_tokens={limit}")
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return
    if "display" in thinking:
        thinking = {k: v for k, v in thinking.items() if k != "display"}
        changes.add("thinking.display")
    kind = thinking.get("type")
    if kind == "adaptive" and not caps.adaptive_thinking:
        body.pop("thinking")
        changes.add("thinking=off")
        return
    if kind == "enabled" and not caps.budget_thinking and caps.adaptive_thinking:
        thinking = {"type": "adaptive"}
        changes.add("thinking=adaptive")
    budget = thinking.get("budget_tokens")
    if kind == "enabled" and isinstance(budget, int) and isinstance(max_tokens, int) and budget >= max_tokens:
        if max_tokens - 1 < MIN_THINKING_BUDGET:
            body.pop("thinking")
            changes.add("thinking=off")
            return
        thinking = {**thinking, "budget_tokens": max_tokens - 1}
        changes.add(f"thinking.budget_tokens={max_tokens - 1}")
    body["thinking"] = thinking


def resolve_model(body: dict[str, Any], ctx: RequestContext) -> ModelSettings:
    """The project model the body's `model` means; the body's `model` becomes its alias."""
    name = body.get("model")
    if name is not None and not isinstance(name, str):
        raise ProxyError(ErrorType.INVALID_REQUEST, "model: must be a string")
    model = ModelNames(ctx.settings.project).resolve(name)
    ctx.extra["requested_model"] = name or model.alias
    body["model"] = model.alias
    return model


def normalize_messages(body: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """A Messages API body as `parse_request` takes it (a Gateway normalizer); see RULES."""
    body = dict(body)
    changes = _Changes()
    model = resolve_model(body, ctx)
    for name in _DROPPED_TOP_LEVEL:
        if name in body:
            body.pop(name)
            changes.add(name)
    _messages(body, changes)
    _tools(body, changes)
    caps = capabilities_for(model.litellm_model, model.base_id)
    _thinking(body, caps, ctx.settings.project.max_tokens_limit, changes)
    if changes.items:
        ctx.extra.setdefault("adjusted", []).extend(changes.items)
    return body


def adjusted_header(ctx: RequestContext) -> dict[str, str]:
    """`x-claude-proxy-adjusted: <what normalization changed>` when it changed anything."""
    items = ctx.extra.get("adjusted") or []
    return {ADJUSTED_HEADER: "; ".join(items)[:1024]} if items else {}
