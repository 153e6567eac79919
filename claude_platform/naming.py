"""Names, tags and ARNs of what synthesis creates, in one place so stacks, tools and docs agree.

Pure functions of validated config values; nothing here imports CDK. Values may be CDK tokens
(account, partition) where a function says so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from claude_platform.catalog import ClaudeModel, Geography, destination_region_patterns

if TYPE_CHECKING:
    from claude_platform.config import Project

# AWS::Bedrock::ApplicationInferenceProfile InferenceProfileName: 1-64 chars of ([0-9a-zA-Z][ _-]?)+
PROFILE_NAME_MAX = 64
# Budget notifications: one ACTUAL per threshold plus this FORECASTED one.
FORECAST_THRESHOLD_PERCENT = 100.0
_HASH_CHARS = 6


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]


def region_suffix(region: str, home_region: str) -> str:
    """`""` in the home region (the config's top-level `region`), else `-<region>`.

    Names in the home region carry no region, so the home platform stack keeps the name it had
    before projects could pick a region; names elsewhere differ by region, which keeps
    account-wide names (budgets, IAM policies) apart while a project moves between regions.
    """
    return "" if region == home_region else f"-{region}"


def platform_stack_name(name_prefix: str, region: str, home_region: str) -> str:
    """The shared stack of one region (alert key, ...): `<prefix>-platform[-<region>]`."""
    return f"{name_prefix}-platform{region_suffix(region, home_region)}"


def geography_label(geography: Geography) -> str:
    """The geography as it appears in names: its value, `inregion` for `none`."""
    return "inregion" if geography is Geography.NONE else geography.value


def inference_profile_name(name_prefix: str, project: str, model: ClaudeModel, geography: Geography) -> str:
    """`<prefix>-<project>-<alias without claude->-<geography>`, at most 64 characters.

    Bedrock's profile name, description and model source can only be set at creation: a new
    geography replaces the profile, and CloudFormation cannot replace a resource whose custom name
    stays the same. The geography (which, with the model, decides both) is therefore part of the
    name. A longer name is cut and ends in a hash of the full name, so it still changes with it.
    """
    full = f"{name_prefix}-{project}-{model.alias.removeprefix('claude-')}-{geography_label(geography)}"
    if len(full) <= PROFILE_NAME_MAX:
        return full
    head = full[: PROFILE_NAME_MAX - _HASH_CHARS - 1].rstrip("-_ ")
    return f"{head}-{_digest(full)}"


def project_stack_name(name_prefix: str, project: str) -> str:
    """One stack per project; the `project` infix keeps it apart from the platform stack."""
    return f"{name_prefix}-project-{project}"


def stack_output_key(alias: str, what: str) -> str:
    """A project stack's CloudFormation output key for one model, e.g. `ClaudeHaiku45ProfileArn`."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", alias)) + what


def alerts_key_alias(name_prefix: str) -> str:
    """Alias of the KMS key that encrypts every project's alert topic."""
    return f"alias/{name_prefix}/alerts"


def ledger_table_name(name_prefix: str) -> str:
    """The spend ledger's DynamoDB table, one per region (same name in each: tables are regional)."""
    return f"{name_prefix}-spend-ledger"


def spend_dashboard_name(name_prefix: str, region: str) -> str:
    """The spend dashboard of one region (dashboard names are unique per account, not per region)."""
    return f"{name_prefix}-spend-{region}"


def cost_tag_activation_function_name(name_prefix: str) -> str:
    """The opt-in Lambda that activates cost-allocation tag keys (deploy and daily)."""
    return f"{name_prefix}-activate-cost-tags"


def alert_topic_name(name_prefix: str, project: str) -> str:
    """The project's SNS topic for budget and alarm notifications."""
    return f"{name_prefix}-{project}-alerts"


def budget_name(
    name_prefix: str, project: str, *, region: str, home_region: str, actual_thresholds: Sequence[float]
) -> str:
    """`<prefix>-<project>[-<region>]-monthly-<hash of the notifications>` (unique per account).

    Budget names are account-wide, so a project outside the home region carries its region (a move
    creates the new budget before the old stack is deleted). Its notifications can only be set at
    creation: a threshold change replaces the budget, so the name changes with them.
    """
    notifications = (
        ",".join(f"ACTUAL:{t:g}" for t in actual_thresholds) + f",FORECASTED:{FORECAST_THRESHOLD_PERCENT:g}"
    )
    return f"{name_prefix}-{project}{region_suffix(region, home_region)}-monthly-{_digest(notifications)}"


def budget_stop_policy_name(name_prefix: str, project: str, *, region: str, home_region: str) -> str:
    """The managed policy AWS Budgets attaches to the function's role at 100% (budget_action).

    IAM names are account-wide: outside the home region the name carries the region (see budget_name).
    """
    return f"{name_prefix}-{project}{region_suffix(region, home_region)}-budget-stop"


def proxy_function_name(name_prefix: str, project: str) -> str:
    """The project's Lambda that calls Claude through the project's profiles (<= 64 chars)."""
    return f"{name_prefix}-{project}-proxy"


def function_role_path(name_prefix: str) -> str:
    """IAM path of every project function's role (invoke and gateway): `/<prefix>-functions/`.

    The role names are generated; the path is what policies outside the stacks (the optional SCP
    and permissions boundary, claude_platform/spend_policies.py) match the project functions by.
    """
    return f"/{name_prefix}-functions/"


def proxy_log_group_name(name_prefix: str, project: str) -> str:
    """The proxy function's log group (the name Lambda would use by default)."""
    return f"/aws/lambda/{proxy_function_name(name_prefix, project)}"


def gateway_function_name(name_prefix: str, project: str) -> str:
    """The project's HTTPS endpoint function (`gateway.enabled`), behind its function URL (<= 64 chars)."""
    return f"{name_prefix}-{project}-gateway"


def gateway_log_group_name(name_prefix: str, project: str) -> str:
    """The gateway function's log group (the name Lambda would use by default)."""
    return f"/aws/lambda/{gateway_function_name(name_prefix, project)}"


def alarm_name(name_prefix: str, project: str, subject: str, condition: str) -> str:
    """`<prefix>-<project>-<subject>-<condition>`, e.g. `claude-support-bot-claude-haiku-4-5-throttles`."""
    return f"{name_prefix}-{project}-{subject}-{condition}"


def cost_tags(tag_key: str, project: Project) -> dict[str, str]:
    """Tags every resource of a project carries: the cost-allocation tag first, then the project's own."""
    return {tag_key: project.name, **project.config.tags}


def budget_tag_filter(tag_key: str, tag_value: str) -> str:
    """AWS Budgets `TagKeyValue` filter value for a user-defined cost-allocation tag."""
    return f"user:{tag_key}${tag_value}"


def foundation_model_arns(
    model: ClaudeModel, geography: Geography, *, region: str, partition: str
) -> tuple[str, ...]:
    """Foundation-model ARNs a request through a profile of `geography` may be served by.

    In-region (`none`): the model in the stack region only. A cross-region geography: the model in
    the geography's destination regions (`catalog.destination_region_patterns`: `eu-*` for `eu`,
    two regions for `jp`, ...), so an `eu` project's role cannot invoke the model outside the EU.
    `global` may be served in any commercial region (`*`) and also needs the region-less ARN.
    """
    arns = [
        f"arn:{partition}:bedrock:{pattern}::foundation-model/{model.base_id}"
        for pattern in destination_region_patterns(geography, region)
    ]
    if geography is Geography.GLOBAL:
        arns.append(f"arn:{partition}:bedrock:::foundation-model/{model.base_id}")
    return tuple(arns)


def system_profile_arn(
    model: ClaudeModel, geography: Geography, *, region: str, account: str, partition: str
) -> str | None:
    """The system cross-region profile an application profile copies from; None for `none`."""
    if geography is Geography.NONE:
        return None
    return model.source_arn(geography, region=region, account=account, partition=partition)


def operations_topic_name(name_prefix: str) -> str:
    """The region's operations topic: alarms about the platform itself, e.g. failed alert e-mails."""
    return f"{name_prefix}-operations"


def operations_key_alias(name_prefix: str) -> str:
    """Alias of the KMS key of the region's operations topic."""
    return f"alias/{name_prefix}/operations"


def operations_alarm_name(name_prefix: str, condition: str) -> str:
    """A region-level alarm of the platform, e.g. `claude-platform-pending-subscriptions`."""
    return f"{name_prefix}-platform-{condition}"


def subscription_check_function_name(name_prefix: str) -> str:
    """The scheduled Lambda that counts unconfirmed subscriptions of the region's alert topics."""
    return f"{name_prefix}-subscription-check"
