"""The ledger's DynamoDB operations against moto: cap, idempotency, history, alerts, repairs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from claude_platform.ledger import (
    CapExceededError,
    LedgerTable,
    MonthState,
    SettledUsage,
    crossed_thresholds,
    period_end,
    period_of,
    shift_period,
    to_micro,
)
from devservers.aws_server import create_ledger_table

P = "2026-11"


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[LedgerTable]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client, "ledger")
        yield LedgerTable(client, "ledger")


def reserve(
    ledger: LedgerTable, rid: str, amount: int, cap: int | None = 1_000, project: str = "alpha"
) -> MonthState:
    return ledger.reserve(
        project=project,
        period=P,
        request_id=rid,
        amount_micro=amount,
        cap_micro=cap,
        model="m",
        now_epoch=100,
    )


def settle(ledger: LedgerTable, rid: str, reserved: int, actual: int, *, estimated: bool = False):
    return ledger.settle(
        project="alpha",
        period=P,
        request_id=rid,
        reserved_micro=reserved,
        actual_micro=actual,
        usage=SettledUsage(10, 20, 3, 4),
        estimated=estimated,
        now_epoch=200,
    )


def test_units_are_whole_micro_dollars_rounded_up():
    assert to_micro(0.0000011) == 2 and to_micro(Decimal("0.000001")) == 1 and to_micro(0) == 0
    assert to_micro(12.345678) == 12_345_678
    with pytest.raises(ValueError):
        to_micro(-0.1)


def test_periods_are_utc_months():
    assert period_of(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)) == "2026-11"
    assert period_end("2026-12") == datetime(2027, 1, 1, tzinfo=UTC)
    assert shift_period("2026-01", -1) == "2025-12" and shift_period("2026-11", 13) == "2027-12"


def test_reserve_holds_the_amount_until_the_cap_then_refuses_and_counts_the_refusal(ledger):
    state = reserve(ledger, "r1", 600)
    assert (state.committed_micro, state.reserved_micro, state.spent_micro) == (600, 600, 0)
    assert [r.request_id for r in state.open_reservations] == ["r1"]
    reserve(ledger, "r2", 400)  # exactly at the cap: allowed
    with pytest.raises(CapExceededError) as refused:
        reserve(ledger, "r3", 1)
    assert refused.value.state.refusals == 1 and refused.value.state.committed_micro == 1_000
    with pytest.raises(CapExceededError):  # more than the whole cap: refused without a hold
        reserve(ledger, "r4", 1_001)
    assert ledger.month("alpha", P).refusals == 2


def test_settle_moves_the_hold_to_spend_once(ledger):
    reserve(ledger, "r1", 600)
    state = settle(ledger, "r1", 600, 250)
    assert (state.spent_micro, state.reserved_micro, state.committed_micro, state.requests) == (
        250,
        0,
        250,
        1,
    )
    assert (state.input_tokens, state.output_tokens, state.cache_read_tokens, state.cache_write_tokens) == (
        10,
        20,
        3,
        4,
    )
    assert state.open_reservations == ()
    assert settle(ledger, "r1", 600, 250) is None  # a repeated settle counts nothing
    assert ledger.month("alpha", P).spent_micro == 250


def test_release_gives_the_hold_back_once_and_never_after_a_settle(ledger):
    reserve(ledger, "r1", 600)
    state = ledger.release(project="alpha", period=P, request_id="r1", reserved_micro=600, now_epoch=1)
    assert (state.committed_micro, state.reserved_micro, state.spent_micro) == (0, 0, 0)
    assert ledger.release(project="alpha", period=P, request_id="r1", reserved_micro=600, now_epoch=1) is None
    reserve(ledger, "r2", 300)
    settle(ledger, "r2", 300, 100)
    assert ledger.release(project="alpha", period=P, request_id="r2", reserved_micro=300, now_epoch=1) is None
    assert ledger.month("alpha", P).committed_micro == 100


def test_estimated_charges_are_counted_apart(ledger):
    reserve(ledger, "r1", 600)
    state = settle(ledger, "r1", 600, 600, estimated=True)
    assert (state.spent_micro, state.estimated_micro, state.estimated_requests) == (600, 600, 1)


def test_projects_are_separate_items(ledger):
    reserve(ledger, "r1", 900)
    reserve(ledger, "r1", 900, project="beta")  # same request id, other project: its own cap
    assert ledger.month("beta", P).committed_micro == 900 and ledger.month("alpha", P).committed_micro == 900


def test_twelve_months_of_history_in_one_query(ledger):
    for i, period in enumerate(["2025-12", "2026-03", "2026-11"]):
        ledger.reserve(
            project="alpha",
            period=period,
            request_id="x",
            amount_micro=10 * (i + 1),
            cap_micro=None,
            model="m",
            now_epoch=1,
        )
    months = ledger.months("alpha", "2025-12", "2026-11")
    assert [m.period for m in months] == [shift_period("2025-12", i) for i in range(12)]
    assert {m.period: m.committed_micro for m in months if m.committed_micro} == {
        "2025-12": 10,
        "2026-03": 20,
        "2026-11": 30,
    }


def test_each_threshold_is_claimed_by_exactly_one_caller_and_can_be_given_back(ledger):
    assert ledger.claim_alert(project="alpha", period=P, threshold=50, claimant="r1") is True
    assert ledger.claim_alert(project="alpha", period=P, threshold=50, claimant="r2") is False
    # The same claimant again (a retried write whose answer was lost) is recognised as the winner.
    assert ledger.claim_alert(project="alpha", period=P, threshold=50, claimant="r1") is True
    assert ledger.claim_alert(project="alpha", period=P, threshold=80.5, claimant="r2") is True
    ledger.unclaim_alert(project="alpha", period=P, threshold=50, claimant="r2")  # not r2's: no effect
    assert ledger.claim_alert(project="alpha", period=P, threshold=50, claimant="r3") is False
    ledger.unclaim_alert(project="alpha", period=P, threshold=50, claimant="r1")
    assert ledger.month("alpha", P).alerted == (80.5,)
    assert ledger.claim_alert(project="alpha", period=P, threshold=50, claimant="r3") is True
    assert ledger.month("alpha", P).alerted == (50.0, 80.5)


def test_a_repeated_reserve_of_the_same_request_counts_once(ledger):
    # botocore retries a write whose answer was lost; the retry must not hold the amount twice.
    first = reserve(ledger, "r1", 600)
    again = reserve(ledger, "r1", 600)
    assert first.committed_micro == again.committed_micro == 600 and again.reserved_micro == 600
    assert again.refusals == 0
    settle(ledger, "r1", 600, 100)
    assert ledger.month("alpha", P).committed_micro == 100
    # Once settled, the same id may reserve again (a retry after a timeout reuses the request id).
    assert reserve(ledger, "r1", 300).committed_micro == 400


def test_crossed_thresholds_compare_exactly():
    state = MonthState(project="a", period=P, spent_micro=500, alerted=(25.0,))
    assert crossed_thresholds(state, [25, 50, 50.1, 100], 1_000) == [50]
    assert crossed_thresholds(MonthState(project="a", period=P, spent_micro=499), [50], 1_000) == []


def test_stale_holds_are_charged_as_estimated_spend(ledger):
    ledger.reserve(
        project="alpha",
        period=P,
        request_id="old",
        amount_micro=300,
        cap_micro=1_000,
        model="m",
        now_epoch=10,
    )
    ledger.reserve(
        project="alpha",
        period=P,
        request_id="new",
        amount_micro=200,
        cap_micro=1_000,
        model="m",
        now_epoch=500,
    )
    charged = ledger.charge_stale_reservations(project="alpha", period=P, older_than_epoch=100, now_epoch=600)
    assert [r.request_id for r in charged] == ["old"]
    state = ledger.month("alpha", P)
    assert (state.spent_micro, state.estimated_micro, state.reserved_micro, state.committed_micro) == (
        300,
        300,
        200,
        500,
    )
    assert [r.request_id for r in state.open_reservations] == ["new"]


def test_correcting_estimates_replaces_them_with_the_billed_amount(ledger):
    reserve(ledger, "r1", 600)
    settle(ledger, "r1", 600, 600, estimated=True)
    reserve(ledger, "r2", 100)
    settle(ledger, "r2", 100, 50)
    assert (
        ledger.correct_estimates(
            project="alpha", period=P, expected_estimated_micro=999, corrected_micro=0, now_epoch=1
        )
        is None
    )
    state = ledger.correct_estimates(
        project="alpha", period=P, expected_estimated_micro=600, corrected_micro=120, now_epoch=1
    )
    assert (state.spent_micro, state.committed_micro, state.estimated_micro, state.corrections_micro) == (
        170,
        170,
        0,
        -480,
    )
