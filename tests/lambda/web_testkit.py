"""The web app under a real uvicorn server on 127.0.0.1, with an in-memory key store (tests only)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn
from claude_proxy.auth import Caller
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.web.app import create_app
from claude_proxy.web.gateway import Gateway

KEY = "cpk_test_" + "a" * 43
KEY_NAME = "ci-bot"


class MemoryAuthenticator:
    """Keys in a dict; `Authorization: Bearer <key>` or `x-api-key: <key>`."""

    def __init__(self, keys: Mapping[str, str] | None = None) -> None:
        self.keys = dict(keys if keys is not None else {KEY: KEY_NAME})
        self.calls = 0

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a known key; authentication_failed otherwise."""
        self.calls += 1
        key = headers.get("x-api-key") or ""
        bearer = headers.get("authorization") or ""
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        name = self.keys.get(key)
        if name is None:
            raise ProxyError(ErrorType.AUTHENTICATION_FAILED, "unknown or missing API key", retryable=False)
        return Caller(key_name=name, key_id=key[-6:])


@contextmanager
def serve_app(gateway: Gateway, **app_kwargs: Any) -> Iterator[str]:
    """Run the app under uvicorn on an ephemeral port; yields the base URL."""
    app = create_app(gateway, **app_kwargs)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
