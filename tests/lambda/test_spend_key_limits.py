"""ProjectSpendLedger with a caller key over moto: the key's cap and rollover, its alerts, rate refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from claude_proxy.auth import Caller
from claude_proxy.core import BudgetExceededError, RateLimitedError
from claude_proxy.spend import ProjectSpendLedger
from proxy_testkit import Now, Publisher, moto_ledger_table

from claude_platform.api_keys import KeyLimits
from claude_platform.ledger import LedgerTable, key_month_sk, to_micro
from claude_platform.prices import TokenUsage


@pytest.fixture
def table(monkeypatch) -> Iterator[LedgerTable]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto_ledger_table() as ledger:
        yield ledger


def make(table, now, *, hard=True, publisher=None, **rates):
    return ProjectSpendLedger(
        table=table,
        project="alpha",
        hard=hard,
        cap_usd=100.0,
        thresholds=(50.0,),
        publisher=publisher,
        now=now,
        log_warning=lambda msg, fields: None,
        sleep=lambda s: None,
        **rates,
    )


def alice(cap_usd: float | None = 1.0, **limits) -> Caller:
    return Caller("alice", "abc", KeyLimits(to_micro(cap_usd) if cap_usd else None, **limits))


def test_key_cap_refusal_names_the_key_and_its_figures_and_resets_next_month(table):
    now = Now(datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC))
    ledger = make(table, now)
    held = ledger.reserve(model="m", request_id="r1", amount_usd=0.7, caller=alice())
    with pytest.raises(BudgetExceededError) as refused:
        ledger.reserve(model="m", request_id="r2", amount_usd=0.4, caller=alice())
    message = str(refused.value)
    assert message.startswith(
        "API key 'alice' has spent 0.00 USD of its own 1.00 USD monthly cap for 2026-11"
    )
    assert "0.70 USD reserved" in message and "up to 0.40 USD" in message
    assert "resets at 2026-12-01T00:00:00Z" in message
    # the call spanning midnight settles in the month it reserved; December starts afresh
    now.moment = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    ledger.settle(held, amount_usd=0.6, usage=TokenUsage(1, 2), estimated=False)
    ledger.reserve(model="m", request_id="r3", amount_usd=0.9, caller=alice())
    november = table.counter("alpha", "2026-11", key_month_sk("2026-11", "alice"))
    december = table.counter("alpha", "2026-12", key_month_sk("2026-12", "alice"))
    assert (november.spent_micro, november.reserved_micro) == (600_000, 0)
    assert (december.spent_micro, december.reserved_micro) == (0, 900_000)
    assert table.month("alpha", "2026-11").refusals == 1


def test_soft_enforcement_records_the_key_but_does_not_refuse(table):
    ledger = make(table, Now(datetime(2026, 11, 15, tzinfo=UTC)), hard=False)
    for i in range(3):
        ledger.reserve(model="m", request_id=f"r{i}", amount_usd=0.5, caller=alice())
    assert table.key_months("alpha", "2026-11")["alice"].reserved_micro == 1_500_000


def test_key_thresholds_alert_once_a_month_naming_the_key(table):
    publisher = Publisher()
    ledger = make(table, Now(datetime(2026, 11, 15, tzinfo=UTC)), publisher=publisher)
    caller = alice(alert_thresholds=(50.0, 80.0))
    for i in range(6):
        held = ledger.reserve(model="m", request_id=f"r{i}", amount_usd=0.2, caller=caller)
        ledger.settle(held, amount_usd=0.15, usage=TokenUsage(1, 1), estimated=False)
    subjects = [s for s, _ in publisher.sent]
    assert subjects == [
        "Claude spend: key alice of alpha passed 50% of its 2026-11 cap",
        "Claude spend: key alice of alpha passed 80% of its 2026-11 cap",
    ]
    assert "API key: alice" in publisher.sent[0][1] and "Key's monthly cap: 1.00 USD" in publisher.sent[0][1]
    # the project's own 50% threshold is of its 100 USD cap: not reached, nothing else sent


def test_rate_refusal_says_which_limit_and_when(table):
    ledger = make(table, Now(datetime(2026, 11, 15, 12, 0, 1, tzinfo=UTC)), requests_per_minute=1)
    ledger.reserve(model="m", request_id="r1", amount_usd=0.01)
    with pytest.raises(RateLimitedError) as refused:
        ledger.reserve(model="m", request_id="r2", amount_usd=0.01)
    assert refused.value.retry_after_s == 64
    assert "project 'alpha' is at its requests_per_minute limit of 1: 1 requests counted" in str(
        refused.value
    )
    key = make(table, Now(datetime(2026, 11, 15, 12, 5, tzinfo=UTC)))
    with pytest.raises(RateLimitedError) as refused:
        key.reserve(
            model="m", request_id="r3", amount_usd=0.01, tokens=5000, caller=alice(tokens_per_minute=4000)
        )
    assert refused.value.retry_after_s is None
    assert "more than API key 'alice''s tokens_per_minute of 4000" in str(refused.value)


def test_rate_limits_hold_under_soft_enforcement_too(table):
    ledger = make(table, Now(datetime(2026, 11, 15, 12, 0, 1, tzinfo=UTC)), hard=False, requests_per_minute=1)
    ledger.reserve(model="m", request_id="r1", amount_usd=500.0)  # past the cap: soft records it
    with pytest.raises(RateLimitedError):
        ledger.reserve(model="m", request_id="r2", amount_usd=0.01)
