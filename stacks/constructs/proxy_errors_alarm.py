"""Alarm on failures of the project proxy function that are the platform's to fix."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

# Error types the function returns (never raises) that point at the platform, not the caller or Bedrock.
PLATFORM_ERROR_TYPES = ("internal_error", "configuration_error")
PERIOD = Duration.minutes(5)


class ProxyErrorsAlarm(Construct):
    """Lambda `Errors` plus the function's own internal/configuration error counts, Sum over 5 minutes.

    The handler answers every failure with `{"ok": false, ...}`, so Lambda's `Errors` only sees
    crashes and timeouts; the function's EMF metric `Errors` (dimensions project, error_type) counts
    the failures it handled.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_name: str,
        project_name: str,
        function: lambda_.IFunction,
        metrics_namespace: str,
        threshold: int,
        topic: sns.ITopic,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        super().__init__(scope, construct_id)
        using: dict[str, cloudwatch.IMetric] = {
            "crashes": function.metric_errors(period=PERIOD, statistic="Sum")
        }
        for error_type in PLATFORM_ERROR_TYPES:
            using[error_type.split("_")[0]] = cloudwatch.Metric(
                namespace=metrics_namespace,
                metric_name="Errors",
                dimensions_map={"project": project_name, "error_type": error_type},
                period=PERIOD,
                statistic="Sum",
            )
        expression = " + ".join(f"FILL({key}, 0)" for key in using)
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"The Claude proxy function of project {project_name} failed >= {threshold} times in 5 "
                "minutes through its own fault: crashes or timeouts (AWS/Lambda Errors) or "
                f"internal/configuration errors it returned ({metrics_namespace} Errors by error_type); "
                "Bedrock and caller errors are not counted. Read the function's log group for the "
                "stack traces; check recent deploys of the project stack and the function's duration "
                "against its timeout."
            ),
            metric=cloudwatch.MathExpression(
                expression=expression, using_metrics=using, period=PERIOD, label="platform failures"
            ),
            threshold=threshold,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))
