"""Names, tags and ARNs of what synthesis creates, in one place so stacks, tools and docs agree.

Pure functions of validated config values; nothing here imports CDK. Values may be CDK tokens
(account, partition) where a function says so.
"""

from __future__ import annotations

from claude_platform.catalog import ClaudeModel, Geography
from claude_platform.config import Project


def platform_stack_name(name_prefix: str) -> str:
    """The one shared stack (alert key)."""
    return f"{name_prefix}-platform"


def project_stack_name(name_prefix: str, project: str) -> str:
    """One stack per project; the `project` infix keeps it apart from the platform stack."""
    return f"{name_prefix}-project-{project}"


def alerts_key_alias(name_prefix: str) -> str:
    """Alias of the KMS key that encrypts every project's alert topic."""
    return f"alias/{name_prefix}/alerts"


def ledger_table_name(name_prefix: str) -> str:
    """The spend ledger's DynamoDB table, one per region (same name in each: tables are regional)."""
    return f"{name_prefix}-spend-ledger"


def alert_topic_name(name_prefix: str, project: str) -> str:
    """The project's SNS topic for budget and alarm notifications."""
    return f"{name_prefix}-{project}-alerts"


def budget_name(name_prefix: str, project: str) -> str:
    """The project's monthly cost budget (unique per account)."""
    return f"{name_prefix}-{project}-monthly"


def budget_stop_policy_name(name_prefix: str, project: str) -> str:
    """The managed policy AWS Budgets attaches to the function's role at 100% (budget_action)."""
    return f"{name_prefix}-{project}-budget-stop"


def proxy_function_name(name_prefix: str, project: str) -> str:
    """The project's Lambda that calls Claude through the project's profiles (<= 64 chars)."""
    return f"{name_prefix}-{project}-proxy"


def proxy_log_group_name(name_prefix: str, project: str) -> str:
    """The proxy function's log group (the name Lambda would use by default)."""
    return f"/aws/lambda/{proxy_function_name(name_prefix, project)}"


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

    In-region (`none`): the model in the stack region only. A cross-region geography routes to
    several destination regions that AWS may extend, hence a region wildcard (the IAM statement
    fences it with `bedrock:InferenceProfileArn`). `global` also needs the region-less ARN.
    """
    if geography is Geography.NONE:
        return (f"arn:{partition}:bedrock:{region}::foundation-model/{model.base_id}",)
    arns = [f"arn:{partition}:bedrock:*::foundation-model/{model.base_id}"]
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
