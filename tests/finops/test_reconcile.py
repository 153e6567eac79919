"""`reconcile`: the arithmetic, and the command against a moto ledger table and a stubbed bill."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from fake_bill import FakeCostExplorer, LineItem, bedrock, infrastructure
from finops_testkit import Clients, run_cli
from moto import mock_aws

from claude_platform.ledger import LedgerTable, MonthState, SettledUsage
from finops.bill_lines import MonthBill
from finops.reconcile import Status, Tolerance, bill_is_final, reconcile_month

FINAL = {"bill_final": True, "tag_active": True, "tolerance": Tolerance()}


def _claude(amount: str) -> MonthBill:
    return MonthBill(claude_usd=Decimal(amount))


def _month(spent: int, estimated: int = 0) -> MonthState:
    return MonthState(project="p", period="2026-10", spent_micro=spent, estimated_micro=estimated)


def test_within_tolerance_is_ok_beyond_is_flagged_with_its_side():
    assert reconcile_month(_month(100_000_000), _claude("100.50"), **FINAL).status is Status.OK  # 0.5% < 1%
    high = reconcile_month(_month(100_000_000), _claude("102"), **FINAL)
    assert (high.status, high.difference_usd) == (Status.DIFFERS, Decimal("2"))
    assert "bill shows more" in high.note
    low = reconcile_month(_month(100_000_000), _claude("97"), **FINAL)
    assert low.status is Status.DIFFERS and "ledger shows more" in low.note
    # Absolute floor: a cent on a tiny bill is fine, two are not.
    assert reconcile_month(_month(10_000), _claude("0.02"), **FINAL).status is Status.OK
    assert reconcile_month(_month(10_000), _claude("0.04"), **FINAL).status is Status.DIFFERS
    strict = Tolerance(usd=Decimal(0), percent=Decimal(0))
    assert (
        reconcile_month(
            _month(100_000_000), _claude("100.000001"), bill_final=True, tag_active=True, tolerance=strict
        ).status
        is Status.DIFFERS
    )


def test_estimates_settle_to_what_the_bill_shows_bounded_by_zero_and_worst_case():
    # Exact part 10 USD, estimates (worst case) 5 USD; the bill says 12 USD: the estimated calls cost 2.
    result = reconcile_month(_month(15_000_000, 5_000_000), _claude("12"), **FINAL)
    assert result.status is Status.WOULD_SETTLE
    assert result.corrected_estimates_micro == 2_000_000
    # The bill shows less than the exact part: estimates go to zero, never negative.
    assert (
        reconcile_month(_month(15_000_000, 5_000_000), _claude("9"), **FINAL).corrected_estimates_micro == 0
    )
    # The bill shows more than even the worst case: estimates stay at the worst case (never raised
    # past what the ledger can explain), and the note says the difference remains.
    over = reconcile_month(_month(15_000_000, 5_000_000), _claude("20"), **FINAL)
    assert over.corrected_estimates_micro == 5_000_000 and "still beyond tolerance" in over.note
    # Fractions of a micro-dollar on the bill round up: money is never under-counted.
    assert (
        reconcile_month(
            _month(15_000_000, 5_000_000), _claude("12.0000001"), **FINAL
        ).corrected_estimates_micro
        == 2_000_001
    )


def test_not_final_and_inactive_tag_never_settle():
    not_final = reconcile_month(
        _month(15_000_000, 5_000_000), _claude("12"), bill_final=False, tag_active=True, tolerance=Tolerance()
    )
    assert not_final.status is Status.NOT_FINAL and not_final.corrected_estimates_micro is None
    assert "2026-11-04 00:00" in not_final.note  # 72 h after the month ends
    inactive = reconcile_month(
        _month(15_000_000), _claude("0"), bill_final=True, tag_active=False, tolerance=Tolerance()
    )
    assert inactive.status is Status.TAG_NOT_ACTIVE and "activate-tags" in inactive.note


def test_a_project_without_ledger_is_not_flagged():
    off = reconcile_month(_month(0), _claude("40"), ledger_on=False, **FINAL)
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


def _fake_bill(amounts: dict[str, str], *, estimated: bool = False, extra: tuple = ()) -> FakeCostExplorer:
    """Each project's amount as one Bedrock usage line of October, plus `extra` line items."""
    return FakeCostExplorer([bedrock(k, v) for k, v in amounts.items()] + list(extra), estimated=estimated)


def _rows(run) -> dict[str, dict]:
    return {r["project"]: r for r in json.loads(run.out)["rows"]}


