"""Holds of their own per attempt (issue 13 item 1), repeated writes, cap-reached and alert takeover.

The core's real `invoke` with the real ProjectSpendLedger over moto; DynamoDB failures are injected
by a client wrapper around moto's, so each interleaving is exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from claude_proxy.core import BudgetExceededError, LlmError, RetryPolicy, invoke
from claude_proxy.errors import ErrorType
from claude_proxy.request import parse_request
from claude_proxy.settings import Settings
from claude_proxy.spend import ANSWER_ROOM_MS, LEDGER_TRY_MS, ProjectSpendLedger
from moto import mock_aws
from proxy_testkit import Deadline, FakeClock, MaxRng, Now, Publisher, model_entry, project_settings

from claude_platform.catalog import Geography
from claude_platform.function_settings import FunctionSettings
from claude_platform.ledger import LedgerTable, to_micro
from claude_platform.limits import FUNCTION_SAFETY_MARGIN_S
from claude_platform.prices import TokenUsage, cost_usd, worst_case_cost_usd
from devservers.aws_server import create_ledger_table

PERIOD = "2026-11"
POLICY = RetryPolicy(safety_margin_ms=1000, min_attempt_ms=500, speed=None)


def _throttled(operation: str) -> ClientError:
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class FlakyClient:
    """moto's DynamoDB client, with scripted failures per operation.

    `fail[op]`: that many next calls fail throttled without being applied; `lose[op]`: that many
    next calls are applied and then fail (the answer was lost); `conflict[op]`: cancelled by
    another transaction on the same item.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.fail: dict[str, int] = {}
        self.lose: dict[str, int] = {}
        self.conflict: dict[str, int] = {}
        self.calls: list[str] = []
        self.tokens: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            if "ClientRequestToken" in kwargs:
                self.tokens.append(kwargs["ClientRequestToken"])
            if self.fail.get(name):
                self.fail[name] -= 1
                raise _throttled(name)
            if self.conflict.get(name):
                self.conflict[name] -= 1
                reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}]
                raise ClientError(
                    {
                        "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                        "CancellationReasons": reasons,
                    },
                    name,
                )
            result = method(**kwargs)
            if self.lose.get(name):
                self.lose[name] -= 1
                raise _throttled(name)
            return result

        return call


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyClient]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client, "ledger")
        yield FlakyClient(client)


def make_ledger(
    client: Any, *, cap: float = 5.0, thresholds=(), publisher=None, now=None, prefix: str = "n", **kw: Any
) -> ProjectSpendLedger:
    nonces = (f"{prefix}{i}" for i in itertools.count(1))
    return ProjectSpendLedger(
        table=LedgerTable(client, "ledger"),
        project="alpha",
        hard=True,
        cap_usd=cap,
        thresholds=thresholds,
        publisher=publisher,
        now=now or Now(datetime(2026, 11, 15, 12, tzinfo=UTC)),
        log_warning=lambda msg, fields: None,
        new_nonce=lambda: next(nonces),
        sleep=lambda s: None,
        **kw,
    )


MODEL = model_entry("claude-haiku-4-5", Geography.US)
SETTINGS = Settings(project=FunctionSettings.model_validate(project_settings([MODEL])), region="us-east-1")
REQUEST = parse_request({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 50})
PRICES = SETTINGS.project.find_model("claude-haiku-4-5").prices  # type: ignore[union-attr]
WORST = to_micro(worst_case_cost_usd(PRICES, input_tokens=REQUEST.input_token_bound, max_output_tokens=50))
SMALL = TokenUsage(10, 20, 0, 0)


def timeout() -> LlmError:
    return LlmError(ErrorType.TIMEOUT, "timed out", retryable=True, outcome_unknown=True)


def run(ledger: ProjectSpendLedger, llm: Any, request_id: str = "req-1"):
    clock = FakeClock()
    return invoke(
        REQUEST,
        settings=SETTINGS,
        llm=llm,
        clock=clock,
        remaining_ms=Deadline(clock, 60_000),
        rng=MaxRng(0.0),
        request_id=request_id,
        ledger=ledger,
        policy=POLICY,
    )


def month(client: Any):
    return LedgerTable(client, "ledger").month("alpha", PERIOD, with_holds=True)


def charge_stale(client: Any) -> None:
    LedgerTable(client, "ledger").charge_stale_reservations(
        project="alpha", period=PERIOD, older_than_epoch=10**10, now_epoch=10**10
    )


def _ok():
    from claude_proxy.core import LlmResult

    return LlmResult(text="ok", stop_reason="end_turn", usage=SMALL, upstream_request_id="up")


