"""`check`: after a deploy, prove each project works end to end against the real account.

Per project: its stack is deployed; a tiny prompt through its function comes back through one
of its own application inference profiles; that profile carries the cost tags; the budget and
the alert topic exist. Each finding is one row; anything not ready makes the exit code 3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from claude_platform.config import Platform, Project
from claude_platform.naming import cost_tags, proxy_function_name
from finops.deployment import ProjectOutputs
from finops.errors import describe_aws_error
from finops.output import Column

CHECK_PROMPT = "Reply with the single word: ready"
CHECK_TAGS = {"purpose": "deploy-check"}
READ_TIMEOUT_MARGIN_S = 30

COLUMNS = (
    Column("project", "project"),
    Column("check", "check"),
    Column("ok", "ok"),
    Column("detail", "detail"),
)


@dataclass(frozen=True)
class Finding:
    """One check's outcome."""

    project: str
    check: str
    ok: bool
    detail: str

    def row(self) -> dict[str, object]:
        """Output row."""
        return {"project": self.project, "check": self.check, "ok": self.ok, "detail": self.detail}


def lambda_client_config(project: Project) -> Config:
    """Read timeout above the function's timeout and no retries: a retried invoke would run it twice."""
    return Config(
        read_timeout=project.config.lambda_timeout_seconds + READ_TIMEOUT_MARGIN_S,
        connect_timeout=10,
        retries={"max_attempts": 1, "mode": "standard"},
    )


def check_invoke(lambda_client: Any, function: str, project: Project, outputs: ProjectOutputs) -> Finding:
    """Invoke with a tiny prompt; the answer must name one of the project's own profiles."""
    payload = {
        "messages": [{"role": "user", "content": CHECK_PROMPT}],
        "max_tokens": 16,
        "tags": CHECK_TAGS,
    }
    try:
        response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    except (ClientError, BotoCoreError) as exc:
        return Finding(project.name, "invoke", False, describe_aws_error(exc, f"invoke {function}"))
    body = response["Payload"].read()
    if response.get("FunctionError"):
        return Finding(project.name, "invoke", False, f"the function failed: {body[:300]!r}")
    try:
        answer = json.loads(body)
    except ValueError:
        return Finding(project.name, "invoke", False, f"not a JSON answer: {body[:300]!r}")
    if not answer.get("ok"):
        error = answer.get("error") or {}
        return Finding(
            project.name, "invoke", False, f"{error.get('type', 'error')}: {error.get('message', answer)}"
        )
    model = answer.get("model")
    expected = outputs.profile_arn(model) if isinstance(model, str) else None
    used = answer.get("inference_profile_arn")
    if not expected or used != expected:
        return Finding(
            project.name,
            "invoke",
            False,
            f"answer came through {used!r}, not the project's {model} profile {expected!r}",
        )
    return Finding(
        project.name,
        "invoke",
        True,
        f"{model} answered through {used} ({answer.get('usage', {}).get('output_tokens', '?')} output tokens, "
        f"{answer.get('cost_usd')} USD)",
    )


def check_profile_tags(
    bedrock: Any, platform: Platform, project: Project, outputs: ProjectOutputs
) -> list[Finding]:
    """Every profile is deployed and carries the cost-allocation tag and the project's tags."""
    expected = cost_tags(platform.config.cost_allocation_tag_key, project)
    findings = []
    for model in project.models:
        arn = outputs.profile_arn(model.alias)
        name = f"profile {model.alias}"
        if not arn:
            findings.append(
                Finding(project.name, name, False, f"no output for {model.alias} in {outputs.stack_name}")
            )
            continue
        try:
            tags = {
                t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn).get("tags", [])
            }
        except (ClientError, BotoCoreError) as exc:
            findings.append(Finding(project.name, name, False, describe_aws_error(exc, f"tags of {arn}")))
            continue
        wrong = {k: v for k, v in expected.items() if tags.get(k) != v}
        if wrong:
            missing = ", ".join(f"{k}={v} (has {tags.get(k)!r})" for k, v in wrong.items())
            findings.append(Finding(project.name, name, False, f"{arn} lacks tags {missing}"))
        else:
            findings.append(Finding(project.name, name, True, f"{arn} tagged {len(expected)} cost tag(s)"))
    return findings


def check_budget(budgets: Any, account: str, project: Project, outputs: ProjectOutputs) -> Finding:
    """The project's budget (named by the stack's BudgetName output) exists."""
    name = outputs.get("BudgetName")
    if not name:
        return Finding(project.name, "budget", False, f"no BudgetName output in {outputs.stack_name}")
    try:
        budget = budgets.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except (ClientError, BotoCoreError) as exc:
        return Finding(project.name, "budget", False, describe_aws_error(exc, f"budget {name}"))
    limit = budget.get("BudgetLimit", {})
    return Finding(
        project.name, "budget", True, f"{name}: {limit.get('Amount')} {limit.get('Unit')} per month"
    )


def check_topic(sns: Any, project: Project, outputs: ProjectOutputs) -> Finding:
    """The alert topic exists; says how many subscriptions are still pending."""
    arn = outputs.get("AlertTopicArn")
    if not arn:
        return Finding(project.name, "alert topic", False, f"no AlertTopicArn output in {outputs.stack_name}")
    try:
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    except (ClientError, BotoCoreError) as exc:
        return Finding(project.name, "alert topic", False, describe_aws_error(exc, f"topic {arn}"))
    pending = int(attributes.get("SubscriptionsPending", "0"))
    confirmed = int(attributes.get("SubscriptionsConfirmed", "0"))
    detail = f"{arn}: {confirmed} confirmed, {pending} pending subscription(s)"
    return Finding(project.name, "alert topic", True, detail)


def function_name(platform: Platform, project: Project, outputs: ProjectOutputs) -> str:
    """What callers invoke: the stack's ProxyInvokeArn (the live alias with SnapStart), else the name."""
    return outputs.get("ProxyInvokeArn") or proxy_function_name(platform.config.name_prefix, project.name)
