"""CloudWatch alarms on the Bedrock metrics of each of a project's inference profiles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from claude_platform.config_sections import AlarmThresholds
from claude_platform.naming import alarm_name

BEDROCK_NAMESPACE = "AWS/Bedrock"
ALARM_PERIOD = Duration.minutes(5)
METRIC_DIMENSION_NOTE = (
    "Assumes Bedrock reports calls through an application profile under ModelId = the profile id "
    "(unverified, see README 'Alarms'); if it stays OK while the proxy logs Bedrock "
    "errors, the guess is wrong: rely on the proxy's own ClaudePlatform metrics."
)


@dataclass(frozen=True)
class _Condition:
    metric_name: str
    suffix: str
    meaning: str
    action: str


_CONDITIONS = {
    "throttles": _Condition(
        "InvocationThrottles",
        "throttles",
        "Bedrock throttled requests",
        "Callers see 429s. Check the project's traffic (Invocations), the account's Bedrock quotas "
        "for this model in Service Quotas (requests and tokens per minute) and other projects "
        "sharing them; request a quota increase or spread load.",
    ),
    "server_errors": _Condition(
        "InvocationServerErrors",
        "server-errors",
        "Bedrock returned server errors (5xx)",
        "Usually on the AWS side: check the AWS Health Dashboard for Bedrock in this region; "
        "callers should retry with backoff. Open a support case if it persists.",
    ),
    "client_errors": _Condition(
        "InvocationClientErrors",
        "client-errors",
        "Bedrock rejected requests (4xx other than throttling)",
        "Check the proxy's logs for AccessDenied (IAM/profile), ValidationException (request "
        "shape, max_tokens) or model access not enabled in the account.",
    ),
}


class ProfileAlarms(Construct):
    """Throttles, server errors and client errors per profile: Sum over 5 minutes >= threshold,
    missing data not breaching, alarm action to the project's topic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        project_name: str,
        profiles: Mapping[str, bedrock.CfnApplicationInferenceProfile],
        thresholds: AlarmThresholds,
        topic: sns.ITopic,
    ) -> None:
        if not profiles:
            raise ValueError("profiles must not be empty")
        super().__init__(scope, construct_id)
        action = actions.SnsAction(topic)
        self.alarms: dict[tuple[str, str], cloudwatch.Alarm] = {}
        for alias, profile in profiles.items():
            for field, condition in _CONDITIONS.items():
                threshold: int = getattr(thresholds, field)
                metric = cloudwatch.Metric(
                    namespace=BEDROCK_NAMESPACE,
                    metric_name=condition.metric_name,
                    dimensions_map={"ModelId": profile.attr_inference_profile_id},
                    statistic="Sum",
                    period=ALARM_PERIOD,
                )
                alarm = cloudwatch.Alarm(
                    self,
                    f"{alias}-{condition.suffix}",
                    alarm_name=alarm_name(name_prefix, project_name, alias, condition.suffix),
                    alarm_description=(
                        f"{condition.meaning}: >= {threshold} in 5 minutes for project {project_name}, "
                        f"model {alias} (profile {profile.inference_profile_name}). {condition.action} "
                        f"{METRIC_DIMENSION_NOTE}"
                    ),
                    metric=metric,
                    threshold=threshold,
                    evaluation_periods=1,
                    datapoints_to_alarm=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(action)
                self.alarms[(alias, field)] = alarm
