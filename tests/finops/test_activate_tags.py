"""`activate-tags` and the custom resource handler: Stubber with the real API's shapes and errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


class _CfnEndpoint(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def cfn_endpoint():
    _CfnEndpoint.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CfnEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/response", _CfnEndpoint.received
    server.shutdown()


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
