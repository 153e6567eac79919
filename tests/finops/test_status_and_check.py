"""`status` and `check`: moto for DynamoDB, CloudWatch, SNS topics, Budgets and STS; Stubber where
moto has nothing (CloudFormation outputs without its optional dependencies, Bedrock profile tags,
a Lambda invoke without Docker, pending email confirmations)."""

from __future__ import annotations

import io
import json

import pytest
from botocore.response import StreamingBody
from finops_testkit import Clients, run_cli
from moto import mock_aws

from claude_platform.ledger import LedgerTable, SettledUsage

ACCOUNT = "123456789012"
ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/{}"
PROFILES = {"support-bot": {"ClaudeSonnet45": "sb-sonnet", "ClaudeHaiku45": "sb-haiku"}}


def _outputs(project: str, topic_arn: str, *, missing: tuple[str, ...] = ()) -> dict:
    outputs = [
        {"OutputKey": "AlertTopicArn", "OutputValue": topic_arn},
        {"OutputKey": "BudgetName", "OutputValue": f"claude-{project}-monthly-abc123"},
        {
            "OutputKey": "ProxyInvokeArn",
            "OutputValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:claude-{project}-proxy",
        },
    ]
    for prefix, profile in PROFILES.get(
        project, {"ClaudeSonnet45": f"{project}-s", "ClaudeHaiku45": f"{project}-h"}
    ).items():
        if prefix not in missing:
            outputs.append({"OutputKey": f"{prefix}ProfileArn", "OutputValue": ARN.format(profile)})
    return {
        "Stacks": [
            {
                "StackName": f"claude-project-{project}",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": outputs,
            }
        ]
    }


@pytest.fixture
def aws():
    with mock_aws():
        clients = Clients(moto_services={"dynamodb", "cloudwatch", "budgets", "sts", "sns"})
        dynamodb = clients.client("dynamodb")
        dynamodb.create_table(
            TableName="claude-spend-ledger",
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


def test_status_shows_ledger_spend_against_cap_alarms_and_pending(aws: Clients):
    ledger = LedgerTable(aws.client("dynamodb"), "claude-spend-ledger")
    hold = ledger.reserve(
        project="support-bot",
        period="2026-11",
        request_id="a",
        amount_micro=200_000_000,
        cap_micro=400_000_000,
        model="m",
        now_epoch=1,
    )
    ledger.settle(
        hold,
        actual_micro=100_000_000,
        usage=SettledUsage(),
        estimated=False,
        now_epoch=2,
    )
    ledger.count_refusal("support-bot", "2026-11", 400_000_000)
    cfn = aws.stub("cloudformation")
    sns = aws.client("sns")
    topic = sns.create_topic(Name="claude-support-bot-alerts")["TopicArn"]
    elsewhere = sns.create_topic(Name="someone-elses-alerts")["TopicArn"]
    cloudwatch = aws.client("cloudwatch")
    for name, state, actions in (
        ("claude-support-bot-claude-haiku-4-5-throttles", "ALARM", [topic]),
        ("claude-support-bot-proxy-errors", "OK", [topic]),
        ("claude-support-bot-legacy-by-hand", "ALARM", [elsewhere]),  # same prefix, not the project's
        ("claude-data-science-proxy-errors", "OK", []),
    ):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="m",
            Namespace="n",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=actions,
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
    cfn.add_response(
        "describe_stacks", _outputs("support-bot", topic), {"StackName": "claude-project-support-bot"}
    )
    cfn.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id claude-project-data-science does not exist"
    )
    # moto confirms email subscriptions at once; a real one waits, as this page shows.
    pending = Clients()
    pending.stub("sns").add_response(
        "list_subscriptions_by_topic",
        {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Owner": ACCOUNT,
                    "Protocol": "email",
                    "Endpoint": "support-leads@example.com",
                    "TopicArn": topic,
                }
            ]
        },
        {"TopicArn": topic},
    )
    aws.clients[("sns", "us-east-1")] = pending.client("sns")
    result = run_cli(
        ["--format", "json", "status", "--project", "support-bot", "--project", "data-science"], aws
    )
    assert result.code == 0, result.err
    document = json.loads(result.out)
    rows = {r["project"]: r for r in document["rows"]}
    sb = rows["support-bot"]
    assert (sb["spent_usd"], sb["cap_usd"], sb["cap_used_pct"], sb["refusals"]) == (100, 400, 25.0, 1)
    assert sb["profiles"] == "2/2" and sb["models"] == "claude-sonnet-4-5, claude-haiku-4-5"
    assert sb["alarms_firing"] == "1/2 (claude-support-bot-claude-haiku-4-5-throttles)"
    assert sb["pending_subscriptions"] == 1
    ds = rows["data-science"]
    assert (
        ds["profiles"] == "0/2" and ds["spent_usd"] == 0 and ds["cap_usd"] == 1800
    )  # the config's spend_cap_usd while the ledger has no cap yet
    assert ds["alarms_firing"] == "0/1"
    assert any("claude-project-data-science is not deployed" in n for n in document["notes"])
    assert any("support-leads@example.com" in n for n in document["notes"])


def _invoke_answer(body: dict, *, function_error: bool = False) -> dict:
    raw = json.dumps(body).encode()
    answer = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}
    if function_error:
        answer["FunctionError"] = "Unhandled"
    return answer


