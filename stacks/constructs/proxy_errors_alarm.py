"""Alarm on the project proxy function's own errors (unhandled exceptions, timeouts)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct


class ProxyErrorsAlarm(Construct):
    """Lambda `Errors` Sum over 5 minutes >= threshold, missing data not breaching, to the topic."""

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
                f"The Claude proxy function of project {project_name} failed >= {threshold} times in 5 "
                "minutes (unhandled errors or timeouts, not Bedrock errors it returned to callers). "
                "Read the function's log group for the stack traces; check recent deploys of the "
                "project stack and the function's duration against its timeout."
            ),
            metric=function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=threshold,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))
