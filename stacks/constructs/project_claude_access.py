"""Everything one project gets: profiles, alert topic, budget, alarms and the proxy function."""

from __future__ import annotations

from aws_cdk import Stack, Token
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from claude_platform.config import Project, runtime_settings
from claude_platform.config_model import PlatformConfig
from claude_platform.guardrails import guardrail_name, guardrail_settings
from claude_platform.naming import (
    alarm_name,
    alert_topic_name,
    alerts_key_alias,
    budget_name,
    budget_stop_policy_name,
    cost_tags,
    foundation_model_arns,
    function_role_path,
    gateway_function_name,
    gateway_log_group_name,
    ledger_table_name,
    proxy_function_name,
    proxy_log_group_name,
    system_profile_arn,
)
from stacks.constructs.alert_topic import AlertTopic
from stacks.constructs.budget_stop_action import BudgetStopAction
from stacks.constructs.claude_proxy_function import (
    METRICS_NAMESPACE,
    ClaudeProxyFunction,
    ModelInvokeAccess,
    SpendRecording,
)
from stacks.constructs.gateway_function import AuthFailuresAlarm, GatewayCrashesAlarm, GatewayFunction
from stacks.constructs.inference_profiles import InferenceProfiles
from stacks.constructs.logs_key import LogsKey
from stacks.constructs.profile_alarms import ProfileAlarms
from stacks.constructs.project_budget import ProjectBudget
from stacks.constructs.project_guardrail import ProjectGuardrail
from stacks.constructs.proxy_errors_alarm import ProxyErrorsAlarm


