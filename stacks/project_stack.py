"""One stack per project, so a project's change never touches another's resources."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from claude_platform.config import Project
from claude_platform.config_model import PlatformConfig
from claude_platform.naming import (
    alarm_name,
    alert_topic_name,
    cost_tags,
    operations_topic_name,
    stack_output_key,
)
from stacks.constructs.alert_delivery_alarm import AlertDeliveryAlarm
from stacks.constructs.project_claude_access import ProjectClaudeAccess


class ProjectStack(Stack):
    """A project's `ProjectClaudeAccess`, its tags on every resource, and its outputs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: PlatformConfig,
        project: Project,
        proxy_code: lambda_.Code,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        for key, value in cost_tags(platform.cost_allocation_tag_key, project).items():
            Tags.of(self).add(key, value)
        self.access = ProjectClaudeAccess(
            self, "ClaudeAccess", platform=platform, project=project, proxy_code=proxy_code
        )
        # In the project stack, so the platform stack does not grow with the projects; it notifies the
        # region's operations topic (platform stack, same name in every region), not the alert topic.
        self.alert_delivery = AlertDeliveryAlarm(
            self,
            "AlertDeliveryAlarm",
            alarm_name=alarm_name(platform.name_prefix, project.name, "alerts", "delivery-failures"),
            project_name=project.name,
            topic_name=alert_topic_name(platform.name_prefix, project.name),
            operations_topic_arn=(
                f"arn:{self.partition}:sns:{self.region}:{self.account}:"
                f"{operations_topic_name(platform.name_prefix)}"
            ),
        )
        for alias, profile in self.access.profiles.items():
            CfnOutput(
                self,
                stack_output_key(alias, "ProfileArn"),
                value=profile.attr_inference_profile_arn,
                description=f"Application inference profile ARN for {alias}",
            )
            CfnOutput(
                self,
                stack_output_key(alias, "ProfileId"),
                value=profile.attr_inference_profile_id,
                description=f"Application inference profile id for {alias} (CloudWatch ModelId)",
            )
        CfnOutput(self, "AlertTopicArn", value=self.access.alert_topic.topic.topic_arn)
        CfnOutput(self, "BudgetName", value=self.access.budget.budget_name)
        CfnOutput(self, "ProxyFunctionName", value=self.access.proxy.function.function_name)
        CfnOutput(
            self,
            "ProxyInvokeArn",
            value=self.access.proxy.invoke_target.function_arn,
            description="What callers invoke (the 'live' alias with SnapStart, else the function)",
        )
        if self.access.gateway is not None:
            CfnOutput(
                self,
                "GatewayUrl",
                value=self.access.gateway.url.url,
                description="HTTPS endpoint (ANTHROPIC_BASE_URL; OpenAI base URL: <this>v1); keys: claude-finops keys create",
            )
            CfnOutput(self, "GatewayFunctionName", value=self.access.gateway.function.function_name)
