"""`reconcile`: the arithmetic, and the command against a moto ledger table and a stubbed bill."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from finops_testkit import Clients, run_cli
from moto import mock_aws

from claude_platform.ledger import LedgerTable, MonthState, SettledUsage
from finops.reconcile import Status, Tolerance, bill_is_final, reconcile_month

FINAL = {"bill_final": True, "tag_active": True, "tolerance": Tolerance()}


def _month(spent: int, estimated: int = 0) -> MonthState:
    return MonthState(project="p", period="2026-10", spent_micro=spent, estimated_micro=estimated)


def test_within_tolerance_is_ok_beyond_is_flagged_with_its_side():
    assert reconcile_month(_month(100_000_000), Decimal("100.50"), **FINAL).status is Status.OK  # 0.5% < 1%
    high = reconcile_month(_month(100_000_000), Decimal("102"), **FINAL)
    assert (high.status, high.difference_usd) == (Status.DIFFERS, Decimal("2"))
    assert "bill shows more" in high.note
    low = reconcile_month(_month(100_000_000), Decimal("97"), **FINAL)
    assert low.status is Status.DIFFERS and "ledger shows more" in low.note
    # Absolute floor: a cent on a tiny bill is fine, two are not.
    assert reconcile_month(_month(10_000), Decimal("0.02"), **FINAL).status is Status.OK
    assert reconcile_month(_month(10_000), Decimal("0.04"), **FINAL).status is Status.DIFFERS
    strict = Tolerance(usd=Decimal(0), percent=Decimal(0))
    assert (
        reconcile_month(
            _month(100_000_000), Decimal("100.000001"), bill_final=True, tag_active=True, tolerance=strict
        ).status
        is Status.DIFFERS
    )


def test_estimates_settle_to_what_the_bill_shows_bounded_by_zero_and_worst_case():
    # Exact part 10 USD, estimates (worst case) 5 USD; the bill says 12 USD: the estimated calls cost 2.
    result = reconcile_month(_month(15_000_000, 5_000_000), Decimal("12"), **FINAL)
    assert result.status is Status.WOULD_SETTLE
    assert result.corrected_estimates_micro == 2_000_000
    # The bill shows less than the exact part: estimates go to zero, never negative.
    assert (
        reconcile_month(_month(15_000_000, 5_000_000), Decimal("9"), **FINAL).corrected_estimates_micro == 0
    )
    # The bill shows more than even the worst case: estimates stay at the worst case (never raised
    # past what the ledger can explain), and the note says the difference remains.
    over = reconcile_month(_month(15_000_000, 5_000_000), Decimal("20"), **FINAL)
    assert over.corrected_estimates_micro == 5_000_000 and "still beyond tolerance" in over.note
    # Fractions of a micro-dollar on the bill round up: money is never under-counted.
    assert (
        reconcile_month(
            _month(15_000_000, 5_000_000), Decimal("12.0000001"), **FINAL
        ).corrected_estimates_micro
        == 2_000_001
    )


def test_not_final_and_inactive_tag_never_settle():
    not_final = reconcile_month(
        _month(15_000_000, 5_000_000), Decimal("12"), bill_final=False, tag_active=True, tolerance=Tolerance()
    )
    assert not_final.status is Status.NOT_FINAL and not_final.corrected_estimates_micro is None
    assert "2026-11-04 00:00" in not_final.note  # 72 h after the month ends
    inactive = reconcile_month(
        _month(15_000_000), Decimal("0"), bill_final=True, tag_active=False, tolerance=Tolerance()
    )
    assert inactive.status is Status.TAG_NOT_ACTIVE and "activate-tags" in inactive.note


def test_a_project_without_ledger_is_not_flagged():
    off = reconcile_month(_month(0), Decimal("40"), ledger_on=False, **FINAL)
    assert off.status is Status.NO_LEDGER and off.corrected_estimates_micro is None


def test_bill_final_only_72_hours_after_month_end_and_not_estimated():
    assert not bill_is_final("2026-10", now=datetime(2026, 11, 3, 23, 59, tzinfo=UTC), ce_estimated=False)
    assert bill_is_final("2026-10", now=datetime(2026, 11, 4, 0, 0, tzinfo=UTC), ce_estimated=False)
    assert not bill_is_final("2026-10", now=datetime(2026, 12, 1, tzinfo=UTC), ce_estimated=True)


# --- the command ---------------------------------------------------------------------------------


def _create_ledger_table(region: str):
    dynamodb = boto3.client("dynamodb", region_name=region)
    dynamodb.create_table(
        TableName="claude-spend-ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@pytest.fixture
def moto_ledger():
    """The ledger table in both regions of the example config (eu-assistant lives in eu-west-1)."""
    with mock_aws():
        dynamodb = _create_ledger_table("us-east-1")
        _create_ledger_table("eu-west-1")
        yield LedgerTable(dynamodb, "claude-spend-ledger")


def _spend(
    ledger: LedgerTable, project: str, period: str, micro: int, *, estimated: bool, request_id: str
) -> None:
    hold = ledger.reserve(
        project=project,
        period=period,
        request_id=request_id,
        amount_micro=micro,
        cap_micro=None,
        model="m",
        now_epoch=1,
    )
    ledger.settle(
        hold,
        actual_micro=micro,
        usage=SettledUsage(input_tokens=10),
        estimated=estimated,
        now_epoch=2,
    )


def _bill(ce, amounts: dict[str, str], *, estimated: bool = False) -> None:
    ce.add_response(
        "list_cost_allocation_tags",
        {"CostAllocationTags": [{"TagKey": "project", "Type": "UserDefined", "Status": "Active"}]},
        {"TagKeys": ["project"], "Type": "UserDefined"},
    )
    ce.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
                    "Total": {},
                    "Estimated": estimated,
                    "Groups": [
                        {"Keys": [f"project${k}"], "Metrics": {"UnblendedCost": {"Amount": v, "Unit": "USD"}}}
                        for k, v in amounts.items()
                    ],
                }
            ]
        },
        {
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "TAG", "Key": "project"}],
        },
    )


def test_reconcile_reports_then_apply_settles_estimates_in_the_ledger(moto_ledger):
    clients = Clients(moto_services={"dynamodb"})
    ledger = moto_ledger
    _spend(ledger, "support-bot", "2026-10", 10_000_000, estimated=False, request_id="a")
    _spend(ledger, "support-bot", "2026-10", 5_000_000, estimated=True, request_id="b")
    _spend(ledger, "data-science", "2026-10", 50_000_000, estimated=False, request_id="c")
    # A hold whose function died before settling: --apply charges it (estimated) before comparing.
    ledger.reserve(
        project="legacy-summarizer",
        period="2026-10",
        request_id="dead",
        amount_micro=3_000_000,
        cap_micro=None,
        model="m",
        now_epoch=1,
    )
    now = datetime(2026, 11, 10, tzinfo=UTC)
    ce = clients.stub("ce")
    amounts = {"support-bot": "12.000000", "data-science": "53.00", "legacy-summarizer": "0.50"}

    _bill(ce, amounts)
    dry = run_cli(["--format", "json", "reconcile", "--month", "2026-10"], clients, now=now)
    assert dry.code == 3  # estimates to settle, a difference
    rows = {r["project"]: r for r in json.loads(dry.out)["rows"]}
    assert rows["support-bot"]["status"] == "estimates to settle"
    assert rows["data-science"]["status"] == "differs" and rows["data-science"]["difference_usd"] == 3
    assert rows["legacy-summarizer"]["ledger_usd"] == 0  # the open hold is not spend yet
    assert ledger.month("support-bot", "2026-10").spent_micro == 15_000_000  # dry run wrote nothing

    _bill(ce, amounts)
    applied = run_cli(["--format", "json", "reconcile", "--month", "2026-10", "--apply"], clients, now=now)
    rows = {r["project"]: r for r in json.loads(applied.out)["rows"]}
    assert rows["support-bot"]["status"] == "estimates settled"
    assert rows["support-bot"]["ledger_usd"] == 12 and rows["support-bot"]["difference_usd"] == 0
    month = ledger.month("support-bot", "2026-10")
    assert (month.spent_micro, month.estimated_micro, month.corrections_micro) == (12_000_000, 0, -3_000_000)
    # The dead hold was charged at its worst case, then settled to the bill's 0.50.
    legacy = ledger.month("legacy-summarizer", "2026-10", with_holds=True)
    assert legacy.open_reservations == () and legacy.spent_micro == 500_000
    assert rows["data-science"]["status"] == "differs"
    assert applied.code == 3

    _bill(ce, amounts)
    again = run_cli(
        ["--format", "json", "reconcile", "--month", "2026-10", "--project", "support-bot"], clients, now=now
    )
    (row,) = json.loads(again.out)["rows"]
    assert (again.code, row["status"]) == (0, "ok")
    clients.assert_no_pending()


def test_reconcile_waits_for_a_final_bill(moto_ledger):
    clients = Clients(moto_services={"dynamodb"})
    _spend(moto_ledger, "support-bot", "2026-10", 5_000_000, estimated=True, request_id="b")
    _bill(clients.stub("ce"), {"support-bot": "1"})
    result = run_cli(
        ["--format", "json", "reconcile", "--month", "2026-10", "--apply"],
        clients,
        now=datetime(2026, 11, 2, tzinfo=UTC),
    )
    rows = {r["project"]: r for r in json.loads(result.out)["rows"]}
    assert rows["support-bot"]["status"] == "bill not final"
    assert moto_ledger.month("support-bot", "2026-10").estimated_micro == 5_000_000
    assert result.code == 0


def test_a_month_without_spend_is_final_and_partial_ranges_compare_whole_months(moto_ledger):
    clients = Clients(moto_services={"dynamodb"})
    ce = clients.stub("ce")
    ce.add_response(
        "list_cost_allocation_tags",
        {"CostAllocationTags": [{"TagKey": "project", "Type": "UserDefined", "Status": "Active"}]},
    )
    # --start/--end inside October: the bill is still asked for the whole month, like the ledger's.
    ce.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
                    "Total": {},
                    "Groups": [],
                    "Estimated": False,
                }
            ]
        },
        {
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "TAG", "Key": "project"}],
        },
    )
    result = run_cli(
        [
            "--format",
            "json",
            "reconcile",
            "--start",
            "2026-10-10",
            "--end",
            "2026-10-20",
            "--project",
            "support-bot",
        ],
        clients,
        now=datetime(2026, 11, 10, tzinfo=UTC),
    )
    (row,) = json.loads(result.out)["rows"]
    assert (result.code, row["status"], row["bill_final"], row["bill_usd"]) == (0, "ok", True, 0)
    clients.assert_no_pending()


def test_a_region_without_the_ledger_table_is_flagged_not_fatal(moto_ledger):
    boto3.client("dynamodb", region_name="eu-west-1").delete_table(TableName="claude-spend-ledger")
    clients = Clients(moto_services={"dynamodb"})
    _bill(clients.stub("ce"), {"eu-assistant": "4"})
    result = run_cli(
        ["--format", "json", "reconcile", "--month", "2026-10"],
        clients,
        now=datetime(2026, 11, 10, tzinfo=UTC),
    )
    rows = {r["project"]: r for r in json.loads(result.out)["rows"]}
    assert rows["eu-assistant"]["status"] == "no ledger table" and "eu-west-1" in rows["eu-assistant"]["note"]
    assert rows["support-bot"]["status"] == "ok"
    assert result.code == 3
