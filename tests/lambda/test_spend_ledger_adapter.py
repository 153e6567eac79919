"""ProjectSpendLedger over moto: month rollover, failures of the ledger and of alert publishing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber
from claude_proxy.core import BudgetExceededError, BudgetUnavailableError
from claude_proxy.spend import ProjectSpendLedger, usd_text
from proxy_testkit import Now, Publisher, moto_ledger_table

from claude_platform.ledger import LedgerTable
from claude_platform.prices import TokenUsage


@pytest.fixture
def table(monkeypatch) -> Iterator[LedgerTable]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto_ledger_table() as ledger:
        yield ledger


def make(table, *, hard=True, cap=1.0, thresholds=(50.0, 100.0), publisher=None, now=None, warnings=None):
    return ProjectSpendLedger(
        table=table,
        project="alpha",
        hard=hard,
        cap_usd=cap,
        thresholds=thresholds,
        publisher=publisher,
        now=now or Now(datetime(2026, 11, 15, tzinfo=UTC)),
        log_warning=lambda msg, fields: (warnings if warnings is not None else []).append(msg),
        sleep=lambda s: None,
    )


def test_usd_text_is_exact_and_readable():
    assert (usd_text(500), usd_text(500_000_000), usd_text(1_234_567), usd_text(0)) == (
        "0.0005",
        "500.00",
        "1.234567",
        "0.00",
    )


def test_a_call_that_spans_midnight_at_month_end_settles_in_the_month_it_reserved(table):
    now = Now(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    ledger = make(table, cap=1.0, now=now)
    held = ledger.reserve(model="m", request_id="r1", amount_usd=0.9)
    now.moment = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    status = ledger.settle(held, amount_usd=0.4, usage=TokenUsage(1, 2), estimated=False)
    assert table.month("alpha", "2026-11").spent_micro == 400_000
    assert table.month("alpha", "2026-12").committed_micro == 0
    assert status["period"] == "2026-12" and status["spent_usd"] is None  # December has no spend yet
    # December starts with the whole cap again.
    ledger.settle(
        ledger.reserve(model="m", request_id="r2", amount_usd=0.95),
        amount_usd=0.9,
        usage=None,
        estimated=False,
    )
    assert table.month("alpha", "2026-12").spent_micro == 900_000


def test_a_hard_cap_refuses_with_the_figures(table):
    ledger = make(table, cap=1.0)
    ledger.settle(
        ledger.reserve(model="m", request_id="r1", amount_usd=0.8),
        amount_usd=0.7,
        usage=None,
        estimated=False,
    )
    with pytest.raises(BudgetExceededError, match=r"spent 0.70 USD of its 1.00 USD cap for 2026-11"):
        ledger.reserve(model="m", request_id="r2", amount_usd=0.31)
    assert ledger.status()["spent_usd"] == 0.7


def test_throttling_by_dynamodb_fails_closed_when_hard_and_open_when_soft(table):
    warnings: list[str] = []
    client = table._client
    for hard in (True, False):
        ledger = make(table, hard=hard, warnings=warnings)
        with Stubber(client) as stub:
            for _ in range(4):  # three tries of the reserve, then the undo of this attempt's hold
                stub.add_client_error(
                    "transact_write_items", "ProvisionedThroughputExceededException", http_status_code=400
                )
            if hard:
                with pytest.raises(BudgetUnavailableError, match="could not be reached"):
                    ledger.reserve(model="m", request_id="r", amount_usd=0.1)
            else:
                held = ledger.reserve(model="m", request_id="r", amount_usd=0.1)
                assert held.recorded is False
                assert (
                    ledger.settle(held, amount_usd=0.05, usage=None, estimated=False)["enforcement"] == "soft"
                )
        assert ledger.errors == 1
    assert warnings == ["spend ledger reserve failed", "spend ledger reserve failed"]


def test_each_threshold_alerts_once_and_a_failed_publish_is_retried_by_a_later_call(table):
    publisher = Publisher(fail=1)
    ledger = make(table, cap=1.0, thresholds=(50.0, 100.0), publisher=publisher)
    ledger.settle(
        ledger.reserve(model="m", request_id="r1", amount_usd=0.6),
        amount_usd=0.6,
        usage=None,
        estimated=False,
    )
    assert publisher.sent == [] and ledger.errors == 1  # SNS failed: the claim was given back
    ledger.settle(
        ledger.reserve(model="m", request_id="r2", amount_usd=0.1),
        amount_usd=0.1,
        usage=None,
        estimated=False,
    )
    ledger.settle(
        ledger.reserve(model="m", request_id="r3", amount_usd=0.1),
        amount_usd=0.1,
        usage=None,
        estimated=False,
    )
    assert [s for s, _ in publisher.sent] == ["Claude spend: alpha passed 50% of its 2026-11 cap"]
    ledger.settle(
        ledger.reserve(model="m", request_id="r4", amount_usd=0.2),
        amount_usd=0.2,
        usage=None,
        estimated=False,
    )
    assert [s for s, _ in publisher.sent][1:] == ["Claude spend: alpha passed 100% of its 2026-11 cap"]
    _subject, body = publisher.sent[1]
    assert "Spent: 1.00 USD (100.0% of the cap)" in body and "Threshold crossed: 100%" in body
    assert "further requests are refused" in body


def test_a_hold_left_by_a_killed_invocation_is_charged_by_the_next_reservation(table):
    warnings: list[str] = []
    now = Now(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))
    # Killed mid-call 10 minutes ago: its hold was never settled. Another call is in flight.
    for rid, minutes_ago in (("killed", 10), ("running", 1)):
        table.reserve(
            project="alpha",
            period="2026-11",
            request_id=rid,
            amount_micro=200_000,
            cap_micro=1_000_000,
            model="m",
            now_epoch=int(now.moment.timestamp()) - minutes_ago * 60,
        )
    ledger = ProjectSpendLedger(
        table=table,
        project="alpha",
        hard=True,
        cap_usd=1.0,
        thresholds=(),
        publisher=None,
        now=now,
        log_warning=lambda msg, fields: warnings.append(msg),
        stale_after_s=180,  # a 2-minute function timeout plus a minute
    )
    # And one killed just before midnight at the end of October.
    table.reserve(
        project="alpha",
        period="2026-10",
        request_id="october",
        amount_micro=50_000,
        cap_micro=1_000_000,
        model="m",
        now_epoch=int(datetime(2026, 10, 31, 23, 59, tzinfo=UTC).timestamp()),
    )
    ledger.reserve(model="m", request_id="new", amount_usd=0.1)
    october = table.month("alpha", "2026-10", with_holds=True)
    assert (october.open_reservations, october.estimated_micro, october.reserved_micro) == ((), 50_000, 0)
    state = table.month("alpha", "2026-11", with_holds=True)
    assert sorted(r.request_id for r in state.open_reservations) == ["new", "running"]
    assert (state.spent_micro, state.estimated_micro, state.estimated_requests) == (200_000, 200_000, 1)
    assert state.committed_micro == 500_000  # the killed hold stays counted, now as estimated spend
    assert warnings == ["spend ledger charged holds left by killed invocations as estimated spend"]


def test_the_stack_tells_the_function_when_a_hold_is_stale():
    import json

    from claude_platform.config import STALE_HOLD_GRACE_S, load_config, runtime_settings
    from claude_platform.function_settings import FunctionSettings

    raw = {
        "region": "us-east-1",
        "projects": [
            {
                "name": "alpha",
                "models": ["claude-haiku-4-5"],
                "monthly_budget_usd": 10,
                "lambda_timeout_seconds": 90,
            }
        ],
    }
    (project,) = load_config(raw).projects
    arns = {"claude-haiku-4-5": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"}
    doc = runtime_settings(project, arns, ledger_table="ledger")
    assert (
        FunctionSettings.model_validate(json.loads(json.dumps(doc))).spend.stale_after_s
        == 90 + STALE_HOLD_GRACE_S
    )
