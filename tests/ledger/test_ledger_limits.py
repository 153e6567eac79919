"""Per-key month caps and per-minute rate windows in the ledger's transactions, against moto."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from claude_platform.ledger import (
    CapExceededError,
    CounterCharge,
    LedgerTable,
    RateLimit,
    RateLimitedError,
    SettledUsage,
    key_month_sk,
    month_sk,
)
from claude_platform.rate_window import SLOT_S, WINDOW_SLOTS, key_scope
from devservers.aws_server import create_ledger_table

P = "2026-11"
T0 = 1_795_000_000 - 1_795_000_000 % 60  # a minute boundary


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[LedgerTable]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client, "ledger")
        yield LedgerTable(client, "ledger")


def key_cap(cap: int, name: str = "alice") -> CounterCharge:
    return CounterCharge(key_month_sk(P, name), cap)


def test_key_cap_refuses_in_the_same_write_and_names_the_key_counter(ledger):
    hold = ledger.reserve(
        project="a",
        period=P,
        request_id="r1",
        amount_micro=600,
        cap_micro=10_000,
        model="m",
        now_epoch=T0,
        also=[key_cap(1000)],
    )
    with pytest.raises(CapExceededError) as refused:
        ledger.reserve(
            project="a",
            period=P,
            request_id="r2",
            amount_micro=500,
            cap_micro=10_000,
            model="m",
            now_epoch=T0,
            also=[key_cap(1000)],
        )
    assert refused.value.counter == key_month_sk(P, "alice")
    assert refused.value.counter_state.reserved_micro == 600
    month = ledger.month("a", P, with_holds=True)
    assert month.reserved_micro == 600 and month.refusals == 1 and len(month.open_reservations) == 1
    # another key and the project still have room
    ledger.reserve(
        project="a",
        period=P,
        request_id="r3",
        amount_micro=500,
        cap_micro=10_000,
        model="m",
        now_epoch=T0,
        also=[key_cap(1000, "bob")],
    )
    assert ledger.settle(hold, actual_micro=250, usage=SettledUsage(10, 20), estimated=False, now_epoch=T0)
    keys = ledger.key_months("a", P)
    assert keys["alice"].spent_micro == 250 and keys["alice"].reserved_micro == 0
    assert keys["alice"].input_tokens == 10 and keys["alice"].output_tokens == 20
    assert keys["alice"].requests == 1 and keys["bob"].reserved_micro == 500


def test_project_cap_still_refuses_with_a_key_cap(ledger):
    with pytest.raises(CapExceededError) as refused:
        ledger.reserve(
            project="a",
            period=P,
            request_id="r",
            amount_micro=600,
            cap_micro=500,
            model="m",
            now_epoch=T0,
            also=[key_cap(1000)],
        )
    assert refused.value.counter == month_sk(P)
    assert ledger.key_months("a", P) == {}


def test_stale_key_hold_is_charged_to_the_key_as_estimated(ledger):
    ledger.reserve(
        project="a",
        period=P,
        request_id="r",
        amount_micro=600,
        cap_micro=None,
        model="m",
        now_epoch=T0,
        also=[key_cap(1000)],
    )
    charged = ledger.charge_stale_reservations(
        project="a", period=P, older_than_epoch=T0 + 1, now_epoch=T0 + 9
    )
    assert len(charged) == 1
    key = ledger.key_months("a", P)["alice"]
    assert key.spent_micro == 600 and key.estimated_micro == 600 and key.reserved_micro == 0


def reserve_rate(ledger, rid, now, limit, tokens=0):
    return ledger.reserve(
        project="a",
        period=P,
        request_id=rid,
        amount_micro=1,
        cap_micro=None,
        model="m",
        now_epoch=now,
        rates=[limit],
        tokens=tokens,
    )


def test_requests_window_never_passes_the_limit_in_any_60s_interval(ledger):
    limit = RateLimit("p", requests_per_minute=5)
    rng = random.Random(7)
    admitted = []
    for i in range(120):
        now = T0 + i * 2 + rng.choice([0, 1])  # ~0.5 rps for 4 minutes, across minute boundaries
        try:
            reserve_rate(ledger, f"r{i}", now, limit)
            admitted.append(now)
        except RateLimitedError as exc:
            assert exc.refusal is not None and exc.refusal.what == "requests_per_minute"
            assert 1 <= exc.refusal.retry_after_s <= WINDOW_SLOTS * SLOT_S
    for start in range(T0 - 60, T0 + 300):
        assert sum(start <= t < start + 60 for t in admitted) <= 5
    assert len(admitted) >= 5 * 3  # the limit is used: ~5 per 65 s


def test_a_burst_takes_the_limit_at_once_then_waits_for_the_window(ledger):
    limit = RateLimit("p", requests_per_minute=3)
    for i in range(3):
        reserve_rate(ledger, f"r{i}", T0 + 1, limit)
    with pytest.raises(RateLimitedError) as refused:
        reserve_rate(ledger, "late", T0 + 30, limit)
    # admitted in slot [T0, T0+5): every window containing that slot ends by T0 + 65
    assert refused.value.refusal.retry_after_s == 35
    with pytest.raises(RateLimitedError):
        reserve_rate(ledger, "r-64", T0 + 64, limit)
    reserve_rate(ledger, "r-65", T0 + 65, limit)


def test_tokens_are_reserved_at_the_bound_and_settled_to_the_actual_count(ledger):
    limit = RateLimit("p", tokens_per_minute=1000)
    first = reserve_rate(ledger, "a", T0, limit, tokens=600)
    with pytest.raises(RateLimitedError) as refused:
        reserve_rate(ledger, "b", T0 + 1, limit, tokens=600)
    assert refused.value.refusal.what == "tokens_per_minute" and refused.value.refusal.in_window == 600
    ledger.settle(
        first, actual_micro=1, usage=SettledUsage(100, 50, 20, 30), estimated=False, now_epoch=T0 + 2
    )
    reserve_rate(ledger, "b", T0 + 3, limit, tokens=600)  # 200 used + 600 held
    with pytest.raises(RateLimitedError):
        reserve_rate(ledger, "c", T0 + 4, limit, tokens=201)
    reserve_rate(ledger, "c", T0 + 4, limit, tokens=200)


def test_released_and_estimated_holds_give_back_tokens_only_when_known(ledger):
    limit = RateLimit("p", tokens_per_minute=1000)
    released = reserve_rate(ledger, "a", T0, limit, tokens=600)
    ledger.release(released, now_epoch=T0 + 1)
    unknown = reserve_rate(ledger, "b", T0 + 1, limit, tokens=600)  # fits: the release gave all back
    ledger.settle(unknown, actual_micro=1, usage=SettledUsage(), estimated=True, now_epoch=T0 + 2)
    with pytest.raises(RateLimitedError):
        reserve_rate(ledger, "c", T0 + 2, limit, tokens=600)  # an unknown outcome keeps its worst case


def test_a_request_over_the_whole_tokens_limit_is_refused_without_a_write(ledger):
    with pytest.raises(RateLimitedError) as refused:
        reserve_rate(ledger, "a", T0, RateLimit("p", tokens_per_minute=100), tokens=101)
    assert refused.value.refusal is None
    assert list(ledger.holds("a", P)) == []


def test_key_and_project_windows_are_separate_scopes(ledger):
    project, alice = (
        RateLimit("p", requests_per_minute=3),
        RateLimit(key_scope("alice"), requests_per_minute=1),
    )
    ledger.reserve(
        project="a",
        period=P,
        request_id="r1",
        amount_micro=1,
        cap_micro=None,
        model="m",
        now_epoch=T0,
        rates=[project, alice],
    )
    with pytest.raises(RateLimitedError) as refused:
        ledger.reserve(
            project="a",
            period=P,
            request_id="r2",
            amount_micro=1,
            cap_micro=None,
            model="m",
            now_epoch=T0,
            rates=[project, alice],
        )
    assert refused.value.scope == "k#alice"
    assert len(list(ledger.holds("a", P))) == 1  # the refused transaction wrote nothing
    for i in range(2):
        ledger.reserve(
            project="a",
            period=P,
            request_id=f"b{i}",
            amount_micro=1,
            cap_micro=None,
            model="m",
            now_epoch=T0,
            rates=[project, RateLimit(key_scope("bob"), requests_per_minute=5)],
        )
    with pytest.raises(RateLimitedError) as refused:
        reserve_rate(ledger, "x", T0, project)
    assert refused.value.scope == "p"
