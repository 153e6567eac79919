"""Input-token counts for `POST /v1/messages/count_tokens`: Bedrock's CountTokens where it can count,
the request's upper bound otherwise.

Bedrock's CountTokens (free of charge) takes a foundation model id, not the project's profile, and
is offered only in some regions and for some models: Claude models launched only through cross-region
inference are not counted there. The request is counted as the InvokeModel body of the same Messages
request. Any refusal or failure falls back to `input_token_bound` (never below what Bedrock counts),
and a model Bedrock refused to count is not asked again in this container.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from claude_platform.function_settings import ModelSettings
from claude_proxy.request import ClaudeRequest

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"  # InvokeModel's Messages body for Claude
# Errors after which this container stops asking CountTokens for the model (it will not count it).
NOT_COUNTABLE_ERRORS = frozenset(
    {"AccessDeniedException", "ValidationException", "ResourceNotFoundException"}
)
COUNT_CONNECT_TIMEOUT_S = 1.0
COUNT_READ_TIMEOUT_S = 3.0

CountKind = Literal["exact", "upper-bound"]


@dataclass(frozen=True)
class TokenCount:
    """An input-token count and how it was obtained (`reason` says why it is only a bound)."""

    input_tokens: int
    kind: CountKind
    reason: str | None = None


def invoke_model_body(request: ClaudeRequest, max_tokens: int) -> bytes:
    """The request as Bedrock's InvokeModel body for Claude (what CountTokens' `invokeModel` counts)."""
    body = request.model_dump(
        mode="json", exclude_none=True, exclude={"tags", "model", "max_tokens"}, warnings=False
    )
    body["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    body["max_tokens"] = max_tokens
    return json.dumps(body, ensure_ascii=False).encode()


@dataclass
class BedrockTokenCounter:
    """Counts through a bedrock-runtime client (boto3); falls back to the request's bound."""

    client: Any
    not_countable: set[str] = field(default_factory=set)

    def count(self, request: ClaudeRequest, model: ModelSettings, *, max_tokens: int) -> TokenCount:
        """The count for `request` on `model` (exact when Bedrock answers, the upper bound otherwise)."""
        bound = request.input_token_bound
        if model.base_id in self.not_countable:
            return TokenCount(bound, "upper-bound", "Bedrock does not count this model here")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.count_tokens(
                modelId=model.base_id,
                input={"invokeModel": {"body": invoke_model_body(request, max_tokens)}},
            )
            tokens = int(answer["inputTokens"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in NOT_COUNTABLE_ERRORS:
                self.not_countable.add(model.base_id)
            return TokenCount(bound, "upper-bound", f"CountTokens refused: {code or 'error'}")
        except (BotoCoreError, KeyError, TypeError, ValueError) as exc:
            return TokenCount(bound, "upper-bound", f"CountTokens failed: {type(exc).__name__}")
        return TokenCount(tokens, "exact")


def bedrock_token_counter(region: str) -> BedrockTokenCounter:
    """A counter over a bedrock-runtime client with short timeouts and one retry (endpoint from boto3's
    own resolution, AWS_ENDPOINT_URL_BEDROCK_RUNTIME)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=COUNT_CONNECT_TIMEOUT_S,
        read_timeout=COUNT_READ_TIMEOUT_S,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    client = boto3.session.Session().client("bedrock-runtime", region_name=region, config=config)
    return BedrockTokenCounter(client)