class _Payload:
    """Matches the invoke payload: a tiny prompt, a small max_tokens, the check's tag."""

    def __eq__(self, other: object) -> bool:
        body = json.loads(other)
        return (
            body["max_tokens"] <= 16
            and body["tags"] == {"purpose": "deploy-check"}
            and len(body["messages"]) == 1
        )

    def __hash__(self) -> int:
        return 0


PAYLOAD = _Payload()


def _prepare_check(aws: Clients, *, answer: dict, tags: dict[str, str], budget: bool = True) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="claude-support-bot-alerts")["TopicArn"]
    if budget:
        aws.client("budgets").create_budget(
            AccountId=ACCOUNT,
            Budget={
                "BudgetName": "claude-support-bot-monthly-abc123",
                "BudgetLimit": {"Amount": "500", "Unit": "USD"},
                "TimeUnit": "MONTHLY",
                "BudgetType": "COST",
            },
        )
    aws.stub("cloudformation").add_response(
        "describe_stacks", _outputs("support-bot", topic), {"StackName": "claude-project-support-bot"}
    )
    aws.stub("lambda").add_response(
        "invoke",
        answer,
        {
            "FunctionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:claude-support-bot-proxy",
            "Payload": PAYLOAD,
        },
    )
    bedrock = aws.stub("bedrock")
    for profile in ("sb-sonnet", "sb-haiku"):
        bedrock.add_response(
            "list_tags_for_resource",
            {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
            {"resourceARN": ARN.format(profile)},
        )


GOOD_TAGS = {
    "project": "support-bot",
    "managed-by": "claude-platform",
    "cost-center": "CC-1042",
    "owner": "support-platform",
}


def test_check_passes_when_everything_is_in_place(aws: Clients):
    answer = {
        "ok": True,
        "model": "claude-sonnet-4-5",
        "content": "ready",
        "usage": {"output_tokens": 2},
        "cost_usd": 0.0001,
        "inference_profile_arn": ARN.format("sb-sonnet"),
    }
    _prepare_check(aws, answer=_invoke_answer(answer), tags=GOOD_TAGS)
    result = run_cli(["--format", "json", "check", "--project", "support-bot"], aws)
    rows = json.loads(result.out)["rows"]
    assert [r["check"] for r in rows] == [
        "stack",
        "invoke",
        "profile claude-sonnet-4-5",
        "profile claude-haiku-4-5",
        "budget",
        "alert topic",
    ]
    assert all(r["ok"] for r in rows), rows
    assert result.code == 0
    aws.assert_no_pending()


def test_check_reports_what_is_not_ready(aws: Clients):
    # The answer came through a profile that is not the project's; the tags lack the cost tag;
    # the budget is missing.
    answer = {"ok": True, "model": "claude-sonnet-4-5", "inference_profile_arn": ARN.format("someone-else")}
    _prepare_check(aws, answer=_invoke_answer(answer), tags={"owner": "support-platform"}, budget=False)
    result = run_cli(["--format", "json", "check", "--project", "support-bot"], aws)
    rows = {r["check"]: r for r in json.loads(result.out)["rows"]}
    assert result.code == 3
    assert not rows["invoke"]["ok"] and "someone-else" in rows["invoke"]["detail"]
    assert (
        not rows["profile claude-haiku-4-5"]["ok"]
        and "project=support-bot" in rows["profile claude-haiku-4-5"]["detail"]
    )
    assert not rows["budget"]["ok"]
    assert rows["alert topic"]["ok"]


def test_check_reports_a_refused_call(aws: Clients):
    answer = {
        "ok": False,
        "error": {"type": "access_denied", "message": "model access not granted", "retryable": False},
    }
    _prepare_check(aws, answer=_invoke_answer(answer), tags=GOOD_TAGS)
    result = run_cli(["--format", "json", "check", "--project", "support-bot"], aws)
    rows = {r["check"]: r for r in json.loads(result.out)["rows"]}
    assert result.code == 3 and rows["invoke"]["detail"] == "access_denied: model access not granted"


def test_invoke_client_waits_longer_than_the_function_and_never_retries(example_platform_project):
    from finops.check import lambda_client_config

    config = lambda_client_config(example_platform_project)
    assert config.read_timeout == example_platform_project.config.lambda_timeout_seconds + 30
    assert config.retries["max_attempts"] == 1


@pytest.fixture
def example_platform_project():
    import yaml
    from finops_testkit import EXAMPLE

    from claude_platform.config import load_config

    platform = load_config(yaml.safe_load(EXAMPLE.read_text()))
    return next(p for p in platform.projects if p.name == "data-science")


def test_status_without_a_ledger_table_says_so_and_goes_on():
    with mock_aws():
        clients = Clients(moto_services={"dynamodb", "cloudwatch", "sns"})
        clients.stub("cloudformation").add_client_error(
            "describe_stacks", "ValidationError", "Stack with id claude-project-support-bot does not exist"
        )
        result = run_cli(["--format", "json", "status", "--project", "support-bot"], clients)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["rows"][0]["spent_usd"] == 0
    assert any("no spend ledger table in us-east-1" in n for n in document["notes"])


def test_alarms_of_a_project_whose_name_extends_another_are_not_counted_twice():
    from finops.status import alarm_states

    with mock_aws():
        cloudwatch = Clients(moto_services={"cloudwatch"}).client("cloudwatch")
        for name in ("claude-support-proxy-errors", "claude-support-bot-proxy-errors"):
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="m",
                Namespace="n",
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanThreshold",
            )
        support = alarm_states(cloudwatch, "claude-support-", other_prefixes=["claude-support-bot-"])
        assert list(support) == ["claude-support-proxy-errors"]
