"""Helpers for the claude_proxy tests: settings builders and fakes for the core's collaborators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from claude_platform import catalog
from claude_platform.catalog import ClaudeModel, Geography
from claude_platform.prices import ModelPrices

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENDPOINT_VARS = ("AWS_BEDROCK_RUNTIME_ENDPOINT", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL")


def profile_arn(suffix: str = "abc123def456") -> str:
    """An application inference profile ARN."""
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/{suffix}"


def model_entry(
    alias: str = "claude-sonnet-4-5",
    geography: Geography = Geography.US,
    *,
    arn: str | None = None,
    prices: ModelPrices | None = None,
) -> dict[str, Any]:
    """One PROJECT_SETTINGS `models` entry built from the catalog."""
    model: ClaudeModel = catalog.resolve_model(alias)
    return {
        "alias": model.alias,
        "base_id": model.base_id,
        "geography": geography.value,
        "litellm_model": model.litellm_model(geography),
        "profile_arn": arn or profile_arn(),
        "prices": (prices or catalog.model_prices(model, geography)).to_dict(),
    }


def project_settings(models: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A PROJECT_SETTINGS document."""
    models = models or [model_entry()]
    doc = {
        "project": "alpha",
        "default_model": models[0]["alias"],
        "max_tokens_default": 1024,
        "max_tokens_limit": 8192,
        "log_prompts": False,
        "models": models,
        "spend": {"enforcement": "off", "cap_usd": 100.0},
    }
    doc.update(overrides)
    return doc


@dataclass
class FakeClock:
    """Monotonic time that only moves when told; records sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Deadline:
    """remaining_ms driven by a FakeClock: `budget_ms` from the clock's start."""

    clock: FakeClock
    budget_ms: int
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock.now

    def __call__(self) -> int:
        return int(self.budget_ms - (self.clock.now - self.start) * 1000)


class MaxRng:
    """Jitter source returning the upper bound (worst-case sleeps); records the ranges asked for."""

    def __init__(self, fraction: float = 1.0) -> None:
        self.fraction = fraction
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        return a + (b - a) * self.fraction


@dataclass
class FakeContext:
    """The Lambda context parts the handler uses."""

    aws_request_id: str = "11111111-2222-3333-4444-555555555555"
    remaining_ms: int = 30_000
    function_name: str = "claude-proxy-alpha"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def stdout_json_lines(text: str) -> list[dict[str, Any]]:
    """JSON objects printed one per line (logs and EMF)."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


class FakeLlm:
    """Scripted LlmClient: each call pops the next outcome (LlmResult or LlmError); records calls."""

    def __init__(self, *outcomes: Any, clock: FakeClock | None = None, call_seconds: float = 0.0) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Any] = []
        self.clock = clock
        self.call_seconds = call_seconds

    def complete(self, call: Any) -> Any:
        self.calls.append(call)
        if self.clock is not None:
            self.clock.now += self.call_seconds
        outcome = self.outcomes.pop(0) if self.outcomes else self.default()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @staticmethod
    def default() -> Any:
        from claude_proxy.core import LlmResult

        from claude_platform.prices import TokenUsage

        return LlmResult(
            text="ok", stop_reason="stop", usage=TokenUsage(10, 5, 0, 0), upstream_request_id="up-1"
        )


class RecordingLedger:
    """SpendLedger that records reserve/settle/release; may refuse."""

    def __init__(self, refuse: Exception | None = None, refuse_after: int | None = None) -> None:
        self.refuse = refuse
        self.refuse_after = refuse_after  # refuse from this reservation on (0-based)
        self.events: list[tuple[str, Any]] = []
        self.reservations = 0

    def reserve(
        self, *, model: str, request_id: str, amount_usd: float, remaining_ms: Any = None, **limits: Any
    ) -> str:
        self.events.append(("reserve", {"model": model, "amount_usd": amount_usd}))
        refuse_now = self.refuse_after is None or self.reservations >= self.refuse_after
        if self.refuse is not None and refuse_now:
            raise self.refuse
        self.reservations += 1
        return f"res-{request_id}-{self.reservations}"

    def settle(self, reservation: str, *, amount_usd: float, usage: Any, estimated: bool) -> dict[str, Any]:
        self.events.append(("settle", {"id": reservation, "amount_usd": amount_usd, "estimated": estimated}))
        return {"period": "2026-11", "enforcement": "test"}

    def release(self, reservation: str) -> None:
        self.events.append(("release", {"id": reservation}))

    def status(self) -> dict[str, Any]:
        return {"period": "2026-11", "enforcement": "test"}


class Now:
    """A settable wall clock for the ledger adapter (`now()`)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class Publisher:
    """Records alert messages; the first `fail` publishes raise as SNS being down would."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.sent: list[tuple[str, str]] = []

    def publish(self, *, subject: str, message: str) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("SNS is down")
        self.sent.append((subject, message))


@contextmanager
def moto_ledger_table(name: str = "ledger") -> Iterator[Any]:
    """A LedgerTable on moto's in-process DynamoDB (set test credentials first)."""
    import boto3
    from moto import mock_aws

    from claude_platform.ledger import LedgerTable
    from devservers.aws_server import create_ledger_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client, name)
        yield LedgerTable(client, name)
