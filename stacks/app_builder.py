"""Builds the CDK app from a validated config: a platform stack per region and one stack per project."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from claude_platform.config import Platform
from claude_platform.naming import platform_stack_name, project_stack_name
from stacks.constructs.claude_proxy_function import PROXY_ARCHITECTURE, PROXY_RUNTIME
from stacks.platform_stack import PlatformStack
from stacks.project_stack import ProjectStack

ProxyCodeFactory = Callable[[], lambda_.Code]


def _bundled_proxy_code() -> lambda_.Code:
    from stacks.bundling import proxy_function_code

    return proxy_function_code(runtime=PROXY_RUNTIME, architecture=PROXY_ARCHITECTURE)


def build_app(
    platform: Platform,
    *,
    app: cdk.App,
    default_account: str | None = None,
    nag: bool = True,
    proxy_code: ProxyCodeFactory | None = None,
) -> list[cdk.Stack]:
    """Add every stack to `app` and return them: the platform stacks (home region first), then the
    project stacks in config order.

    Each region with projects gets its own platform stack; a project stack deploys to its project's
    region and depends on that region's platform stack. Account: the config's `account`, else
    `default_account` (CDK_DEFAULT_ACCOUNT), else environment-agnostic (AWS::AccountId).
    `proxy_code` (default: stacks.bundling) is called once per project stack (an asset belongs to
    one stack). With `nag`, cdk-nag's AwsSolutions checks run at synthesis and any unacknowledged
    finding fails it.
    """
    config = platform.config
    make_proxy_code = proxy_code or _bundled_proxy_code
    account = config.account or default_account
    platform_stacks: dict[str, PlatformStack] = {}
    for region in platform.regions:
        platform_stacks[region] = PlatformStack(
            app,
            platform_stack_name(config.name_prefix, region, platform.home_region),
            platform=config,
            env=cdk.Environment(account=account, region=region),
            description=f"Claude platform: shared resources of the projects in {region} (alert topic KMS key)",
        )
    stacks: list[cdk.Stack] = list(platform_stacks.values())
    for project in platform.projects:
        stack = ProjectStack(
            app,
            project_stack_name(config.name_prefix, project.name),
            platform=config,
            project=project,
            proxy_code=make_proxy_code(),
            env=cdk.Environment(account=account, region=project.region),
            description=f"Claude platform: project {project.name} (profiles, budget, alarms, proxy)",
        )
        stack.add_stack_dependency(
            platform_stacks[project.region], "project alert topics use the region's platform KMS key alias"
        )
        stacks.append(stack)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


def _token_count(tokens: int) -> str:
    """`200k` for 200000, `12,345` otherwise."""
    return f"{tokens // 1000}k" if tokens % 1000 == 0 else f"{tokens:,}"


def synthesis_summary(platform: Platform, stacks: list[cdk.Stack], *, source: str) -> str:
    """A few lines per project: stack, profiles, budget, alert recipients, prices; then the regions
    to bootstrap."""
    config = platform.config
    account = config.account or (
        stacks[0].account if not cdk.Token.is_unresolved(stacks[0].account) else None
    )
    regions = ", ".join(f"{r} ({len(platform.projects_in(r))})" for r in platform.regions)
    shared = ", ".join(s.stack_name for s in stacks[: len(platform.regions)])
    lines = [
        f"{source}: {len(platform.projects)} project(s) in {regions}, "
        f"account {account or 'from deploy credentials'}; {len(stacks)} stacks "
        f"(shared: {shared})"
    ]
    stack_names = {s.node.id: s.stack_name for s in stacks}
    for project in platform.projects:
        c = project.config
        thresholds = "/".join(f"{t:g}" for t in c.alert_thresholds)
        lines.append(
            f"- {project.name}: stack {stack_names[project_stack_name(config.name_prefix, project.name)]} "
            f"in {project.region}; "
            f"budget {c.monthly_budget_usd:g} USD/month, alerts at {thresholds}% actual + 100% forecast, "
            f"{len(c.alert_emails)} alert email(s)"
        )
        for m in project.models:
            p = m.prices.standard
            tiers = "".join(
                f", above {_token_count(t.above_tokens)} prompt tokens {t.rates.input:g}/{t.rates.output:g}"
                for t in m.prices.tiers
            )
            lines.append(
                f"    {m.profile_name} -> {m.model.inference_id(m.geography)}: "
                f"{p.input:g}/{p.output:g} USD per 1M input/output tokens{tiers} ({m.prices.source})"
            )
    targets = " ".join(f"aws://{account or '<account>'}/{r}" for r in platform.regions)
    lines.append(f"before the first deploy: npx cdk bootstrap {targets} (docs/deploy.md)")
    return "\n".join(lines)
