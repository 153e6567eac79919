"""The ASGI app: `create_app(gateway)` for tests, and `app` (uvicorn `claude_proxy.web.app:app`) for the function.

Routes come from the modules in ROUTE_MODULES (each has `routes(gateway_ref) -> list[BaseRoute]`),
so another API is one more module in that tuple. Every API route goes through `endpoint()`:
settings, authentication (before anything is reserved or sent), then the route's handler; errors come
back in the route's own error shape. `GET /healthz` (the Lambda Web Adapter's readiness check) needs
no key and touches nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.observability import logger
from claude_proxy.web.errors import anthropic_error_body, error_headers, http_error
from claude_proxy.web.gateway import Gateway, RequestContext

ROUTE_MODULES: tuple[str, ...] = (
    "claude_proxy.web.anthropic_api",
    "claude_proxy.web.openai_api",
    "claude_proxy.web.models_api",
)
HEALTH_PATH = "/healthz"

Handler = Callable[[Request, Gateway, RequestContext], Awaitable[Response]]
ErrorResponder = Callable[[ProxyError, str], Response]


class GatewayRef:
    """The app's Gateway, built on first use (the deployed app builds it from the environment)."""

    def __init__(self, gateway: Gateway | Callable[[], Gateway]) -> None:
        self._gateway = gateway if isinstance(gateway, Gateway) else None
        self._factory = None if isinstance(gateway, Gateway) else gateway
        self._lock = threading.Lock()

    def __call__(self) -> Gateway:
        """The gateway (built once)."""
        if self._gateway is None:
            with self._lock:
                if self._gateway is None:
                    assert self._factory is not None
                    self._gateway = self._factory()  # a failure is retried by the next request
        return self._gateway


def anthropic_error(error: ProxyError, request_id: str) -> Response:
    """An error in the Anthropic API's shape and status."""
    return JSONResponse(
        anthropic_error_body(error, request_id),
        status_code=http_error(error).status,
        headers=error_headers(error, request_id),
    )


def lower_headers(request: Request) -> dict[str, str]:
    """Request headers with lower-case names (the Authenticator contract)."""
    return {k.lower(): v for k, v in request.headers.items()}


def endpoint(ref: GatewayRef, handler: Handler, on_error: ErrorResponder = anthropic_error) -> Callable:
    """A Starlette endpoint: context (settings + caller), then `handler`; every failure as `on_error`."""

    async def run(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        gateway: Gateway | None = None
        try:
            gateway = ref()
            ctx = await run_in_threadpool(
                gateway.context,
                lower_headers(request),
                dict(request.query_params),
                request.url.path,
                request_id,
            )
        except ProxyError as err:
            if gateway is not None:
                await run_in_threadpool(gateway.recorder.refused, err, request_id)
            return on_error(err, request_id)
        except Exception:
            logger.exception("could not start the request", extra={"request_id": request_id})
            return on_error(_internal(request_id), request_id)
        try:
            return await handler(request, gateway, ctx)
        except ProxyError as err:
            return on_error(err, request_id)
        except Exception:
            logger.exception("unexpected error", extra={"request_id": request_id})
            return on_error(_internal(request_id), request_id)

    return run


def _internal(request_id: str) -> ProxyError:
    return ProxyError(ErrorType.INTERNAL_ERROR, f"internal error (request id {request_id})", retryable=False)


async def _health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods, in the Anthropic error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    kind = {404: "not_found_error", 405: "invalid_request_error"}.get(status, "api_error")
    request_id = str(uuid.uuid4())
    body = {
        "type": "error",
        "error": {"type": kind, "message": f"{request.method} {request.url.path}: no such route"},
        "request_id": request_id,
    }
    return JSONResponse(
        body, status_code=status, headers={"request-id": request_id, "x-should-retry": "false"}
    )


def create_app(
    gateway: Gateway | Callable[[], Gateway],
    *,
    route_modules: Iterable[str] = ROUTE_MODULES,
    extra_routes: Iterable[BaseRoute] = (),
    build_on_startup: bool = True,
) -> Starlette:
    """The ASGI app over `gateway` (or a factory that builds it on first use)."""
    ref = GatewayRef(gateway)
    routes: list[BaseRoute] = [Route(HEALTH_PATH, _health, methods=["GET"])]
    for name in route_modules:
        routes.extend(importlib.import_module(name).routes(ref))
    routes.extend(extra_routes)
    lifespan = _build_on_startup(ref) if build_on_startup else None
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=lifespan)
    app.state.gateway_ref = ref
    return app


def _build_on_startup(ref: GatewayRef) -> Callable[[Starlette], Any]:
    """Build the gateway (LiteLLM import, clients) while the server starts: in the function's init."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(ref)
        except Exception:
            logger.exception("could not build the gateway at startup (the first request retries)")
        yield

    return lifespan


def _deployed_gateway() -> Gateway:
    from claude_proxy.web.runtime import gateway_from_environment

    return gateway_from_environment()


def __getattr__(name: str) -> Any:
    """`app`: the deployed app, built on first access (tests import create_app without building it)."""
    if name == "app":
        deployed = create_app(_deployed_gateway)
        globals()["app"] = deployed
        return deployed
    raise AttributeError(name)
