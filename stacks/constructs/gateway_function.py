"""The project's HTTPS endpoint: a second function, behind a streaming function URL, running the
ASGI app (`claude_proxy.web`) under AWS's Lambda Web Adapter.

Lambda's managed Python runtime cannot stream a response by itself; the Lambda Web Adapter (an
extension layer by AWS, awslabs/aws-lambda-web-adapter) starts with the function, runs the
bundle's `run.sh` (uvicorn on 127.0.0.1:$AWS_LWA_PORT), waits for `GET /healthz`, and streams the
app's responses to the function URL (`AWS_LWA_INVOKE_MODE=response_stream`). The code asset and
PROJECT_SETTINGS are the invoke function's, so both serve the same core, ledger and prices.

The URL is public (`AuthType: NONE`): callers authenticate with per-caller API keys, checked by
the app before anything is reserved or sent (`claude_proxy.auth`). For no public endpoint, put an
API Gateway private REST API in front (docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.claude_proxy_function import (
    _RETENTION,
    LIVE_ALIAS,
    METRICS_NAMESPACE,
    PROXY_ARCHITECTURE,
    PROXY_RUNTIME,
    ClaudeProxyFunction,
    ModelInvokeAccess,
    SpendRecording,
)

# --- Lambda Web Adapter: the ONE place its layer is pinned ------------------------------------
# Published by AWS in account 753240598075 of every commercial region (China regions: their own
# accounts), per awslabs/aws-lambda-web-adapter's "Zip Packages" guide (docs/guide/src/
# getting-started/zip-packages.md). To update: read that page's current version, check the
# release notes (github.com/awslabs/aws-lambda-web-adapter/releases) for changes to the AWS_LWA_*
# variables used below, set LWA_LAYER_VERSION, run `make test` and deploy one gateway project
# first. The layer's binary cannot be fetched or run offline: tests assert the ARN in the
# template only (docs/aws-facts.md, unverified).
LWA_LAYER_VERSION = 26
LWA_LAYER_NAMES = {"x86_64": "LambdaAdapterLayerX86", "arm64": "LambdaAdapterLayerArm64"}
LWA_LAYER_NAME = LWA_LAYER_NAMES[PROXY_ARCHITECTURE.name]
LWA_COMMERCIAL_ACCOUNT = "753240598075"
LWA_CHINA_ACCOUNTS = {"cn-north-1": "041581134020", "cn-northwest-1": "069767869989"}

GATEWAY_HANDLER = "run.sh"  # at the bundle root (gwstream's launcher: execs uvicorn)
GATEWAY_PORT = 8080
READINESS_CHECK_PATH = "/healthz"
# SnapStart hooks: the adapter POSTs to these before the snapshot and after each restore (the app
# closes pooled connections, drops cached credentials, reseeds `random`); it answers 403 to
# outside requests for them. Without SnapStart they are not set.
SNAPSTART_BEFORE_CHECKPOINT_PATH = "/snapstart/before"
SNAPSTART_AFTER_RESTORE_PATH = "/snapstart/after"
GATEWAY_SERVICE_NAME = "claude-gateway"
AUTH_FAILURE_METRIC = "AuthFailures"  # claude_proxy.auth emits it (EMF), dimension `project`
PERIOD = Duration.minutes(5)


def lwa_layer_arn(region: str) -> str:
    """The pinned Lambda Web Adapter layer version's ARN in `region` (a concrete region name)."""
    if Token.is_unresolved(region):
        raise ValueError("the gateway needs a stack with a concrete region (the layer ARN names it)")
    if region in LWA_CHINA_ACCOUNTS:
        partition, account = "aws-cn", LWA_CHINA_ACCOUNTS[region]
    elif not region.startswith(("cn-", "us-gov-", "eusc-")):
        partition, account = "aws", LWA_COMMERCIAL_ACCOUNT
    else:
        raise ValueError(f"the Lambda Web Adapter layer is not published for region {region!r}")
    return f"arn:{partition}:lambda:{region}:{account}:layer:{LWA_LAYER_NAME}:{LWA_LAYER_VERSION}"


