"""Activate cost-allocation tag keys in Cost Explorer, and report each key's outcome.

Standard library and a boto3 Cost Explorer client only: the CLI (`claude-finops activate-tags`)
and the platform stack's opt-in custom resource Lambda (deployed as this one file, handler
`cost_tags.lambda_handler`) share it. A user tag key can be activated only after it has appeared
in billing data (up to a day after resources first carry it), and only from the management
(payer) account of an organization or a standalone account.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

ACTIVATED = "activated"
ALREADY_ACTIVE = "already active"
NOT_SEEN = "not seen yet"
FAILED = "failed"
UPDATE_BATCH = 20  # UpdateCostAllocationTagsStatus: at most 20 keys per call
LIST_BATCH = 100
NOT_MANAGEMENT_HINT = (
    "cost-allocation tags can only be activated from the organization's management (payer) account "
    "or a standalone account; run this with that account's credentials"
)
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


@dataclass(frozen=True)
class TagResult:
    """One key's outcome; `detail` says why and what to do."""

    tag_key: str
    result: str
    detail: str = ""


def _code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))


def _message(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Message", exc))


def _listed(ce: Any, keys: list[str]) -> dict[str, str]:
    """Key -> 'Active'/'Inactive' for keys Cost Explorer has seen in billing data."""
    found: dict[str, str] = {}
    for i in range(0, len(keys), LIST_BATCH):
        kwargs: dict[str, Any] = {"TagKeys": keys[i : i + LIST_BATCH], "Type": "UserDefined"}
        while True:
            response = ce.list_cost_allocation_tags(**kwargs)
            for tag in response.get("CostAllocationTags", []):
                found[tag["TagKey"]] = tag.get("Status", "Inactive")
            if not response.get("NextToken"):
                break
            kwargs["NextToken"] = response["NextToken"]
    return found


def activate_tag_keys(ce: Any, keys: list[str]) -> list[TagResult]:
    """Activate every key that billing data has shown; one result per key, in the given order.

    Raises the client's error when the account may not manage cost-allocation tags at all
    (access denied: not the management account, or missing ce: permissions).
    """
    keys = list(dict.fromkeys(keys))
    listed = _listed(ce, keys)
    results: dict[str, TagResult] = {}
    to_activate = []
    for key in keys:
        status = listed.get(key)
        if status == "Active":
            results[key] = TagResult(key, ALREADY_ACTIVE)
        elif status is None:
            results[key] = TagResult(
                key,
                NOT_SEEN,
                "not in billing data yet (up to a day after resources carry it); try again later",
            )
        else:
            to_activate.append(key)
    for i in range(0, len(to_activate), UPDATE_BATCH):
        batch = to_activate[i : i + UPDATE_BATCH]
        response = ce.update_cost_allocation_tags_status(
            CostAllocationTagsStatus=[{"TagKey": k, "Status": "Active"} for k in batch]
        )
        errors = {e["TagKey"]: e for e in response.get("Errors", [])}
        for key in batch:
            if key in errors:
                error = errors[key]
                results[key] = TagResult(
                    key, FAILED, f"{error.get('Code', '')}: {error.get('Message', '')}".strip()
                )
            else:
                results[key] = TagResult(key, ACTIVATED, "takes effect within 24 hours; not retroactive")
    return [results[k] for k in keys]


# --- the custom resource / scheduled Lambda -----------------------------------------------------


# CloudFormation's pre-signed response URLs point at its own S3 buckets, one per region
# (`cloudformation-custom-resource-response-<region without dashes>`), virtual-hosted style.
CFN_RESPONSE_HOST_RE = re.compile(
    r"^cloudformation-custom-resource-response-[a-z0-9]+"
    r"\.s3(?:[.-][a-z]{2}(?:-gov)?-[a-z]+-\d)?\.amazonaws\.com(?:\.cn)?$"
)


def response_url_allowed(url: str) -> bool:
    """Whether `url` is an HTTPS URL on CloudFormation's custom-resource response host."""
    parts = urllib.parse.urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.port in (None, 443)
        and not parts.username
        and bool(CFN_RESPONSE_HOST_RE.match(parts.hostname or ""))
    )


def _send_cfn_response(event: dict[str, Any], status: str, reason: str, data: dict[str, str]) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "cost-allocation-tag-activation",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def run_activation(ce: Any, keys: list[str]) -> dict[str, str]:
    """Activate and summarize per outcome; never raises (the summary says what failed)."""
    try:
        results = activate_tag_keys(ce, keys)
    except Exception as exc:
        hint = f" ({NOT_MANAGEMENT_HINT})" if _code(exc) in ACCESS_DENIED else ""
        return {"Error": f"{_code(exc) or type(exc).__name__}: {_message(exc)}{hint}"}
    summary: dict[str, str] = {}
    for outcome in (ACTIVATED, ALREADY_ACTIVE, NOT_SEEN, FAILED):
        chosen = [r.tag_key for r in results if r.result == outcome]
        if chosen:
            summary[outcome.replace(" ", "_").capitalize()] = ",".join(chosen)
    print(json.dumps({"message": "cost allocation tag activation", "results": [asdict(r) for r in results]}))
    return summary


def _configured_keys() -> list[str]:
    return [k for k in os.environ.get("TAG_KEYS", "").split(",") if k]  # tag keys cannot contain ","


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """CloudFormation custom resource (Create/Update activate, Delete does nothing) or a schedule.

    Acts only on the tag keys it was deployed with (`TAG_KEYS`): keys in an event that are not
    configured are refused and reported. Answers only to CloudFormation's response host: an event
    with any other response URL is logged and dropped (whoever can invoke the function cannot
    make it send data elsewhere). Never fails a deployment: keys not in billing data yet are
    normal right after the first deploy, and the daily schedule retries them.
    """
    import boto3  # in the Lambda runtime; imported here so the CLI need not load it twice

    configured = _configured_keys()
    if "RequestType" not in event:
        return run_activation(boto3.client("ce", region_name="us-east-1"), configured)
    url = str(event.get("ResponseURL", ""))
    if not response_url_allowed(url):
        host = urllib.parse.urlsplit(url).hostname
        print(json.dumps({"message": "refused: response URL is not CloudFormation's", "host": host}))
        return {"Error": "refused: the response URL is not CloudFormation's"}
    requested = event.get("ResourceProperties", {}).get("TagKeys", configured)
    requested = [str(k) for k in requested] if isinstance(requested, list) else []
    keys = [k for k in requested if k in configured]
    refused = [k for k in requested if k not in configured]
    summary: dict[str, str] = {}
    try:
        if event["RequestType"] in ("Create", "Update") and keys:
            summary = run_activation(boto3.client("ce", region_name="us-east-1"), keys)
        if refused:
            summary["Refused_not_configured"] = ",".join(refused)
    finally:
        _send_cfn_response(event, "SUCCESS", json.dumps(summary) or "done", summary)
    return summary
