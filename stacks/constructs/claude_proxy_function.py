"""The project's Lambda that calls Claude through the project's own inference profiles only."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.project_guardrail import GuardrailGrant, apply_guardrail_statements, with_guardrail

# The proxy's runtime, in one place: stacks/bundling.py builds the code for it.
PROXY_RUNTIME = lambda_.Runtime.PYTHON_3_13
PROXY_ARCHITECTURE = lambda_.Architecture.X86_64
PROXY_HANDLER = "claude_proxy.handler.lambda_handler"
POWERTOOLS_SERVICE_NAME = "claude-proxy"
METRICS_NAMESPACE = "ClaudePlatform"
LIVE_ALIAS = "live"
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
_SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"
)
ENVIRONMENT_MAX_BYTES = 4096  # Lambda: all environment variables together

_RETENTION = {
    days: getattr(logs.RetentionDays, name)
    for days, name in (
        (1, "ONE_DAY"), (3, "THREE_DAYS"), (5, "FIVE_DAYS"), (7, "ONE_WEEK"), (14, "TWO_WEEKS"),
        (30, "ONE_MONTH"), (60, "TWO_MONTHS"), (90, "THREE_MONTHS"), (120, "FOUR_MONTHS"),
        (150, "FIVE_MONTHS"), (180, "SIX_MONTHS"), (365, "ONE_YEAR"), (400, "THIRTEEN_MONTHS"),
        (545, "EIGHTEEN_MONTHS"), (731, "TWO_YEARS"), (1096, "THREE_YEARS"), (1827, "FIVE_YEARS"),
        (2192, "SIX_YEARS"), (2557, "SEVEN_YEARS"), (2922, "EIGHT_YEARS"), (3288, "NINE_YEARS"),
        (3653, "TEN_YEARS"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class ModelInvokeAccess:
    """What the proxy may invoke for one model.

    `profile_arn`: the project's application profile (a token). `foundation_model_arns`: where the
    profile may route. `routing_profile_arns`: values `bedrock:InferenceProfileArn` may carry on the
    foundation-model check (the application profile, plus the system profile it wraps).
    """

    alias: str
    profile_arn: str
    foundation_model_arns: tuple[str, ...]
    routing_profile_arns: tuple[str, ...]
    guardrail: GuardrailGrant | None = None  # the project's guardrail: every invoke grant requires it


# TransactWriteItems has no IAM action of its own: each Put/Update/Delete in it needs its own.
LEDGER_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
]


@dataclass(frozen=True)
class SpendRecording:
    """Where the proxy records its project's spend and sends spend alerts.

    `ledger_table_arn`: the region's ledger table; the role may touch only items whose partition
    key is `project` (`dynamodb:LeadingKeys`). `alert_topic_arn`: the project's topic, encrypted
    with the key aliased `alerts_key_alias`.
    """

    ledger_table_arn: str
    project: str
    alert_topic_arn: str
    alerts_key_alias: str


def _statement_id(alias: str) -> str:
    return "InvokeFoundationModelOnlyThroughProfile" + "".join(
        part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", alias)
    )


class ClaudeProxyFunction(Construct):
    """Lambda function (python3.13, x86_64) with its own log group, a least-privilege role and
    invoke permissions for the configured principals only.

    `max_concurrency` reserves (and caps) the function's concurrency: one project cannot take the
    account's Lambda concurrency in the region, nor more than that many parallel Bedrock calls.
    With `snapstart`, SnapStart applies to published versions and callers invoke the `live` alias
    (`invoke_target`); otherwise the function itself. SnapStart trades LiteLLM's multi-second cold
    import for Lambda's per-version snapshot caching and per-restore charges (Python runtimes), so
    it pays off for latency-sensitive projects with bursty traffic, not for idle ones.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        log_group_name: str,
        code: lambda_.Code,
        memory_mb: int,
        timeout_seconds: int,
        log_retention_days: int,
        project_settings: Mapping[str, Any],
        model_access: Sequence[ModelInvokeAccess],
        invokers: Sequence[str],
        snapstart: bool,
        spend_recording: SpendRecording | None = None,
        max_concurrency: int | None = None,
        trace_secret_arns: Sequence[str] = (),
        trace_secrets_key_arn: str | None = None,
        xray: bool = False,
        log_key: kms.IKey | None = None,
        role_path: str | None = None,
    ) -> None:
        if trace_secrets_key_arn is not None and not trace_secret_arns:
            raise ValueError("trace_secrets_key_arn needs trace_secret_arns (the secrets it decrypts)")
        if log_retention_days not in _RETENTION:
            raise ValueError(f"log_retention_days {log_retention_days} is not a CloudWatch Logs retention")
        if not model_access:
            raise ValueError("model_access must not be empty")
        if len(set(invokers)) != len(invokers):
            raise ValueError("invokers must be distinct")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1 (or None for unreserved), got {max_concurrency}")
        for arn in trace_secret_arns:
            if not _SECRET_ARN_RE.match(arn):
                raise ValueError(f"trace secret {arn!r} is not a full Secrets Manager secret ARN")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._spend = spend_recording

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=_RETENTION[log_retention_days],
            encryption_key=log_key,  # with log_prompts: the project's own key (LogsKey)
            # Logs hold operational data (prompts only with log_prompts); deleting a project
            # should not leave a named group behind that blocks re-creating it.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            path=role_path,  # policies outside the stack match the project functions by it
            description=f"Claude proxy {function_name}: own logs, own inference profiles only",
            inline_policies={
                "ClaudeProxy": iam.PolicyDocument(
                    statements=self._statements(
                        model_access,
                        trace_secret_arns=trace_secret_arns,
                        trace_secrets_key_arn=trace_secrets_key_arn,
                        xray=xray,
                    )
                    + self._spend_statements(spend_recording)
                )
            },
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="Calls Claude on Bedrock through the project's application inference profiles",
            runtime=PROXY_RUNTIME,
            architecture=PROXY_ARCHITECTURE,
            handler=PROXY_HANDLER,
            code=code,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            environment={
                "PROJECT_SETTINGS": stack.to_json_string(dict(project_settings)),
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            },
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snapstart else None,
            reserved_concurrent_executions=max_concurrency,
        )
        if xray:
            # Active tracing set on the resource, not with `tracing=`: that would add the X-Ray
            # grant to a separate default policy; it is in the role's inline policy instead.
            cfn_function = self.function.node.default_child
            assert isinstance(cfn_function, lambda_.CfnFunction)
            cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        self.invoke_target: lambda_.IFunction = self.function
        if snapstart:
            self.invoke_target = lambda_.Alias(
                self, "LiveAlias", alias_name=LIVE_ALIAS, version=self.function.current_version
            )
        for principal_arn in invokers:
            digest = hashlib.sha256(principal_arn.encode()).hexdigest()[:12]
            self.invoke_target.add_permission(
                f"Invoker{digest}",
                principal=iam.ArnPrincipal(principal_arn),
                action="lambda:InvokeFunction",
            )
        self._acknowledge(model_access, xray=xray)

    def _statements(
        self,
        model_access: Sequence[ModelInvokeAccess],
        *,
        trace_secret_arns: Sequence[str],
        xray: bool,
        trace_secrets_key_arn: str | None = None,
    ) -> list[iam.PolicyStatement]:
        """Least privilege for the proxy.

        - Logs: create streams and write events in its own log group only (what
          AWSLambdaBasicExecutionRole grants, minus CreateLogGroup and any other group).
        - Invoke the project's application profiles (the resource named in the request).
        - Invoke each model's foundation-model ARNs only when the request came through one of that
          model's routing profiles (`bedrock:InferenceProfileArn`): a direct model call carries no
          such key and is denied, and another project's profile ARN never matches.

        The system cross-region profile itself is deliberately NOT granted as a resource: a
        request names the application profile, which is what IAM checks on the profile, and a
        grant on the system profile would let the proxy call `us.anthropic...` directly, spending
        outside the project's tagged profile. Whether `bedrock:InferenceProfileArn` then holds the
        application or the system profile ARN is unverified (docs/aws-facts.md), so the condition
        accepts both; without the resource grant that second value opens no bypass. If a deployed
        test shows Bedrock also authorizes the wrapped system profile, add it here (README note).

        - Guardrail (only when the project has one): both invoke statements also require
          `bedrock:GuardrailIdentifier` = its ARN and version, and `bedrock:ApplyGuardrail` is
          granted on that guardrail only (stacks/constructs/project_guardrail.py).
        - Tracing (only when configured): read exactly the named trace secrets (full ARNs), decrypt
          them with their customer-managed key (when configured) only through Secrets Manager and
          only for those secrets, and send X-Ray segments (X-Ray has no resource-level permissions for these actions).
        """
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="InvokeOwnInferenceProfiles",
                actions=list(INVOKE_ACTIONS),
                resources=[access.profile_arn for access in model_access],
                conditions=with_guardrail({}, model_access[0].guardrail) or None,
            ),
        ]
        statements += [
            iam.PolicyStatement(
                sid=_statement_id(access.alias),
                actions=list(INVOKE_ACTIONS),
                resources=list(access.foundation_model_arns),
                conditions=with_guardrail(
                    {"StringEquals": {"bedrock:InferenceProfileArn": list(access.routing_profile_arns)}},
                    access.guardrail,
                ),
            )
            for access in model_access
        ]
        statements += apply_guardrail_statements(model_access[0].guardrail)
        if trace_secret_arns:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadTraceSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=list(dict.fromkeys(trace_secret_arns)),
                )
            )
        if trace_secrets_key_arn is not None:
            key_region = trace_secrets_key_arn.split(":")[3]
            statements.append(
                iam.PolicyStatement(
                    sid="DecryptTraceSecretsThroughSecretsManager",
                    actions=["kms:Decrypt"],
                    resources=[trace_secrets_key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{key_region}.amazonaws.com",
                            # Secrets Manager's encryption context names the secret.
                            "kms:EncryptionContext:SecretARN": list(dict.fromkeys(trace_secret_arns)),
                        }
                    },
                )
            )
        if xray:
            statements.append(
                iam.PolicyStatement(sid="SendXRayTraces", actions=list(XRAY_ACTIONS), resources=["*"])
            )
        return statements

    def _spend_statements(self, spend: SpendRecording | None) -> list[iam.PolicyStatement]:
        """The project's own ledger items and alert topic, nothing else.

        - Ledger: read, put, conditionally update and delete items whose partition key is the
          project name (`ForAllValues:StringEquals dynamodb:LeadingKeys`): its month counters and
          its holds, written together by TransactWriteItems (IAM checks each item's own action);
          Query for stale holds. No Scan, no other project.
        - Alerts: publish to the project's topic only; the topic is KMS-encrypted, so the role may
          use the alerts key, named by its alias, only through SNS in this region and only for
          its own topic (the encryption context SNS sends carries the topic ARN).
        """
        if spend is None:
            return []
        stack = Stack.of(self)
        return [
            iam.PolicyStatement(
                sid="OwnProjectLedgerItemsOnly",
                actions=LEDGER_ITEM_ACTIONS,
                resources=[spend.ledger_table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [spend.project]}},
            ),
            iam.PolicyStatement(
                sid="PublishOwnSpendAlerts",
                actions=["sns:Publish"],
                resources=[spend.alert_topic_arn],
            ),
            iam.PolicyStatement(
                sid="EncryptAlertsForOwnTopic",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/*"],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [spend.alerts_key_alias]},
                    "StringEquals": {
                        "kms:ViaService": f"sns.{stack.region}.amazonaws.com",
                        # SNS's encryption context names the topic: the key only for the own topic.
                        "kms:EncryptionContext:aws:sns:topicArn": spend.alert_topic_arn,
                    },
                },
            ),
        ]

    def _acknowledge(self, model_access: Sequence[ModelInvokeAccess], *, xray: bool) -> None:
        """cdk-nag findings that are intended, each scoped to the construct and finding it is about."""
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=(
                    f"{PROXY_RUNTIME.name} is pinned on purpose: the bundle is built and byte-compiled "
                    "locally with the same Python (no Docker), and LiteLLM's wheels are validated on it; "
                    "move to a newer runtime together with stacks/bundling.py."
                ),
            )
        )
        stack = Stack.of(self)
        acknowledgments = []
        for access in model_access:
            for arn in access.foundation_model_arns:
                if "*" not in arn:
                    continue
                rendered = arn.replace(stack.partition, "<AWS::Partition>")
                regions = arn.split(":")[3]
                where = (
                    "any commercial region (a global profile's destinations)"
                    if regions == "*"
                    else f"the regions of its geography only ({regions})"
                )
                acknowledgments.append(
                    Acknowledgment(
                        id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered}]",
                        reason=(
                            f"Cross-region inference for {access.alias} may be served by the model in "
                            f"{where}, where AWS can add destination regions; the pattern is fenced by a "
                            "bedrock:InferenceProfileArn condition that admits only this project's profile "
                            "for this model."
                        ),
                    )
                )
        if self._spend is not None:
            region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
            account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
            acknowledgments.append(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{region}:{account}:key/*]",
                    reason=(
                        "The alerts key lives in the platform stack and is named by alias (no cross-stack "
                        "export), so its id is not known here; kms:ResourceAliases admits only that key and "
                        "kms:ViaService only its use by SNS in this region, to publish to the project's topic."
                    ),
                )
            )
        if xray:
            acknowledgments.append(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                    reason=(
                        "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
                        "permissions (AWS's AWSXRayDaemonWriteAccess grants them on *); only these two "
                        "write actions are on *, and only for projects with tracing.xray."
                    ),
                )
            )
        if acknowledgments:
            Validations.of(self.role).acknowledge(*acknowledgments)
