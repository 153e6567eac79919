"""A platform helper function whose code is one claude_platform module (standard library + boto3), with
its own log group and an inline-policy role that may write only that log group plus what it is given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

import claude_platform

HANDLER_DIR = Path(claude_platform.__file__).resolve().parent
RUNTIME = lambda_.Runtime.PYTHON_3_13  # the runtime the project functions use and test on


@dataclass(frozen=True)
class SingleFileFunction:
    """What `single_file_function` created (children of the scope it was given)."""

    log_group: logs.LogGroup
    role: iam.Role
    function: lambda_.Function


def single_file_function(
    scope: Construct,
    *,
    function_name: str,
    module_file: str,
    description: str,
    role_description: str,
    policy_name: str,
    statements: Sequence[iam.PolicyStatement],
    timeout: Duration,
    environment: Mapping[str, str],
    log_retention: logs.RetentionDays,
) -> SingleFileFunction:
    """Log group `/aws/lambda/<function_name>`, role and function (ids `LogGroup`, `Role`, `Function`
    in `scope`); the handler is `<module>.lambda_handler` of claude_platform/`module_file`."""
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        log_group_name=f"/aws/lambda/{function_name}",
        retention=log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    own_logs = iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group.log_group_arn],
    )
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
        inline_policies={policy_name: iam.PolicyDocument(statements=[own_logs, *statements])},
    )
    function = lambda_.Function(
        scope,
        "Function",
        function_name=function_name,
        description=description,
        runtime=RUNTIME,
        handler=f"{Path(module_file).stem}.lambda_handler",
        code=lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["*", f"!{module_file}"]),
        timeout=timeout,
        memory_size=256,
        role=role,
        log_group=log_group,
        environment=dict(environment),
    )
    return SingleFileFunction(log_group, role, function)
