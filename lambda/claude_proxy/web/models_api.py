"""`GET /v1/models` (the project's models), `GET /v1/models/{id}` and `POST /v1/messages/count_tokens` (an upper bound).

`/v1/models` answers in the Anthropic list shape when the request has an `anthropic-version` header
(the Anthropic SDKs and Claude Code send it) and in the OpenAI list shape otherwise. Ids are the
project's model aliases; every other accepted name is in docs/clients.md.

`count_tokens` answers Bedrock's own count (CountTokens, free of charge) where Bedrock counts the
model in the function's region, and otherwise the request's `input_token_bound`: the upper bound the
ledger reserves for, never below what Bedrock will count. The `x-claude-proxy-token-count` header
says which (`exact` or `upper-bound`). Nothing is charged either way (claude_proxy.token_count).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from claude_platform.function_settings import ModelSettings
from claude_proxy.model_names import ModelNames, anthropic_api_names
from claude_proxy.observability import logger
from claude_proxy.web.anthropic_api import read_json, take_stream_flag
from claude_proxy.web.app import GatewayRef, anthropic_error, endpoint
from claude_proxy.web.gateway import Gateway, RequestContext

MODELS_PATH = "/v1/models"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
COUNT_KIND_HEADER = "x-claude-proxy-token-count"
_DATED = re.compile(r"-(\d{4})(\d{2})(\d{2})$")


def released(model: ModelSettings) -> datetime:
    """The model's date from its dated Anthropic name (the epoch when it has none)."""
    for name in anthropic_api_names(model.base_id):
        if match := _DATED.search(name):
            return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def anthropic_list(models: list[ModelSettings]) -> dict[str, Any]:
    """Anthropic's `GET /v1/models` shape."""
    data = [
        {
            "type": "model",
            "id": m.alias,
            "display_name": m.alias,
            "created_at": released(m).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def openai_list(models: list[ModelSettings], project: str) -> dict[str, Any]:
    """OpenAI's `GET /v1/models` shape."""
    return {
        "object": "list",
        "data": [
            {"id": m.alias, "object": "model", "created": int(released(m).timestamp()), "owned_by": project}
            for m in models
        ],
    }


async def list_models(request: Request, gateway: Gateway, ctx: RequestContext) -> Response:
    """GET /v1/models."""
    project = ctx.settings.project
    models = list(project.models)
    if "anthropic-version" in ctx.headers:
        return JSONResponse(anthropic_list(models), headers={"request-id": ctx.request_id})
    return JSONResponse(openai_list(models, project.project), headers={"x-request-id": ctx.request_id})


async def get_model(request: Request, gateway: Gateway, ctx: RequestContext) -> Response:
    """GET /v1/models/{model_id}: the project model any accepted name means (404 listing them otherwise)."""
    project = ctx.settings.project
    model = ModelNames(project).resolve(request.path_params["model_id"])
    if "anthropic-version" in ctx.headers:
        return JSONResponse(anthropic_list([model])["data"][0], headers={"request-id": ctx.request_id})
    return JSONResponse(
        openai_list([model], project.project)["data"][0], headers={"x-request-id": ctx.request_id}
    )


async def count_tokens(request: Request, gateway: Gateway, ctx: RequestContext) -> Response:
    """POST /v1/messages/count_tokens: `{"input_tokens": <upper bound>}`."""
    body, _ = take_stream_flag(await read_json(request))
    claude_request = gateway.parse(body, ctx)
    project = ctx.settings.project
    model = ModelNames(project).resolve(claude_request.model)
    max_tokens = claude_request.max_tokens or project.max_tokens_default
    counted = await run_in_threadpool(gateway.count_tokens, ctx.settings, claude_request, model, max_tokens)
    if counted.kind == "exact" and counted.input_tokens > claude_request.input_token_bound:
        # The ledger reserves from the bound: a count above it means the bound under-reserves.
        logger.warning(
            "token count above the reserved bound",
            extra={
                "model": model.alias,
                "counted": counted.input_tokens,
                "bound": claude_request.input_token_bound,
            },
        )
    headers = {"request-id": ctx.request_id, COUNT_KIND_HEADER: counted.kind}
    return JSONResponse({"input_tokens": counted.input_tokens}, headers=headers)


def routes(ref: GatewayRef) -> list[BaseRoute]:
    """The models and token-counting routes (errors in the Anthropic shape)."""
    return [
        Route(MODELS_PATH, endpoint(ref, list_models, anthropic_error), methods=["GET"]),
        Route(MODELS_PATH + "/{model_id:path}", endpoint(ref, get_model, anthropic_error), methods=["GET"]),
        Route(COUNT_TOKENS_PATH, endpoint(ref, count_tokens, anthropic_error), methods=["POST"]),
    ]