def test_reconcile_reports_then_apply_settles_estimates_in_the_ledger(moto_ledger):
    ledger = moto_ledger
    amounts = {"support-bot": "12.000000", "data-science": "53.00", "legacy-summarizer": "0.50"}
    clients = Clients(moto_services={"dynamodb"}, fakes={"ce": _fake_bill(amounts)})
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
    dry = run_cli(["--format", "json", "reconcile", "--month", "2026-10"], clients, now=now)
    assert dry.code == 3  # estimates to settle, a difference
    rows = {r["project"]: r for r in json.loads(dry.out)["rows"]}
    assert rows["support-bot"]["status"] == "estimates to settle"
    assert rows["data-science"]["status"] == "differs" and rows["data-science"]["difference_usd"] == 3
    assert rows["legacy-summarizer"]["ledger_usd"] == 0  # the open hold is not spend yet
    assert ledger.month("support-bot", "2026-10").spent_micro == 15_000_000  # dry run wrote nothing

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

    again = run_cli(
        ["--format", "json", "reconcile", "--month", "2026-10", "--project", "support-bot"], clients, now=now
    )
    (row,) = json.loads(again.out)["rows"]
    assert (again.code, row["status"]) == (0, "ok")
    clients.assert_no_pending()


def test_reconcile_waits_for_a_final_bill(moto_ledger):
    clients = Clients(moto_services={"dynamodb"}, fakes={"ce": _fake_bill({"support-bot": "1"})})
    _spend(moto_ledger, "support-bot", "2026-10", 5_000_000, estimated=True, request_id="b")
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
    # --start/--end inside October: the bill is still asked for the whole month, like the ledger's.
    ce = FakeCostExplorer([])
    clients = Clients(moto_services={"dynamodb"}, fakes={"ce": ce})
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
    assert {c["TimePeriod"]["Start"] for c in ce.calls} == {"2026-10-01"}
    assert {c["TimePeriod"]["End"] for c in ce.calls} == {"2026-11-01"}


def test_a_region_without_the_ledger_table_is_flagged_not_fatal(moto_ledger):
    boto3.client("dynamodb", region_name="eu-west-1").delete_table(TableName="claude-spend-ledger")
    clients = Clients(moto_services={"dynamodb"}, fakes={"ce": _fake_bill({"eu-assistant": "4"})})
    result = run_cli(
        ["--format", "json", "reconcile", "--month", "2026-10"],
        clients,
        now=datetime(2026, 11, 10, tzinfo=UTC),
    )
    rows = {r["project"]: r for r in json.loads(result.out)["rows"]}
    assert rows["eu-assistant"]["status"] == "no ledger table" and "eu-west-1" in rows["eu-assistant"]["note"]
    assert rows["support-bot"]["status"] == "ok"
    assert result.code == 3


# --- like with like: only the tag's Claude usage lines are compared -------------------------------

NOW_FINAL = datetime(2026, 11, 10, tzinfo=UTC)


def _reconcile(ledger_lines: list[LineItem], *extra_args: str, apply: bool = False):
    ce = FakeCostExplorer(ledger_lines)
    clients = Clients(moto_services={"dynamodb"}, fakes={"ce": ce})
    argv = ["--format", "json", "reconcile", "--month", "2026-10", "--project", "support-bot", *extra_args]
    run = run_cli([*argv, "--apply"] if apply else argv, clients, now=NOW_FINAL)
    return run, _rows(run)["support-bot"], ce


