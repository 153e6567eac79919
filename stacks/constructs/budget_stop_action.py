"""Billing-layer backstop: at 100% of the AWS Budget, deny Bedrock invocation to the project's function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

DENIED_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
STOP_THRESHOLD_PERCENT = 100.0


def budget_source_conditions(stack: Stack, budget_name: str) -> dict[str, dict[str, object]]:
    """`aws:SourceArn` conditions that admit exactly this budget (and its actions), no other.

    Budgets documents its source ARN only as matching `budget/*`; whether it sends the budget's
    ARN or its action's (`budget/<name>/action/<id>`) is unverified, so both are admitted. A budget
    name may not contain `/action/` (Budgets' own name pattern), so the second form cannot match
    another budget, unlike a prefix wildcard (`budget/<name>*` also matches `<name>-other`).
    """
    budget_arn = f"arn:{stack.partition}:budgets::{stack.account}:budget/{budget_name}"
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": [budget_arn, f"{budget_arn}/action/*"]},
    }


class BudgetStopAction(Construct):
    """`AWS::Budgets::BudgetsAction` that attaches a deny policy to the function's role (and the
    gateway function's, `more_roles`) at 100% ACTUAL.

    It runs automatically (no approval), notifies the alert topic (Budgets rejects an action
    without subscribers), and uses its own execution role that may attach or detach only this deny
    policy, only to this role. The ledger's hard cap usually stops spend first; this catches what
    the ledger cannot see (spend settled late on the bill, a ledger set to `soft`). Budgets
    evaluates a few times a day, so it acts hours after the fact. Undo: detach the policy from the
    role (or reset the action in the Budgets console) after raising the budget.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        budget_name: str,
        function_role: iam.IRole,
        topic: sns.ITopic,
        policy_name: str,
        tags: Mapping[str, str],
        more_roles: Sequence[iam.IRole] = (),
    ) -> None:
        roles = [function_role, *more_roles]  # the gateway's role too, when the project has one
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.deny_policy = iam.ManagedPolicy(
            self,
            "DenyBedrock",
            managed_policy_name=policy_name,
            # Create-only, like the name: nothing here may change when the budget is renamed (new
            # thresholds), or the policy would be replaced under the same name, which fails.
            description="Attached by AWS Budgets when the project's budget reaches 100%: stops Bedrock calls",
            statements=[
                iam.PolicyStatement(
                    sid="BudgetExhaustedDenyBedrock",
                    effect=iam.Effect.DENY,
                    actions=list(DENIED_ACTIONS),
                    resources=["*"],
                )
            ],
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal(
                "budgets.amazonaws.com",
                conditions=budget_source_conditions(stack, budget_name),
            ),
            description=f"AWS Budgets applies the {budget_name} stop policy to the project's function role",
            inline_policies={
                "AttachOnlyTheStopPolicy": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                            resources=[r.role_arn for r in roles],
                            conditions={"ArnEquals": {"iam:PolicyARN": self.deny_policy.managed_policy_arn}},
                        )
                    ]
                )
            },
        )
        self.action = budgets.CfnBudgetsAction(
            self,
            "Action",
            budget_name=budget_name,
            action_type="APPLY_IAM_POLICY",
            action_threshold=budgets.CfnBudgetsAction.ActionThresholdProperty(
                type="PERCENTAGE", value=STOP_THRESHOLD_PERCENT
            ),
            approval_model="AUTOMATIC",
            notification_type="ACTUAL",
            execution_role_arn=self.execution_role.role_arn,
            definition=budgets.CfnBudgetsAction.DefinitionProperty(
                iam_action_definition=budgets.CfnBudgetsAction.IamActionDefinitionProperty(
                    policy_arn=self.deny_policy.managed_policy_arn, roles=[r.role_name for r in roles]
                )
            ),
            subscribers=[budgets.CfnBudgetsAction.SubscriberProperty(type="SNS", address=topic.topic_arn)],
            resource_tags=[
                budgets.CfnBudgetsAction.ResourceTagProperty(key=k, value=v) for k, v in tags.items()
            ],
        )