class ScriptedLlm:
    """Attempt outcomes, with a hook run before each attempt answers (to break the ledger)."""

    def __init__(self, *steps: tuple[Any, Any]) -> None:
        self.steps = list(steps)
        self.calls = 0

    def complete(self, call: Any) -> Any:
        self.calls += 1
        outcome, hook = self.steps.pop(0)
        if hook is not None:
            hook()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_scenario_1_retry_after_a_failed_estimated_settle_settles_only_its_own_hold(flaky):
    ledger = make_ledger(flaky)

    def break_next_settle() -> None:  # the estimated settle after the timeout: throttled on every try
        flaky.fail["transact_write_items"] = 3

    result = run(ledger, ScriptedLlm((timeout(), break_next_settle), (_ok(), None)))
    assert result.ok is True and result.estimated_charge_usd > 0
    small = to_micro(cost_usd(PRICES, SMALL))
    state = month(flaky)
    assert [h.hold_id for h in state.open_reservations] == ["req-1#n1"]  # attempt 1's, still held
    assert (state.spent_micro, state.reserved_micro, state.estimated_micro) == (small, WORST, 0)
    charge_stale(flaky)
    state = month(flaky)
    assert (state.spent_micro, state.estimated_micro, state.requests) == (small + WORST, WORST, 2)
    assert state.reserved_micro == 0 and state.open_reservations == ()


def test_scenario_2_a_failed_retry_reserve_never_releases_the_first_attempts_hold(flaky):
    ledger = make_ledger(flaky)

    def break_settle_and_reserve() -> None:  # the settle's 3 tries, the retry's reserve's 3, its undo
        flaky.fail["transact_write_items"] = 7

    result = run(ledger, ScriptedLlm((timeout(), break_settle_and_reserve)))
    assert result.ok is False and "not retried" in result.error.message  # type: ignore[union-attr]
    state = month(flaky)
    assert [h.hold_id for h in state.open_reservations] == ["req-1#n1"]
    assert state.committed_micro == WORST  # Bedrock was called: its worst case stays counted
    charge_stale(flaky)
    state = month(flaky)
    assert (state.spent_micro, state.estimated_micro, state.committed_micro) == (WORST, WORST, WORST)


def test_scenario_3_lambda_retries_an_async_invocation_with_the_same_request_id(flaky):
    # Run 1 held its worst case and was killed before settling; Lambda runs the event again with
    # the same aws_request_id. Run 2 holds anew and settles its own hold: both generations count.
    killed = make_ledger(flaky)
    killed.reserve(model="claude-haiku-4-5", request_id="aws-1", amount_usd=float(WORST) / 1e6)
    rerun = make_ledger(flaky, prefix="other")  # another container draws its own nonces
    result = run(rerun, ScriptedLlm((_ok(), None)), request_id="aws-1")
    assert result.ok is True
    state = month(flaky)
    assert [h.hold_id for h in state.open_reservations] == ["aws-1#n1"]
    charge_stale(flaky)
    state = month(flaky)
    assert state.requests == 2 and state.estimated_requests == 1 and state.reserved_micro == 0


def test_a_reserve_whose_answer_was_lost_is_retried_and_counted_once(flaky):
    ledger = make_ledger(flaky)
    flaky.lose["transact_write_items"] = 1
    held = ledger.reserve(model="m", request_id="r", amount_usd=0.5)
    state = month(flaky)
    assert len(state.open_reservations) == 1 and state.committed_micro == 500_000
    flaky.lose["transact_write_items"] = 1  # the settle is applied, its answer lost, retried
    status = ledger.settle(held, amount_usd=0.1, usage=None, estimated=False)
    state = month(flaky)
    assert (state.spent_micro, state.committed_micro, state.requests) == (100_000, 100_000, 1)
    assert status is not None and status["spent_usd"] == 0.1  # treated as applied: status read back


def test_a_transaction_conflict_is_retried(flaky):
    ledger = make_ledger(flaky)
    flaky.conflict["transact_write_items"] = 2
    held = ledger.reserve(model="m", request_id="r", amount_usd=0.5)
    assert held.recorded and month(flaky).committed_micro == 500_000
    assert flaky.calls.count("transact_write_items") == 3
    assert len(set(flaky.tokens)) == 3  # a cancelled try is not repeated: each retry is a new request


def test_the_tries_of_one_write_after_a_lost_answer_carry_the_same_request_token(flaky):
    # Real DynamoDB answers a repeat with the same ClientRequestToken without applying it again.
    ledger = make_ledger(flaky)
    flaky.lose["transact_write_items"] = 1
    held = ledger.reserve(model="m", request_id="r", amount_usd=0.5)
    flaky.lose["transact_write_items"] = 1
    ledger.settle(held, amount_usd=0.1, usage=None, estimated=False)
    reserve_tokens, settle_tokens = flaky.tokens[:2], flaky.tokens[2:]
    assert len(set(reserve_tokens)) == 1 and len(set(settle_tokens)) == 1
    assert reserve_tokens[0] != settle_tokens[0] and all(len(t) == 36 for t in flaky.tokens)


def test_a_ledger_try_and_the_answer_fit_in_the_time_the_core_keeps_after_the_last_attempt():
    assert LEDGER_TRY_MS + ANSWER_ROOM_MS <= FUNCTION_SAFETY_MARGIN_S * 1000