def test_an_exact_ledger_plus_infrastructure_cost_is_ok_and_infrastructure_has_its_own_line(moto_ledger):
    _spend(moto_ledger, "support-bot", "2026-10", 10_000_000, estimated=False, request_id="a")
    run, row, ce = _reconcile([bedrock("support-bot", "10.00"), *infrastructure("support-bot", "0.90")])
    assert (run.code, row["status"], row["bill_usd"], row["difference_usd"]) == (0, "ok", 10, 0)
    assert row["infrastructure_usd"] == 0.9
    assert (
        row["infrastructure_services"] == "AWS Lambda, Amazon Simple Notification Service, AmazonCloudWatch"
    )
    assert row["claude_services"] == "Amazon Bedrock" and row["unclassified_usd"] == 0
    # What was asked: usage record types only, grouped by tag and SERVICE; the rest by record type.
    assert len(ce.calls) == 3  # four usage groups over two pages (every page followed), then the rest
    usage, other = ce.calls[0], ce.calls[-1]
    assert usage["Filter"] == {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}}
    assert usage["GroupBy"] == [{"Type": "TAG", "Key": "project"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
    assert other["Filter"] == {"Not": usage["Filter"]}
    notes = json.loads(run.out)["notes"]
    assert any("'Amazon Bedrock'" in n and "unverified" in n and "--claude-service" in n for n in notes)


def test_an_estimate_is_corrected_to_the_claude_lines_not_to_the_whole_tagged_bill(moto_ledger):
    # Exact 1.00, one timed-out call charged at its worst case 2.00 that really cost 0.50.
    _spend(moto_ledger, "support-bot", "2026-10", 1_000_000, estimated=False, request_id="a")
    _spend(moto_ledger, "support-bot", "2026-10", 2_000_000, estimated=True, request_id="b")
    lines = [bedrock("support-bot", "1.50"), *infrastructure("support-bot", "0.90")]
    _, row, _ = _reconcile(lines)
    assert row["status"] == "estimates to settle" and "2 -> 0.5 USD" in row["note"]
    _, row, _ = _reconcile(lines, apply=True)
    assert row["status"] == "estimates settled" and row["ledger_usd"] == 1.5
    month = moto_ledger.month("support-bot", "2026-10")
    assert (month.spent_micro, month.estimated_micro, month.corrections_micro) == (1_500_000, 0, -1_500_000)


def test_credits_that_net_the_bill_to_zero_never_reduce_an_estimate(moto_ledger):
    _spend(moto_ledger, "support-bot", "2026-10", 1_000_000, estimated=False, request_id="a")
    _spend(moto_ledger, "support-bot", "2026-10", 2_000_000, estimated=True, request_id="b")
    lines = [
        bedrock("support-bot", "1.50"),
        *infrastructure("support-bot", "0.90"),
        bedrock("support-bot", "-1.50", record_type="Credit"),
        LineItem("support-bot", "AWS Lambda", "-0.90", record_type="Credit"),
        LineItem("support-bot", "Amazon Bedrock", "0.00", record_type="Tax"),
    ]
    _, row, _ = _reconcile(lines, apply=True)
    assert (
        row["status"] == "estimates settled" and row["ledger_usd"] == 1.5
    )  # not 1.00: the credit is not usage
    assert row["not_usage_usd"] == -2.4 and "Credit lines not compared" in row["note"]
    assert moto_ledger.month("support-bot", "2026-10").spent_micro == 1_500_000


def test_usage_lines_of_unknown_services_are_reported_and_never_let_an_estimate_drop(moto_ledger):
    _spend(moto_ledger, "support-bot", "2026-10", 1_000_000, estimated=False, request_id="a")
    _spend(moto_ledger, "support-bot", "2026-10", 2_000_000, estimated=True, request_id="b")
    # Claude billed under a Marketplace name the table does not know, and a stray tagged EC2 line.
    lines = [
        LineItem("support-bot", "Anthropic Claude on Bedrock", "1.50"),
        LineItem("support-bot", "Amazon Elastic Compute Cloud - Compute", "0.25"),
    ]
    run, row, _ = _reconcile(lines)
    assert run.code == 3 and row["bill_usd"] == 0 and row["unclassified_usd"] == 1.75
    assert (
        row["unclassified_services"] == "Amazon Elastic Compute Cloud - Compute, Anthropic Claude on Bedrock"
    )
    assert "--claude-service" in row["note"] and "Anthropic Claude on Bedrock" in row["note"]
    # Settling counts the unclassified lines as possible Claude: 1.75 - 1.00, never 0.
    assert "2 -> 0.75 USD" in row["note"]
    # Named as Claude, the line is compared; the EC2 line stays unclassified.
    run, row, _ = _reconcile(lines, "--claude-service", "Anthropic Claude*")
    assert row["bill_usd"] == 1.5 and row["claude_services"] == "Anthropic Claude on Bedrock"
    assert row["unclassified_usd"] == 0.25 and "2 -> 0.75 USD" in row["note"]


def test_the_service_table_classifies_claude_infrastructure_and_the_rest():
    from finops.bill_lines import LineKind, classify, service_patterns

    patterns = service_patterns()
    assert classify("Amazon Bedrock", patterns) is LineKind.CLAUDE
    assert classify("Claude Sonnet 4.5 (Amazon Bedrock Edition)", patterns) is LineKind.CLAUDE
    assert classify("AWS Lambda", patterns) is LineKind.INFRASTRUCTURE
    assert classify("AmazonCloudWatch", patterns) is LineKind.INFRASTRUCTURE
    assert classify("amazon bedrock", patterns) is LineKind.UNCLASSIFIED  # names are exact, case included
    assert classify("Amazon Bedrock Agents", patterns) is LineKind.UNCLASSIFIED
    assert classify("AWS Lambda", service_patterns(["AWS Lambda"])) is LineKind.CLAUDE


def test_the_table_output_shows_the_separate_lines(moto_ledger):
    _spend(moto_ledger, "support-bot", "2026-10", 10_000_000, estimated=False, request_id="a")
    ce = FakeCostExplorer([bedrock("support-bot", "10.00"), *infrastructure("support-bot", "0.90")])
    clients = Clients(moto_services={"dynamodb"}, fakes={"ce": ce})
    run = run_cli(["reconcile", "--month", "2026-10", "--project", "support-bot"], clients, now=NOW_FINAL)
    assert run.code == 0
    for heading in (
        "Claude bill USD",
        "infrastructure USD",
        "unclassified USD",
        "credits etc. USD",
        "counted as Claude",
    ):
        assert heading in run.out
