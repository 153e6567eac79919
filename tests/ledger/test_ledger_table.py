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
    Hold,
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
    ledger: LedgerTable,
    rid: str,
    amount: int,
    cap: int | None = 1_000,
    project: str = "alpha",
    nonce: str = "n",
    now: int = 100,
) -> Hold:
    return ledger.reserve(
        project=project,
        period=P,
        request_id=rid,
        amount_micro=amount,
        cap_micro=cap,
        model="m",
        now_epoch=now,
        nonce=nonce,
    )


def settle(ledger: LedgerTable, hold: Hold, actual: int, *, estimated: bool = False) -> MonthState | None:
    if not ledger.settle(
        hold, actual_micro=actual, usage=SettledUsage(10, 20, 3, 4), estimated=estimated, now_epoch=200
    ):
        return None
    return ledger.month("alpha", P, with_holds=True)


def release(ledger: LedgerTable, hold: Hold) -> MonthState | None:
    if not ledger.release(hold, now_epoch=1):
        return None
    return ledger.month(hold.project, P, with_holds=True)


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
    reserve(ledger, "r1", 600)
    state = ledger.month("alpha", P, with_holds=True)
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
    hold = reserve(ledger, "r1", 600)
    state = settle(ledger, hold, 250)
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
    assert settle(ledger, hold, 250) is None  # a repeated settle counts nothing
    assert ledger.month("alpha", P).spent_micro == 250


def test_release_gives_the_hold_back_once_and_never_after_a_settle(ledger):
    hold = reserve(ledger, "r1", 600)
    state = release(ledger, hold)
    assert (state.committed_micro, state.reserved_micro, state.spent_micro) == (0, 0, 0)
    assert state.open_reservations == ()
    assert release(ledger, hold) is None
    second = reserve(ledger, "r2", 300)
    settle(ledger, second, 100)
    assert release(ledger, second) is None
    assert ledger.month("alpha", P).committed_micro == 100


def test_estimated_charges_are_counted_apart(ledger):
    state = settle(ledger, reserve(ledger, "r1", 600), 600, estimated=True)
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


def claim(ledger: LedgerTable, threshold: float, who: str, now: int = 1_000, lease: int = 60) -> bool:
    return ledger.claim_alert(
        project="alpha", period=P, threshold=threshold, claimant=who, now_epoch=now, lease_s=lease
    )


def test_each_threshold_is_claimed_by_exactly_one_caller_and_can_be_given_back(ledger):
    assert claim(ledger, 50, "r1") is True
    assert claim(ledger, 50, "r2") is False
    # The same claimant again (a retried write whose answer was lost) is recognised as the winner.
    assert claim(ledger, 50, "r1") is True
    assert claim(ledger, 80.5, "r2") is True
    ledger.unclaim_alert(project="alpha", period=P, threshold=50, claimant="r2")  # not r2's: no effect
    assert claim(ledger, 50, "r3") is False
    ledger.unclaim_alert(project="alpha", period=P, threshold=50, claimant="r1")
    assert claim(ledger, 50, "r3") is True
    assert ledger.confirm_alert(project="alpha", period=P, threshold=50, claimant="r3") is True
    assert ledger.confirm_alert(project="alpha", period=P, threshold=80.5, claimant="r3") is False  # r2's
    state = ledger.month("alpha", P)
    assert state.alerted == (50.0,) and [(c.threshold, c.claimant) for c in state.alert_claims] == [
        (80.5, "r2")
    ]


def test_a_claim_never_confirmed_is_taken_over_after_its_lease_and_a_confirmed_one_never(ledger):
    # Issue 13 item 9: the claimant crashed between claim and publish; the alert must not be lost.
    assert claim(ledger, 50, "crashed", now=1_000, lease=60) is True
    assert claim(ledger, 50, "later", now=1_060, lease=60) is False  # within the lease
    assert claim(ledger, 50, "later", now=1_061, lease=60) is True  # lease over: taken over
    assert claim(ledger, 50, "crashed", now=1_062, lease=60) is False  # the old claimant lost it
    assert ledger.confirm_alert(project="alpha", period=P, threshold=50, claimant="crashed") is False
    assert ledger.confirm_alert(project="alpha", period=P, threshold=50, claimant="later") is True
    assert claim(ledger, 50, "much-later", now=100_000, lease=60) is False  # sent: never again
    assert ledger.month("alpha", P).alerted == (50.0,)


def test_a_repeated_reserve_of_the_same_hold_counts_once(ledger):
    # botocore or the adapter retries a write whose answer was lost; the retry must not hold twice.
    first = reserve(ledger, "r1", 600)
    again = reserve(ledger, "r1", 600)
    assert first == again
    state = ledger.month("alpha", P, with_holds=True)
    assert (state.committed_micro, state.reserved_micro, state.refusals) == (600, 600, 0)
    assert len(state.open_reservations) == 1
    settle(ledger, first, 100)
    assert ledger.month("alpha", P).committed_micro == 100
    # The same request reserving again (a retry) with a fresh nonce is a hold of its own.
    assert reserve(ledger, "r1", 300, nonce="n2").hold_id == "r1#n2"
    assert ledger.month("alpha", P).committed_micro == 400


