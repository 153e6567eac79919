"""First-call work done at init (priming), and SnapStart runtime hooks so nothing stale is restored.

Priming runs one complete request through the real path (request validation, message conversion,
LiteLLM's Converse transformation, SigV4 signing, response parsing, pricing) against a canned
Converse answer served by our own HTTP handler: no network call, no credentials looked up (static
dummy keys are passed), nothing left behind in LiteLLM's caches. That takes the lazy imports, the
tokenizer load and pydantic's first validations out of the first invocation, and with SnapStart
into the snapshot.

Hooks (Lambda's `snapshot_restore_py`, Python 3.12+ with SnapStart; absent elsewhere):
before the snapshot, pooled connections are closed and cached credentials dropped; after each
restore, the same again (a restored environment must resolve its own credentials and open its own
connections), and the `random` module is reseeded so restored copies do not share a sequence.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from claude_platform.function_settings import ModelSettings
from claude_platform.prices import cost_usd
from claude_proxy import capabilities
from claude_proxy.converse_messages import call_fields, to_litellm_messages
from claude_proxy.core import LlmCall
from claude_proxy.llm import LiteLLMClient, forget_credentials
from claude_proxy.request import parse_request

PRIME_ENV = "CLAUDE_PROXY_PRIME"  # "1" / "0" force priming at init on / off
# Init types where init is done ahead of the first request, so priming is free for callers.
PRIMED_INIT_TYPES = frozenset({"snap-start", "provisioned-concurrency"})
_PRIME_ARN = "arn:aws:bedrock:us-east-1:000000000000:application-inference-profile/prime"
_PRIME_EVENT: dict[str, Any] = {
    "system": [{"type": "text", "text": "Prime.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Use the tool.", "signature": "c2ln"},
                {"type": "tool_use", "id": "tu_prime", "name": "get_weather", "input": {"city": "x"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_prime", "content": "sunny"}]},
    ],
    "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {}}}}],
    "max_tokens": 2048,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "tags": {"prime": "1"},
}
_PRIME_ANSWER = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Done.", "signature": "c2ln"}}},
                {"text": "Sunny."},
            ],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
    "metrics": {"latencyMs": 1},
}


def prime(llm: LiteLLMClient, model: ModelSettings | None = None) -> float:
    """Run one request end to end without the network; returns the seconds it took."""
    started = time.perf_counter()
    capabilities.prime()
    request = parse_request(_PRIME_EVENT)
    _ = request.input_token_bound
    litellm_model = model.litellm_model if model else "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    call = LlmCall(
        litellm_model=litellm_model,
        profile_arn=_PRIME_ARN,
        messages=to_litellm_messages(request),
        max_tokens=2048,
        temperature=None,
        request_metadata=dict(request.tags),
        region="us-east-1",
        endpoint="https://bedrock-runtime.us-east-1.amazonaws.com",
        timeout_s=5.0,
        **call_fields(request),
    )
    try:
        result = llm.complete_offline(call, json.dumps(_PRIME_ANSWER).encode())
        if model is not None:
            cost_usd(model.prices, result.usage)
    finally:
        llm.http.reset()
        forget_credentials()
    return time.perf_counter() - started


def _before_snapshot(llm: LiteLLMClient, resets: tuple[Callable[[], Any], ...]) -> None:
    llm.http.reset()
    forget_credentials()
    for reset in resets:
        reset()


def _after_restore(llm: LiteLLMClient, resets: tuple[Callable[[], Any], ...]) -> None:
    random.seed()
    llm.http.reset()
    forget_credentials()
    for reset in resets:
        reset()


def register_hooks(
    llm: LiteLLMClient,
    register: tuple[Callable[..., Any], Callable[..., Any]] | None = None,
    resets: tuple[Callable[[], Any], ...] = (),
) -> bool:
    """Register the SnapStart hooks (if the runtime has them); returns whether they were registered.

    `resets` are called by both hooks too: e.g. dropping cached boto3 clients (their connections and
    credentials), so a restored copy builds its own on first use.
    """
    if register is None:
        try:
            from snapshot_restore_py import register_after_restore, register_before_snapshot
        except ImportError:
            return False
        register = (register_before_snapshot, register_after_restore)
    before, after = register
    before(_before_snapshot, llm, resets)
    after(_after_restore, llm, resets)
    return True


def should_prime(environ: Mapping[str, str]) -> bool:
    """CLAUDE_PROXY_PRIME if set; else only where init happens before any request waits for it.

    With SnapStart (or provisioned concurrency) init runs ahead of traffic, so priming is free. On an
    on-demand cold start the caller waits for init and the first call together, and priming also
    loads paths (documents, tools, thinking) the first request may not use: there it is left off.
    """
    forced = environ.get(PRIME_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    return environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "") in PRIMED_INIT_TYPES


def init(
    llm: LiteLLMClient, model: ModelSettings | None = None, resets: tuple[Callable[[], Any], ...] = ()
) -> dict[str, Any]:
    """At module init: load the model map (every call needs it), prime (see should_prime), register hooks."""
    capabilities.prime()
    primed_s = prime(llm, model) if should_prime(os.environ) else None
    return {"primed_s": primed_s, "hooks": register_hooks(llm, resets=resets)}
