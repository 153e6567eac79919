"""Hourly count of unconfirmed alert subscriptions, as a metric with an alarm to the operations topic."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from claude_platform.pending_subscriptions import METRIC_NAME
from stacks.constructs.single_file_function import RUNTIME, single_file_function

# The handler is claude_platform/pending_subscriptions.py alone (standard library + boto3).
SCHEDULE = Duration.hours(1)
# A new subscription is pending until its owner clicks the link: alarm only when that has not
# happened for this many consecutive hourly checks.
PENDING_HOURS_TO_ALARM = 6


class SubscriptionCheck(Construct):
    """A small Lambda, run hourly, that lists the account's SNS subscriptions in the region, counts
    those of the project alert topics still `PendingConfirmation`, and publishes `PendingSubscriptions`
    (namespace `metrics_namespace`; region total without dimensions, and per `project` where any).

    Alarms to `operations_topic`: `pending_alarm` when the total stayed >= 1 for
    PENDING_HOURS_TO_ALARM hours (or the check stopped reporting), `errors_alarm` when the check
    itself fails. Its role may only list subscriptions, write this one namespace and its own log.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        topic_name_prefix: str,
        topic_name_suffix: str,
        metrics_namespace: str,
        pending_alarm_name: str,
        errors_alarm_name: str,
        operations_topic: sns.ITopic,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        made = single_file_function(
            self,
            function_name=function_name,
            module_file="pending_subscriptions.py",
            description="Counts unconfirmed subscriptions of the Claude platform's alert topics (hourly)",
            role_description=f"{function_name}: list SNS subscriptions, publish {METRIC_NAME}, write own logs",
            policy_name="CheckSubscriptions",
            statements=[
                iam.PolicyStatement(
                    sid="ListSubscriptions", actions=["sns:ListSubscriptions"], resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="PublishPendingSubscriptionsMetric",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": metrics_namespace}},
                ),
            ],
            timeout=Duration.seconds(120),
            environment={
                "METRICS_NAMESPACE": metrics_namespace,
                "TOPIC_ARN_PREFIX": f"arn:{stack.partition}:sns:{stack.region}:{stack.account}:{topic_name_prefix}",
                "TOPIC_SUFFIX": topic_name_suffix,
            },
            log_retention=log_retention,
        )
        self.log_group, self.role, self.function = made.log_group, made.role, made.function
        self.schedule = events.Rule(
            self,
            "Hourly",
            description="Count unconfirmed subscriptions of the Claude platform's alert topics",
            schedule=events.Schedule.rate(SCHEDULE),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        action = actions.SnsAction(operations_topic)
        self.pending_alarm = cloudwatch.Alarm(
            self,
            "PendingAlarm",
            alarm_name=pending_alarm_name,
            alarm_description=(
                f"Alert-topic subscriptions in this region stayed unconfirmed for {PENDING_HOURS_TO_ALARM} "
                "hours: those addresses receive no budget or alarm e-mails. The dashboard's 'Unconfirmed "
                "alert subscriptions' widget and `claude-finops status` name the projects; ask the owners "
                "to click the confirmation link (or resend it by re-subscribing). Missing data means the "
                f"check ({function_name}) stopped reporting."
            ),
            metric=cloudwatch.Metric(
                namespace=metrics_namespace, metric_name=METRIC_NAME, statistic="Maximum", period=SCHEDULE
            ),
            threshold=1,
            evaluation_periods=PENDING_HOURS_TO_ALARM,
            datapoints_to_alarm=PENDING_HOURS_TO_ALARM,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_name=errors_alarm_name,
            alarm_description=(
                f"The subscription check {function_name} failed: unconfirmed alert subscriptions are not "
                "being counted. Read its log group."
            ),
            metric=self.function.metric_errors(period=SCHEDULE, statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.pending_alarm, self.errors_alarm):
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "sns:ListSubscriptions and cloudwatch:PutMetricData support no resource-level "
                    "permissions, so IAM requires Resource '*'; PutMetricData is limited to the platform's "
                    "metrics namespace by the cloudwatch:namespace condition, and the role has no other "
                    "SNS or CloudWatch action (it cannot read messages, subscribe or unsubscribe)."
                ),
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=(
                    f"{RUNTIME.name} is pinned to the runtime the project functions use and test on; the "
                    "handler is one standard-library file, so moving it with them is a one-line change."
                ),
            )
        )
