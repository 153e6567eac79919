"""`activate-tags` and the custom resource handler: Stubber with the real API's shapes and errors."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from finops_testkit import Clients, run_cli

from claude_platform import cost_tags

CONFIG_KEYS = ["project", "cost-center", "managed-by", "owner"]  # the example config's keys, tag key first


def _listed(stub, statuses: dict[str, str], keys: list[str] = CONFIG_KEYS) -> None:
    stub.add_response(
        "list_cost_allocation_tags",
        {
            "CostAllocationTags": [
                {"TagKey": k, "Type": "UserDefined", "Status": s, "LastUsedDate": "2026-11-19T00:00:00Z"}
                for k, s in statuses.items()
            ]
        },
        {"TagKeys": keys, "Type": "UserDefined"},
    )


def test_reports_activated_already_active_not_seen_and_failed(clients: Clients):
    ce = clients.stub("ce")
    _listed(ce, {"project": "Inactive", "cost-center": "Active", "owner": "Inactive"})
    ce.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": [{"TagKey": "owner", "Code": "TagKeysNotFoundException", "Message": "Tag key not found"}]},
        {
            "CostAllocationTagsStatus": [
                {"TagKey": "project", "Status": "Active"},
                {"TagKey": "owner", "Status": "Active"},
            ]
        },
    )
    result = run_cli(["--format", "json", "activate-tags"], clients)
    rows = {r["tag_key"]: r for r in json.loads(result.out)["rows"]}
    assert [r for r in rows] == CONFIG_KEYS
    assert rows["project"]["result"] == "activated"
    assert rows["cost-center"]["result"] == "already active"
    assert (
        rows["managed-by"]["result"] == "not seen yet" and "try again later" in rows["managed-by"]["detail"]
    )
    assert rows["owner"]["result"] == "failed" and "TagKeysNotFoundException" in rows["owner"]["detail"]
    assert result.code == 1  # a failure


def test_not_seen_yet_exits_2_and_all_active_exits_0(clients: Clients):
    ce = clients.stub("ce")
    _listed(ce, {"project": "Active"}, keys=["project", "team"])
    waiting = run_cli(["activate-tags", "--keys", "project", "team"], clients)
    assert waiting.code == 3 and "not seen yet" in waiting.out
    _listed(ce, {"project": "Active"}, keys=["project"])
    done = run_cli(["activate-tags", "--keys", "project"], clients)
    assert done.code == 0 and "already active" in done.out


def test_more_than_20_keys_are_activated_in_batches_of_20(clients: Clients):
    keys = [f"k{i:02d}" for i in range(25)]
    ce = clients.stub("ce")
    _listed(ce, dict.fromkeys(keys, "Inactive"), keys=keys)
    ce.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": []},
        {"CostAllocationTagsStatus": [{"TagKey": k, "Status": "Active"} for k in keys[:20]]},
    )
    ce.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": []},
        {"CostAllocationTagsStatus": [{"TagKey": k, "Status": "Active"} for k in keys[20:]]},
    )
    result = run_cli(["--format", "csv", "activate-tags", "--keys", *keys], clients)
    assert result.code == 0
    assert result.out.count(",activated,") == 25


def test_member_account_gets_the_management_account_explanation(clients: Clients):
    ce = clients.stub("ce")
    ce.add_client_error(
        "list_cost_allocation_tags",
        "AccessDeniedException",
        "Linked account doesn't have access to cost allocation tags.",
    )
    result = run_cli(["activate-tags"], clients)
    assert result.code == 1
    assert "management (payer) account" in result.err and len(result.err.strip().splitlines()) == 1


def test_throttling_is_one_line(clients: Clients):
    clients.stub("ce").add_client_error(
        "list_cost_allocation_tags", "LimitExceededException", "Rate exceeded"
    )
    result = run_cli(["activate-tags"], clients)
    assert result.code == 1 and "throttled" in result.err


# --- the Lambda handler (custom resource and daily schedule) ------------------------------------


CFN_RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
    "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/claude-platform/x?X-Amz-Signature=abc"
)


@pytest.fixture
def cfn_endpoint(monkeypatch):
    """Captures what the handler PUTs (the response URL is CloudFormation's S3 host, not reachable)."""
    received: list[dict] = []
    urls: list[str] = []

    class _Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b""

    def urlopen(request, timeout):
        assert request.get_method() == "PUT"
        urls.append(request.full_url)
        received.append(json.loads(request.data))
        return _Response()

    monkeypatch.setattr(cost_tags.urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("TAG_KEYS", "project,owner")
    yield CFN_RESPONSE_URL, received


@pytest.fixture
def stubbed_ce(monkeypatch):
    ce = boto3.client("ce", region_name="us-east-1")
    stub = Stubber(ce)
    stub.activate()
    monkeypatch.setattr(boto3, "client", lambda service, **kwargs: ce if service == "ce" else None)
    yield stub
    stub.assert_no_pending_responses()


def _event(url: str, request_type: str) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/claude-platform/x",
        "RequestId": "r-1",
        "LogicalResourceId": "CostTagActivation",
        "ResourceProperties": {"ServiceToken": "arn", "TagKeys": ["project", "owner"]},
    }


def test_custom_resource_activates_and_always_reports_success(cfn_endpoint, stubbed_ce):
    url, received = cfn_endpoint
    _listed(stubbed_ce, {"project": "Inactive"}, keys=["project", "owner"])
    stubbed_ce.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": []},
        {"CostAllocationTagsStatus": [{"TagKey": "project", "Status": "Active"}]},
    )
    summary = cost_tags.lambda_handler(_event(url, "Create"), None)
    assert summary == {"Activated": "project", "Not_seen_yet": "owner"}
    (response,) = received
    assert response["Status"] == "SUCCESS" and response["Data"] == summary
    assert (response["RequestId"], response["LogicalResourceId"]) == ("r-1", "CostTagActivation")