def test_holds_of_the_same_request_are_separate_and_each_settles_only_itself(ledger):
    # Item 1 of issue 13: attempt 1's hold must never be adopted, settled or released by attempt 2.
    one = reserve(ledger, "req", 600, cap=None, nonce="a1")
    two = reserve(ledger, "req", 300, cap=None, nonce="a2")
    assert one.sk != two.sk
    assert settle(ledger, two, 116).reserved_micro == 600  # attempt 1's hold is still held
    assert release(ledger, two) is None  # settled already: nothing given back
    state = ledger.month("alpha", P, with_holds=True)
    assert [h.hold_id for h in state.open_reservations] == ["req#a1"]
    assert (state.spent_micro, state.committed_micro) == (116, 716)


def test_the_month_item_does_not_grow_with_holds_in_flight(ledger):
    client = ledger._client
    reserve(ledger, "first", 1, cap=None, nonce="0")
    before = client.get_item(TableName="ledger", Key={"pk": {"S": "alpha"}, "sk": {"S": f"month#{P}"}})
    for i in range(50):
        reserve(ledger, f"r{i}", 1, cap=None, nonce=str(i))
    after = client.get_item(TableName="ledger", Key={"pk": {"S": "alpha"}, "sk": {"S": f"month#{P}"}})
    assert set(after["Item"]) == set(before["Item"])
    assert len(ledger.month("alpha", P, with_holds=True).open_reservations) == 51


def test_a_cap_refusal_and_a_repeated_write_are_told_apart_by_the_cancellation_reasons(ledger):
    hold = reserve(ledger, "r1", 700)
    assert reserve(ledger, "r1", 700) == hold  # its own hold exists: the cap is not consulted
    with pytest.raises(CapExceededError) as refused:
        reserve(ledger, "r2", 700)
    assert refused.value.counter == f"month#{P}" and refused.value.state.refusals == 1
    assert ledger.month("alpha", P).committed_micro == 700


def test_crossed_thresholds_compare_exactly():
    state = MonthState(project="a", period=P, spent_micro=500, alerted=(25.0,))
    assert crossed_thresholds(state, [25, 50, 50.1, 100], 1_000) == [50]
    assert crossed_thresholds(MonthState(project="a", period=P, spent_micro=499), [50], 1_000) == []


def test_stale_holds_are_found_by_a_sort_key_range_and_charged_as_estimated_spend(ledger):
    old = reserve(ledger, "old", 300, now=10)
    reserve(ledger, "edge", 100, now=100)  # created at the cutoff: not older than it
    reserve(ledger, "new", 200, now=500)
    assert [h.hold_id for h in ledger.holds("alpha", P, older_than_epoch=100)] == ["old#n"]
    charged = ledger.charge_stale_reservations(project="alpha", period=P, older_than_epoch=100, now_epoch=600)
    assert charged == [old]
    state = ledger.month("alpha", P, with_holds=True)
    assert (state.spent_micro, state.estimated_micro, state.reserved_micro, state.committed_micro) == (
        300,
        300,
        300,
        600,
    )
    assert (state.requests, state.estimated_requests) == (1, 1)
    assert [h.request_id for h in state.open_reservations] == ["edge", "new"]
    # A hold charged as stale cannot be settled again by a late owner.
    assert settle(ledger, old, 1) is None


def test_holds_left_in_the_month_item_by_the_previous_layout_are_still_charged(ledger):
    # Deploying this version while calls of the previous one are in flight: their holds are
    # `res#<request id>` attributes of the month item, and must be charged, never dropped.
    ledger._client.update_item(
        TableName="ledger",
        Key={"pk": {"S": "alpha"}, "sk": {"S": f"month#{P}"}},
        UpdateExpression="ADD committed_micro :a, reserved_micro :a SET #r = :res",
        ExpressionAttributeNames={"#r": "res#legacy"},
        ExpressionAttributeValues={
            ":a": {"N": "400"},
            ":res": {"M": {"a": {"N": "400"}, "t": {"N": "5"}, "m": {"S": "m"}}},
        },
    )
    (legacy,) = ledger.month("alpha", P).open_reservations
    assert legacy.legacy and legacy.request_id == "legacy"
    assert ledger.charge_stale_reservations(project="alpha", period=P, older_than_epoch=100, now_epoch=600)
    state = ledger.month("alpha", P, with_holds=True)
    assert (state.spent_micro, state.estimated_micro, state.reserved_micro, state.open_reservations) == (
        400,
        400,
        0,
        (),
    )


def test_correcting_estimates_replaces_them_with_the_billed_amount(ledger):
    settle(ledger, reserve(ledger, "r1", 600), 600, estimated=True)
    settle(ledger, reserve(ledger, "r2", 100), 50)
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


def test_the_stale_rule_charges_at_most_the_holds_it_is_given_time_for_oldest_first(ledger):
    for i in range(3):
        reserve(ledger, f"dead{i}", 100, now=10 + i)
    charged = ledger.charge_stale_reservations(
        project="alpha", period=P, older_than_epoch=100, now_epoch=600, max_holds=2
    )
    assert [h.request_id for h in charged] == ["dead0", "dead1"]
    assert [h.request_id for h in ledger.month("alpha", P, with_holds=True).open_reservations] == ["dead2"]
