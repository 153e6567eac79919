"""Alarm on alert notifications SNS failed to deliver, sent to the region's operations topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

PERIOD = Duration.minutes(5)


class AlertDeliveryAlarm(Construct):
    """`AWS/SNS NumberOfNotificationsFailed` (dimension TopicName) of a project's alert topic, Sum
    over 5 minutes >= 1. It notifies `operations_topic_arn` (the platform stack's operations
    topic), never the failing topic itself, so a broken alert path is reported somewhere else.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_name: str,
        project_name: str,
        topic_name: str,
        operations_topic_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"SNS failed to deliver notifications of {topic_name}, the alert topic of project "
                f"{project_name}: budget and alarm e-mails were lost. Check the subscriptions "
                "(`claude-finops status`), the topic's KMS key policy and SNS delivery status logging."
            ),
            metric=cloudwatch.Metric(
                namespace="AWS/SNS",
                metric_name="NumberOfNotificationsFailed",
                dimensions_map={"TopicName": topic_name},
                statistic="Sum",
                period=PERIOD,
            ),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        operations = sns.Topic.from_topic_arn(self, "OperationsTopic", operations_topic_arn)
        self.alarm.add_alarm_action(actions.SnsAction(operations))
        self.alarm.add_ok_action(actions.SnsAction(operations))