def test_custom_resource_in_a_member_account_succeeds_and_says_why(cfn_endpoint, stubbed_ce):
    url, received = cfn_endpoint
    stubbed_ce.add_client_error("list_cost_allocation_tags", "AccessDeniedException", "Linked account")
    cost_tags.lambda_handler(_event(url, "Update"), None)
    (response,) = received
    assert response["Status"] == "SUCCESS"
    assert "management (payer) account" in response["Data"]["Error"]


def test_delete_touches_nothing_and_schedule_uses_the_environment(cfn_endpoint, stubbed_ce, monkeypatch):
    url, received = cfn_endpoint
    cost_tags.lambda_handler(_event(url, "Delete"), None)  # no CE call queued: any call would fail
    assert received[0]["Status"] == "SUCCESS"
    monkeypatch.setenv("TAG_KEYS", "project,owner")
    _listed(stubbed_ce, {"project": "Active", "owner": "Active"}, keys=["project", "owner"])
    assert cost_tags.lambda_handler({"source": "aws.events"}, None) == {"Already_active": "project,owner"}


def test_custom_resource_acts_only_on_the_configured_tag_keys(cfn_endpoint, stubbed_ce):
    url, received = cfn_endpoint
    event = _event(url, "Update")
    event["ResourceProperties"]["TagKeys"] = ["project", "aws:createdBy", "someone-elses-key"]
    _listed(stubbed_ce, {"project": "Active"}, keys=["project"])  # only the configured key is asked
    summary = cost_tags.lambda_handler(event, None)
    assert summary == {
        "Already_active": "project",
        "Refused_not_configured": "aws:createdBy,someone-elses-key",
    }
    assert received[0]["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    "url",
    [
        "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "https://attacker.example.com/x",
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.example/x",
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/x",
        "https://user@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x",
        "https://169.254.169.254/latest/meta-data/",
        "",
    ],
)
def test_custom_resource_answers_only_cloudformations_response_host(cfn_endpoint, stubbed_ce, url):
    _, received = cfn_endpoint
    summary = cost_tags.lambda_handler(_event(url, "Create"), None)  # no CE call queued either
    assert summary == {"Error": "refused: the response URL is not CloudFormation's"}
    assert received == []


@pytest.mark.parametrize(
    "host",
    [
        "cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
        "cloudformation-custom-resource-response-uswest2.s3-us-west-2.amazonaws.com",
        "cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com",
        "cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn",
    ],
)
def test_cloudformations_response_hosts_are_accepted(host):
    assert cost_tags.response_url_allowed(f"https://{host}/arn%3Aaws/x?X-Amz-Signature=abc")
