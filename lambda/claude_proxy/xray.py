"""AWS X-Ray active tracing (Powertools Tracer): subsegments for the ledger, each Bedrock attempt and
the trace flush, so a slow call shows where its time went.

Imported only when the project sets `tracing.xray` (the handler imports it lazily). The core is not
touched: its collaborators (LLM client, spend ledger) are wrapped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Tracer

from claude_proxy.core import InvokeResult, LlmCall, LlmClient, LlmError, LlmResult, SpendLedger

NAMESPACE = "claude_proxy"


class XRay:
    """Subsegments and annotations on the function's X-Ray trace (no-op outside Lambda)."""

    def __init__(self, service: str) -> None:
        # No auto-patching: explicit subsegments only, so the cold start imports no patchers.
        self.tracer = Tracer(service=service, auto_patch=False)

    @contextlib.contextmanager
    def subsegment(self, name: str, **annotations: str | int | float | bool) -> Iterator[Any]:
        """A subsegment named `name` (annotations are indexed, searchable in X-Ray)."""
        with self.tracer.provider.in_subsegment(name=name) as sub:
            for key, value in annotations.items():
                sub.put_annotation(key=key, value=value)
            yield sub

    def annotate(self, sub: Any, result: InvokeResult) -> None:
        """Outcome of the invocation on its subsegment."""
        sub.put_annotation(key="project", value=result.project or "unknown")
        sub.put_annotation(key="model", value=result.model or "unknown")
        sub.put_annotation(key="ok", value=result.ok)
        sub.put_metadata(key="attempts", value=result.attempts, namespace=NAMESPACE)
        if result.error is not None:
            sub.put_annotation(key="error_type", value=result.error.error_type.value)
        else:
            sub.put_metadata(key="cost_usd", value=result.cost_usd, namespace=NAMESPACE)

    def llm(self, inner: LlmClient) -> LlmClient:
        """The LLM client with one `bedrock` subsegment per attempt."""
        return _TracedLlm(self, inner)

    def ledger(self, inner: SpendLedger) -> SpendLedger:
        """The spend ledger with `ledger.reserve/settle/release` subsegments."""
        return _TracedLedger(self, inner)  # type: ignore[return-value]


class _TracedLlm:
    def __init__(self, xray: XRay, inner: LlmClient) -> None:
        self._xray = xray
        self._inner = inner

    def complete(self, call: LlmCall) -> LlmResult:
        with self._xray.subsegment("bedrock") as sub:
            sub.put_metadata(key="profile_arn", value=call.profile_arn, namespace=NAMESPACE)
            try:
                result = self._inner.complete(call)
            except LlmError as err:
                sub.put_annotation(key="error_type", value=err.error_type.value)
                raise
            sub.put_metadata(key="bedrock_request_id", value=result.upstream_request_id, namespace=NAMESPACE)
            return result


class _TracedLedger:
    """Every public ledger method in a `ledger.<method>` subsegment (whatever the ledger offers)."""

    def __init__(self, xray: XRay, inner: SpendLedger) -> None:
        self._xray = xray
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def traced(*args: Any, **kwargs: Any) -> Any:
            with self._xray.subsegment(f"ledger.{name}"):
                return attr(*args, **kwargs)

        return traced