class ProjectClaudeAccess(Construct):
    """A project's separately billed access to Claude on Bedrock.

    Exposes `profiles` (alias -> CfnApplicationInferenceProfile), `alert_topic`, `budget` and
    `proxy` for outputs and tests.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: PlatformConfig,
        project: Project,
        proxy_code: lambda_.Code,
    ) -> None:
        if not any(p is project.config for p in platform.projects):
            raise ValueError(f"project {project.name!r} is not part of the given platform config")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if not Token.is_unresolved(stack.region) and stack.region != project.region:
            raise ValueError(
                f"project {project.name!r} belongs in {project.region}, not in a {stack.region} stack"
            )
        prefix, name, config = platform.name_prefix, project.name, project.config
        tags = cost_tags(platform.cost_allocation_tag_key, project)

        self.profiles = InferenceProfiles(self, "Profiles", project=project, tags=tags).profiles
        the_budget_name = budget_name(
            prefix,
            name,
            region=project.region,
            home_region=platform.region,
            actual_thresholds=config.alert_thresholds,
        )
        self.alert_topic = AlertTopic(
            self,
            "Alerts",
            topic_name=alert_topic_name(prefix, name),
            display_name=f"Claude platform alerts: {name}",
            key_alias_name=alerts_key_alias(prefix),
            emails=config.alert_emails,
            budget_name=the_budget_name,
        )
        self.budget = ProjectBudget(
            self,
            "Budget",
            budget_name=the_budget_name,
            monthly_limit_usd=config.monthly_budget_usd,
            tag_key=platform.cost_allocation_tag_key,
            tag_value=name,
            actual_thresholds_percent=config.alert_thresholds,
            topic=self.alert_topic.topic,
            tags=tags,
            depends_on=[self.alert_topic.policy],
        )
        ProfileAlarms(
            self,
            "ProfileAlarms",
            name_prefix=prefix,
            project_name=name,
            profiles=self.profiles,
            thresholds=config.alarms,
            topic=self.alert_topic.topic,
        )

        # The project's guardrail (created or referenced): every invoke grant requires it.
        self.guardrail: ProjectGuardrail | None = None
        if config.guardrail is not None:
            self.guardrail = ProjectGuardrail(
                self, "Guardrail", config=config.guardrail, name=guardrail_name(prefix, name)
            )
        grant = self.guardrail.grant if self.guardrail is not None else None
        access = []
        for project_model in project.models:
            profile_arn = self.profiles[project_model.alias].attr_inference_profile_arn
            wrapped = system_profile_arn(
                project_model.model,
                project_model.geography,
                region=stack.region,
                account=stack.account,
                partition=stack.partition,
            )
            access.append(
                ModelInvokeAccess(
                    alias=project_model.alias,
                    profile_arn=profile_arn,
                    foundation_model_arns=foundation_model_arns(
                        project_model.model,
                        project_model.geography,
                        region=stack.region,
                        partition=stack.partition,
                    ),
                    routing_profile_arns=(profile_arn,) if wrapped is None else (profile_arn, wrapped),
                    guardrail=grant,
                )
            )
        ledger_table_arn = (
            f"arn:{stack.partition}:dynamodb:{stack.region}:{stack.account}:table/{ledger_table_name(prefix)}"
        )
        spend = None
        if config.enforcement != "off":
            spend = SpendRecording(
                ledger_table_arn=ledger_table_arn,
                project=name,
                alert_topic_arn=self.alert_topic.topic.topic_arn,
                alerts_key_alias=alerts_key_alias(prefix),
            )
        # Log text may include prompts and completions: the project's own key, logs service only.
        self.logs_key: LogsKey | None = None
        if config.log_prompts:
            log_groups = [proxy_log_group_name(prefix, name)]
            if config.gateway.enabled:
                log_groups.append(gateway_log_group_name(prefix, name))
            self.logs_key = LogsKey(self, "LogsKey", project_name=name, log_group_names=log_groups)
        log_key = self.logs_key.key if self.logs_key else None
        settings = runtime_settings(
            project,
            {a.alias: a.profile_arn for a in access},
            ledger_table=ledger_table_name(prefix),
            alert_topic_arn=self.alert_topic.topic.topic_arn,
            guardrail=None
            if grant is None or config.guardrail is None
            else guardrail_settings(
                config.guardrail, platform.guardrail_pricing, arn=grant.arn, version=grant.version
            ),
        )
        self.proxy = ClaudeProxyFunction(
            self,
            "Proxy",
            function_name=proxy_function_name(prefix, name),
            log_group_name=proxy_log_group_name(prefix, name),
            code=proxy_code,
            memory_mb=config.lambda_memory_mb,
            timeout_seconds=config.lambda_timeout_seconds,
            log_retention_days=config.log_retention_days,
            project_settings=settings,
            model_access=access,
            invokers=config.invokers,
            snapstart=config.snapstart,
            spend_recording=spend,
            max_concurrency=config.max_concurrency,
            trace_secret_arns=config.tracing.secret_arns,
            trace_secrets_key_arn=config.tracing.secrets_kms_key_arn,
            xray=config.tracing.xray,
            log_key=log_key,
            role_path=function_role_path(prefix),
        )
        # The HTTPS endpoint (gateway.enabled): same code, settings and grants, its own function.
        self.gateway: GatewayFunction | None = None
        if config.gateway.enabled:
            self.gateway = GatewayFunction(
                self,
                "Gateway",
                function_name=gateway_function_name(prefix, name),
                log_group_name=gateway_log_group_name(prefix, name),
                code=proxy_code,
                memory_mb=config.lambda_memory_mb,
                timeout_seconds=config.lambda_timeout_seconds,
                log_retention_days=config.log_retention_days,
                project_settings=settings,
                model_access=access,
                project=name,
                keys_table_arn=ledger_table_arn,
                snapstart=config.snapstart,
                spend_recording=spend,
                max_concurrency=config.max_concurrency,
                trace_secret_arns=config.tracing.secret_arns,
                trace_secrets_key_arn=config.tracing.secrets_kms_key_arn,
                xray=config.tracing.xray,
                log_key=log_key,
                role_path=function_role_path(prefix),
            )
            AuthFailuresAlarm(
                self,
                "GatewayAuthFailuresAlarm",
                alarm_name=alarm_name(prefix, name, "gateway", "auth-failures"),
                project_name=name,
                threshold=config.gateway.auth_failure_alarm_threshold,
                topic=self.alert_topic.topic,
            )
            GatewayCrashesAlarm(
                self,
                "GatewayCrashesAlarm",
                alarm_name=alarm_name(prefix, name, "gateway", "errors"),
                project_name=name,
                function=self.gateway.function,
                threshold=config.alarms.server_errors,
                topic=self.alert_topic.topic,
            )
        self.stop_action: BudgetStopAction | None = None
        if config.budget_action:
            self.stop_action = BudgetStopAction(
                self,
                "BudgetStopAction",
                budget_name=self.budget.budget_name,
                function_role=self.proxy.role,
                more_roles=[self.gateway.role] if self.gateway else [],
                topic=self.alert_topic.topic,
                policy_name=budget_stop_policy_name(
                    prefix, name, region=project.region, home_region=platform.region
                ),
                tags=tags,
            )
            self.stop_action.action.node.add_dependency(self.budget.budget)
        ProxyErrorsAlarm(
            self,
            "ProxyErrorsAlarm",
            alarm_name=alarm_name(prefix, name, "proxy", "errors"),
            project_name=name,
            function=self.proxy.function,
            metrics_namespace=METRICS_NAMESPACE,
            # Errors are unhandled failures of our own code; the server-error threshold is the
            # project's tolerance for failures it cannot fix itself, reused rather than invented.
            threshold=config.alarms.server_errors,
            topic=self.alert_topic.topic,
        )
