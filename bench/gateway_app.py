"""The deployed web app's wiring with a one-key in-memory key store, for bench/bench_gateway.py only.

uvicorn serves `gateway_app:app` exactly as run.sh serves `claude_proxy.web.app:app`, except that the
key store accepts the one key in BENCH_GATEWAY_KEY (the real key store is DynamoDB-backed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from claude_proxy.auth import Caller
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.web.app import create_app
from claude_proxy.web.runtime import gateway_from_environment


class OneKey:
    """Accepts BENCH_GATEWAY_KEY as x-api-key or Bearer token."""

    def __init__(self, key: str) -> None:
        self._key = key

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The bench caller, or authentication_failed."""
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if not self._key or given != self._key:
            raise ProxyError(ErrorType.AUTHENTICATION_FAILED, "unknown key", retryable=False)
        return Caller(key_name="bench", key_id="bench")


app = create_app(lambda: gateway_from_environment(OneKey(os.environ.get("BENCH_GATEWAY_KEY", ""))))
