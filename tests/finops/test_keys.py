"""`claude-finops keys`: create prints a key once, list and revoke never show one; moto DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from finops_testkit import NOW, Clients, run_cli
from moto import mock_aws

from claude_platform.api_keys import (
    KEY_PREFIX,
    ApiKeyError,
    ApiKeyStore,
    generate_key,
    key_hash,
    looks_like_key,
)

TABLE = "claude-spend-ledger"


@pytest.fixture
def aws() -> Iterator[Clients]:
    with mock_aws():
        clients = Clients(moto_services={"dynamodb"})
        clients.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield clients


def _items(aws: Clients, project: str) -> list[dict]:
    return aws.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": project}},
    )["Items"]


def test_keys_are_random_256_bit_with_a_prefix():
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith(KEY_PREFIX) and looks_like_key(key)
        assert len(key) - len(KEY_PREFIX) == 43  # 32 bytes in unpadded base64url
    assert not looks_like_key(KEY_PREFIX + "x" * 42)
    assert not looks_like_key("sk-ant-" + "x" * 43)


def test_create_prints_the_key_once_and_stores_only_its_hash(aws: Clients):
    run = run_cli(["--format", "json", "keys", "create", "--project", "data-science", "--name", "alice"], aws)
    assert run.code == 0, run.err
    document = json.loads(run.out)
    key = document["key"]
    assert looks_like_key(key)
    assert document["name"] == "alice" and document["status"] == "active"
    items = _items(aws, "data-science")
    assert {i["sk"]["S"] for i in items} == {f"key#{key_hash(key)}", "keyname#alice"}
    stored = json.dumps(items)
    assert key not in stored and key[len(KEY_PREFIX) :] not in stored
    record = next(i for i in items if i["sk"]["S"].startswith("key#"))
    assert record["key_name"]["S"] == "alice"
    assert record["created_at"]["S"] == NOW.isoformat(timespec="seconds")
    assert "revoked_at" not in record
    # Table format: the key alone on stdout, the warning on stderr.
    run = run_cli(["keys", "create", "--project", "data-science", "--name", "bob"], aws)
    assert run.code == 0 and looks_like_key(run.out.strip())
    assert "cannot be shown again" in run.err


def test_list_never_shows_key_material(aws: Clients):
    created = json.loads(
        run_cli(["--format", "json", "keys", "create", "--project", "data-science", "--name", "ci"], aws).out
    )
    for fmt in ("table", "csv", "json"):
        run = run_cli(["keys", "list", "--project", "data-science", "--format", fmt], aws)
        assert run.code == 0, run.err
        assert created["key"] not in run.out + run.err
        assert KEY_PREFIX not in run.out
        assert "ci" in run.out and created["key_id"] in run.out
    rows = json.loads(run.out)["rows"]
    assert rows == [
        {
            "project": "data-science",
            "name": "ci",
            "key_id": key_hash(created["key"])[:12],
            "status": "active",
            "monthly_cap_usd": None,
            "requests_per_minute": None,
            "tokens_per_minute": None,
            "alert_thresholds": [],
            "period": "2026-11",
            "spent_usd": 0.0,
            "reserved_usd": 0.0,
            "cap_used_pct": None,
            "created_at": NOW.isoformat(timespec="seconds"),
            "revoked_at": None,
        }
    ]


def test_names_are_unique_per_project_among_active_keys(aws: Clients):
    assert run_cli(["keys", "create", "--project", "data-science", "--name", "alice"], aws).code == 0
    run = run_cli(["keys", "create", "--project", "data-science", "--name", "alice"], aws)
    assert run.code == 1
    assert run.err.count("\n") == 1 and "already named 'alice'" in run.err
    # Another project may use the name.
    assert run_cli(["keys", "create", "--project", "support-bot", "--name", "alice"], aws).code == 0


def test_revoke_marks_the_key_and_frees_the_name(aws: Clients):
    first = json.loads(
        run_cli(
            ["--format", "json", "keys", "create", "--project", "data-science", "--name", "alice"], aws
        ).out
    )
    later = NOW + timedelta(hours=1)
    run = run_cli(
        ["keys", "revoke", "--project", "data-science", "--name", "alice", "--format", "json"], aws, now=later
    )
    assert run.code == 0, run.err
    (row,) = json.loads(run.out)["rows"]
    assert row["status"] == "revoked" and row["revoked_at"] == later.isoformat(timespec="seconds")
    store = ApiKeyStore(aws.client("dynamodb"), TABLE)
    record = store.lookup("data-science", key_hash(first["key"]))
    assert record is not None and not record.active
    # Revoking again: nothing active by that name.
    again = run_cli(["keys", "revoke", "--project", "data-science", "--name", "alice"], aws)
    assert again.code == 1 and "no active key named 'alice'" in again.err
    # The name may be taken by a replacement key; both show in the list, the active one first.
    second = json.loads(
        run_cli(
            ["--format", "json", "keys", "create", "--project", "data-science", "--name", "alice"], aws
        ).out
    )
    rows = json.loads(run_cli(["keys", "list", "--project", "data-science", "--format", "json"], aws).out)[
        "rows"
    ]
    assert [(r["key_id"], r["status"]) for r in rows] == [
        (second["key_id"], "active"),
        (first["key_id"], "revoked"),
    ]


def test_lookup_reads_only_the_projects_partition(aws: Clients):
    store = ApiKeyStore(aws.client("dynamodb"), TABLE)
    key, _ = store.create("data-science", "alice", now=NOW)
    assert store.lookup("data-science", key_hash(key)) is not None
    assert store.lookup("support-bot", key_hash(key)) is None


def test_list_pages_through_many_keys(aws: Clients):
    store = ApiKeyStore(aws.client("dynamodb"), TABLE)
    for i in range(30):
        store.create("data-science", f"user-{i:02d}", now=NOW)
    calls = []
    client = aws.client("dynamodb")
    original = client.query

    def query(**kwargs):
        calls.append(kwargs)
        return original(**{**kwargs, "Limit": 7})

    client.query = query
    assert len(list(store.records("data-science"))) == 30
    assert len(calls) > 4


def test_bad_name_project_and_missing_table_are_one_line_errors(aws: Clients):
    run = run_cli(["keys", "create", "--project", "data-science", "--name", "has space"], aws)
    assert run.code == 1 and "key name 'has space'" in run.err and run.err.count("\n") == 1
    run = run_cli(["keys", "list", "--project", "nope"], aws)
    assert run.code == 1 and "--project nope: not in the config" in run.err
    # eu-assistant lives in eu-west-1, where no ledger table exists here.
    run = run_cli(["keys", "list", "--project", "eu-assistant"], aws)
    assert run.code == 1 and "ledger table claude-spend-ledger (eu-west-1) not found" in run.err
    assert "Traceback" not in run.err


def test_store_rejects_bad_names_before_writing(aws: Clients):
    store = ApiKeyStore(aws.client("dynamodb"), TABLE)
    with pytest.raises(ApiKeyError, match="key name"):
        store.create("data-science", "", now=NOW)
    assert _items(aws, "data-science") == []


def test_a_conflicting_transaction_is_not_reported_as_a_taken_name():
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("dynamodb", region_name="us-east-1")
    store = ApiKeyStore(client, TABLE)
    with Stubber(client) as stub:
        for codes in (["ConditionalCheckFailed", "None"], ["TransactionConflict", "None"]):
            stub.add_client_error(
                "transact_write_items",
                service_error_code="TransactionCanceledException",
                response_meta={},
                modeled_fields={"CancellationReasons": [{"Code": c} for c in codes]},
            )
        with pytest.raises(ApiKeyError, match="already named 'alice'"):
            store.create("data-science", "alice", now=NOW)
        with pytest.raises(ApiKeyError, match="collided with another change"):
            store.create("data-science", "alice", now=NOW)


def test_limits_are_set_at_create_changed_by_update_and_listed_with_spend(aws: Clients):
    from claude_platform.ledger import CounterCharge, LedgerTable, SettledUsage, key_month_sk, period_of

    args = ["keys", "create", "--project", "data-science", "--name", "alice", "--monthly-cap-usd", "5"]
    assert run_cli([*args, "--requests-per-minute", "10"], aws).code == 0
    items = {i["sk"]["S"].split("#")[0]: i for i in _items(aws, "data-science")}
    assert items["key"]["monthly_cap_micro"] == {"N": "5000000"} and items["key"]["requests_per_minute"] == {
        "N": "10"
    }
    assert "tokens_per_minute" not in items["key"]
    period = period_of(NOW)
    ledger = LedgerTable(aws.client("dynamodb"), TABLE)
    hold = ledger.reserve(
        project="data-science",
        period=period,
        request_id="r",
        amount_micro=2_000_000,
        cap_micro=None,
        model="m",
        now_epoch=int(NOW.timestamp()),
        also=[CounterCharge(key_month_sk(period, "alice"), 5_000_000)],
    )
    ledger.settle(hold, actual_micro=1_250_000, usage=SettledUsage(), estimated=False, now_epoch=1)
    update = ["keys", "update", "--project", "data-science", "--name", "alice"]
    run = run_cli([*update, "--requests-per-minute", "none", "--tokens-per-minute", "20000"], aws)
    assert run.code == 0, run.err
    rows = json.loads(run_cli(["keys", "list", "--project", "data-science", "--format", "json"], aws).out)[
        "rows"
    ]
    (row,) = rows
    assert row["monthly_cap_usd"] == 5.0 and row["requests_per_minute"] is None
    assert row["tokens_per_minute"] == 20000
    assert row["period"] == period and row["spent_usd"] == 1.25 and row["cap_used_pct"] == 25.0
    assert run_cli([*update], aws).code != 0
    assert run_cli([*update, "--alert-thresholds", "80,50"], aws).code == 0
    rows = json.loads(run_cli(["keys", "list", "--project", "data-science", "--format", "json"], aws).out)[
        "rows"
    ]
    assert rows[0]["alert_thresholds"] == [50.0, 80.0]
    refused = run_cli([*update, "--monthly-cap-usd", "none"], aws)  # thresholds need the cap
    assert refused.code == 1 and "monthly cap" in refused.err
    # argparse: "argument --monthly-cap-usd: '-1': a positive number, or none"
    with pytest.raises(SystemExit):
        run_cli([*update, "--monthly-cap-usd", "-1"], aws)
    assert (
        run_cli(
            ["keys", "update", "--project", "data-science", "--name", "bob", "--requests-per-minute", "1"],
            aws,
        ).code
        != 0
    )


def test_report_by_key_reads_the_ledgers_key_counters(aws: Clients):
    from claude_platform.ledger import CounterCharge, LedgerTable, SettledUsage, key_month_sk, period_of

    run_cli(["keys", "create", "--project", "data-science", "--name", "alice", "--monthly-cap-usd", "2"], aws)
    period = period_of(NOW)
    ledger = LedgerTable(aws.client("dynamodb"), TABLE)
    for name, actual in (("alice", 500_000), ("alice", 250_000), ("bob", 100_000)):
        hold = ledger.reserve(
            project="data-science",
            period=period,
            request_id=name,
            amount_micro=1_000_000,
            cap_micro=None,
            model="m",
            now_epoch=int(NOW.timestamp()),
            also=[CounterCharge(key_month_sk(period, name))],
        )
        ledger.settle(hold, actual_micro=actual, usage=SettledUsage(100, 10), estimated=False, now_epoch=1)
    run = run_cli(["report", "--by", "key", "--project", "data-science", "--format", "json"], aws)
    assert run.code == 0, run.err
    rows = json.loads(run.out)["rows"]
    assert [(r["key"], r["spent_usd"], r["requests"]) for r in rows] == [
        ("alice", 0.75, 2),
        ("bob", 0.1, 1),
        ("TOTAL (keys)", 0.85, 3),
    ]
    assert rows[0]["monthly_cap_usd"] == 2.0 and rows[0]["cap_used_pct"] == 37.5
    assert rows[0]["input_tokens"] == 200 and rows[1]["monthly_cap_usd"] is None
    assert run_cli(["report", "--project", "data-science"], aws).code != 0


def test_create_says_when_nothing_can_enforce_the_keys_limits(aws: Clients, tmp_path):
    import yaml
    from finops_testkit import EXAMPLE

    raw = yaml.safe_load(EXAMPLE.read_text())
    for project in raw["projects"]:
        if project["name"] == "data-science":
            project["enforcement"] = "off"
    config = tmp_path / "projects.yaml"
    config.write_text(yaml.safe_dump(raw))
    args = ["keys", "create", "--project", "data-science", "--name", "alice"]
    run = run_cli([*args, "--monthly-cap-usd", "5"], aws, config=config)
    assert run.code == 0 and "cap and rate limits are not enforced" in run.err
    run = run_cli(["keys", "create", "--project", "data-science", "--name", "bob"], aws, config=config)
    assert "not enforced" not in run.err