def test_ledger_requests_stop_when_the_invocation_has_no_time_for_them(flaky):
    # Each failing request is taken to use its whole timeout (an endpoint that never answers).
    ledger = make_ledger(flaky)
    flaky.fail["transact_write_items"] = 99
    for budget, expected_calls in (
        (10 * LEDGER_TRY_MS, 4),  # three tries and the undo
        (2 * LEDGER_TRY_MS + ANSWER_ROOM_MS, 2),  # one try (no room for a backoff and another), the undo
        (LEDGER_TRY_MS + ANSWER_ROOM_MS - 1, 0),  # not even one try fits
    ):
        flaky.calls.clear()

        def remaining(budget: int = budget) -> int:
            return budget - LEDGER_TRY_MS * len(flaky.calls)

        with pytest.raises(Exception, match="could not be reached"):
            ledger.reserve(model="m", request_id=f"r{budget}", amount_usd=0.1, remaining_ms=remaining)
        assert len(flaky.calls) == expected_calls
        assert remaining() >= min(budget, ANSWER_ROOM_MS)  # time to answer is always left


def test_under_hard_the_first_refusal_sends_cap_reached_once_per_month(flaky):
    # Issue 13 item 7: cap 1.00, worst case 0.30, each call costs 0.29: spend stops at 0.87
    # while calls are refused; the topic gets one "cap reached" message, not one per refusal.
    publisher = Publisher()
    now = Now(datetime(2026, 11, 15, 12, tzinfo=UTC))
    ledger = make_ledger(flaky, cap=1.0, thresholds=(50.0, 80.0, 100.0), publisher=publisher, now=now)
    for i in range(3):
        ledger.settle(
            ledger.reserve(model="m", request_id=f"r{i}", amount_usd=0.3),
            amount_usd=0.29,
            usage=None,
            estimated=False,
        )
    for i in range(3):
        with pytest.raises(BudgetExceededError):
            ledger.reserve(model="m", request_id=f"refused{i}", amount_usd=0.3)
    subjects = [s for s, _ in publisher.sent]
    assert subjects == [
        "Claude spend: alpha passed 50% of its 2026-11 cap",
        "Claude spend: alpha passed 80% of its 2026-11 cap",
        "Claude spend: alpha cap reached, calls are refused until 2026-12-01T00:00:00Z",
    ]
    body = publisher.sent[-1][1]
    assert "Spent: 0.87 USD" in body and "Left under the cap: 0.13 USD" in body
    # A request too large for the whole cap is not "cap reached"; December starts afresh.
    now.moment = datetime(2026, 12, 2, tzinfo=UTC)
    with pytest.raises(BudgetExceededError):
        ledger.reserve(model="m", request_id="huge", amount_usd=1.5)
    assert len(publisher.sent) == 3


def test_an_alert_claimed_by_a_call_that_crashed_before_publishing_is_sent_after_the_lease(flaky):
    # Issue 13 item 9: claim written, then the function died; the month must still get the alert.
    publisher = Publisher()
    now = Now(datetime(2026, 11, 15, 12, tzinfo=UTC))
    table = LedgerTable(flaky, "ledger")
    assert table.claim_alert(
        project="alpha",
        period=PERIOD,
        threshold=50,
        claimant="crashed",
        now_epoch=int(now.moment.timestamp()),
        lease_s=180,
    )
    ledger = make_ledger(flaky, cap=1.0, thresholds=(50.0,), publisher=publisher, now=now, stale_after_s=180)
    ledger.settle(
        ledger.reserve(model="m", request_id="a", amount_usd=0.6), amount_usd=0.6, usage=None, estimated=False
    )
    assert publisher.sent == []  # within the lease the crashed claimant may still be sending
    now.moment += timedelta(seconds=181)
    ledger.settle(
        ledger.reserve(model="m", request_id="b", amount_usd=0.01),
        amount_usd=0.01,
        usage=None,
        estimated=False,
    )
    assert [s for s, _ in publisher.sent] == ["Claude spend: alpha passed 50% of its 2026-11 cap"]
    now.moment += timedelta(seconds=10_000)
    ledger.settle(
        ledger.reserve(model="m", request_id="c", amount_usd=0.01),
        amount_usd=0.01,
        usage=None,
        estimated=False,
    )
    assert len(publisher.sent) == 1  # confirmed: never again this month
    assert table.month("alpha", PERIOD).alerted == (50.0,)


def test_a_settle_after_the_call_gets_its_try_whenever_one_try_fits(flaky):
    # The core keeps 1 s after its last attempt; a slow answer can eat into it. The settle still
    # tries while one try fits (a hold left open is charged at its worst case later, not lost).
    ledger = make_ledger(flaky)
    left = [60_000]
    held = ledger.reserve(model="m", request_id="r", amount_usd=0.5, remaining_ms=lambda: left[0])
    left[0] = LEDGER_TRY_MS  # below one try plus the answer room
    ledger.settle(held, amount_usd=0.1, usage=None, estimated=False)
    assert month(flaky).spent_micro == 100_000
    other = ledger.reserve(model="m", request_id="r2", amount_usd=0.5, remaining_ms=lambda: 60_000)
    late = type(other)(other.hold, remaining_ms=lambda: LEDGER_TRY_MS - 1)
    ledger.settle(late, amount_usd=0.1, usage=None, estimated=False)
    state = month(flaky)
    assert state.spent_micro == 100_000 and [h.request_id for h in state.open_reservations] == ["r2"]