def gateway_environment(project_settings_json: str, *, snapstart: bool) -> dict[str, str]:
    """The gateway function's environment: the invoke function's settings plus the adapter's."""
    environment = {
        "PROJECT_SETTINGS": project_settings_json,
        "POWERTOOLS_SERVICE_NAME": GATEWAY_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_PORT": str(GATEWAY_PORT),
        "AWS_LWA_READINESS_CHECK_PATH": READINESS_CHECK_PATH,
    }
    if snapstart:
        environment["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] = SNAPSTART_BEFORE_CHECKPOINT_PATH
        environment["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] = SNAPSTART_AFTER_RESTORE_PATH
    return environment


def _count_tokens_statement(stack: Stack, model_access: Sequence[ModelInvokeAccess]) -> iam.PolicyStatement:
    """`POST /v1/messages/count_tokens`: Bedrock's CountTokens (free of charge, no inference) on the
    project's own foundation models in the function's region only."""
    base_ids = dict.fromkeys(
        arn.rsplit("/", 1)[1] for access in model_access for arn in access.foundation_model_arns
    )
    return iam.PolicyStatement(
        sid="CountTokensOfOwnModels",
        actions=["bedrock:CountTokens"],
        resources=[
            stack.format_arn(
                service="bedrock", account="", resource="foundation-model", resource_name=base_id
            )
            for base_id in base_ids
        ],
    )


class GatewayFunction(Construct):
    """Function (same runtime, code and settings as the invoke function), Lambda Web Adapter layer,
    streaming function URL, its own log group and a least-privilege role.

    The role gets exactly the invoke function's statements (built by the same code: Bedrock through
    the project's profiles only, the project's ledger items and alert topic, trace secrets, X-Ray)
    for its own log group, plus GetItem on the project's own partition of the keys table
    (`dynamodb:LeadingKeys`), which holds the `key#<hash>` items. With `snapstart`, the URL serves
    the `live` alias of a published version.
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
        project: str,
        keys_table_arn: str,
        snapstart: bool,
        spend_recording: SpendRecording | None = None,
        max_concurrency: int | None = None,
        trace_secret_arns: Sequence[str] = (),
        trace_secrets_key_arn: str | None = None,
        xray: bool = False,
        log_key: kms.IKey | None = None,
        role_path: str | None = None,
    ) -> None:
        if log_retention_days not in _RETENTION:
            raise ValueError(f"log_retention_days {log_retention_days} is not a CloudWatch Logs retention")
        if not model_access:
            raise ValueError("model_access must not be empty")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._spend = spend_recording
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=_RETENTION[log_retention_days],
            encryption_key=log_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The invoke function's statement builders, applied to this construct (its log group).
        statements = ClaudeProxyFunction._statements(
            self,  # type: ignore[arg-type]
            model_access,
            trace_secret_arns=trace_secret_arns,
            trace_secrets_key_arn=trace_secrets_key_arn,
            xray=xray,
        ) + ClaudeProxyFunction._spend_statements(self, spend_recording)  # type: ignore[arg-type]
        statements.append(_count_tokens_statement(stack, model_access))
        statements.append(
            iam.PolicyStatement(
                sid="ReadOwnProjectApiKeys",
                actions=["dynamodb:GetItem"],
                resources=[keys_table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [project]}},
            )
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            path=role_path,  # policies outside the stack match the project functions by it
            description=f"Claude gateway {function_name}: own logs, own inference profiles and API keys only",
            inline_policies={"ClaudeGateway": iam.PolicyDocument(statements=statements)},
        )
        self.layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "WebAdapter", lwa_layer_arn(stack.region)
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="HTTPS endpoint (Messages, Chat Completions) for Claude on Bedrock through the project's profiles",
            runtime=PROXY_RUNTIME,
            architecture=PROXY_ARCHITECTURE,
            handler=GATEWAY_HANDLER,
            code=code,
            layers=[self.layer],
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            environment=gateway_environment(
                stack.to_json_string(dict(project_settings)), snapstart=snapstart
            ),
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snapstart else None,
            reserved_concurrent_executions=max_concurrency,
        )
        if xray:
            cfn_function = self.function.node.default_child
            assert isinstance(cfn_function, lambda_.CfnFunction)
            cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        self.url_target: lambda_.IFunction = self.function
        if snapstart:
            self.url_target = lambda_.Alias(
                self, "LiveAlias", alias_name=LIVE_ALIAS, version=self.function.current_version
            )
        # AuthType NONE: CDK adds the resource-policy statements a public URL needs
        # (lambda:InvokeFunctionUrl and lambda:InvokeFunction to *, the latter only via a URL).
        self.url = lambda_.FunctionUrl(
            self,
            "Url",
            function=self.url_target,
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM,
        )
        ClaudeProxyFunction._acknowledge(self, model_access, xray=xray)  # type: ignore[arg-type]


class AuthFailuresAlarm(Construct):
    """Refused API keys (the gateway's EMF `AuthFailures`, dimension project), Sum over 5 minutes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_name: str,
        project_name: str,
        threshold: int,
        topic: sns.ITopic,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        super().__init__(scope, construct_id)
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"The HTTPS endpoint of project {project_name} refused >= {threshold} API keys in 5 minutes "
                f"({METRICS_NAMESPACE} {AUTH_FAILURE_METRIC}; by reason: missing, malformed, unknown, "
                "revoked). A client with a revoked or mistyped key, or someone guessing keys: read the "
                "'api key refused' lines (reason, key id) in the gateway's log group; revoke keys with "
                "claude-finops keys revoke."
            ),
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=AUTH_FAILURE_METRIC,
                dimensions_map={"project": project_name},
                period=PERIOD,
                statistic="Sum",
            ),
            threshold=threshold,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))


class GatewayCrashesAlarm(Construct):
    """The gateway function's own crashes and timeouts (AWS/Lambda `Errors`), Sum over 5 minutes.

    Failures the app answers (internal and configuration errors) are counted by the function's EMF
    `Errors` with the project's dimensions, which the project's proxy-errors alarm already sums.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_name: str,
        project_name: str,
        function: lambda_.IFunction,
        threshold: int,
        topic: sns.ITopic,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        super().__init__(scope, construct_id)
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"The HTTPS endpoint function of project {project_name} crashed or timed out >= {threshold} "
                "times in 5 minutes (AWS/Lambda Errors): the web app did not start (readiness check), "
                "the adapter failed, or calls ran past the function timeout. Read the gateway's log "
                "group; check recent deploys and the Lambda Web Adapter layer version."
            ),
            metric=function.metric_errors(period=PERIOD, statistic="Sum"),
            threshold=threshold,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))
