"""Optional organization guardrails for Bedrock spend: a service control policy and a permissions
boundary (JSON policy documents) that keep model invocation on the paths the platform can see.

Both deny, for every principal they cover: invoking anything but an application inference profile
(a direct model call, a system cross-region profile, a provisioned or custom model, an async
invocation), batch inference jobs, Bedrock API keys (bearer tokens) and the `bedrock-mantle`
endpoint. The SCP also denies invoking the platform's own (cost-tagged) profiles to every
principal but the project functions' roles (path `/<name_prefix>-functions/`), and protects that
path from roles created outside CloudFormation. The boundary, attached to the roles that are not
project functions, denies those profiles outright. Rollout: docs/deploy.md.

`python -m claude_platform.spend_policies [projects.yaml] [--out policies]` writes both for a config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from claude_platform.naming import function_role_path

# IAM actions that invoke models (Converse and ConverseStream are authorized as these two; so are
# StartAsyncInvoke, on the async-invoke resource, and bidirectional streaming).
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# Invocation the function's ledger never sees.
UNSEEN_INVOCATION_ACTIONS = (
    "bedrock:CreateModelInvocationJob",
    "bedrock:CallWithBearerToken",
    "bedrock-mantle:*",
)
APPLICATION_PROFILES = "arn:*:bedrock:*:*:application-inference-profile/*"
# The CDK bootstrap's CloudFormation execution role (any qualifier), which creates the function roles.
CLOUDFORMATION_EXECUTION_ROLES = "arn:*:iam::*:role/cdk-*-cfn-exec-role-*"
ROLE_DEFINITION_ACTIONS = ("iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy")
SCP_MAX_CHARS = 5120  # AWS Organizations, whitespace not counted
MANAGED_POLICY_MAX_CHARS = 6144  # IAM managed policy (a permissions boundary), whitespace not counted
SCP_FILE = "scp-bedrock-spend.json"
BOUNDARY_FILE = "permissions-boundary-bedrock-spend.json"


def _function_roles(name_prefix: str) -> str:
    return f"arn:*:iam::*:role{function_role_path(name_prefix)}*"


def _common_denials() -> list[dict[str, Any]]:
    return [
        {
            "Sid": "InvokeOnlyThroughApplicationInferenceProfiles",
            "Effect": "Deny",
            "Action": list(INVOKE_ACTIONS),
            "NotResource": APPLICATION_PROFILES,
            # A request through an application profile carries its ARN on the model check; a
            # direct model call, a system profile call or an async invocation carries none.
            "Condition": {"StringNotLike": {"bedrock:InferenceProfileArn": APPLICATION_PROFILES}},
        },
        {
            "Sid": "NoInvocationTheLedgerCannotSee",
            "Effect": "Deny",
            "Action": list(UNSEEN_INVOCATION_ACTIONS),
            "Resource": "*",
        },
    ]


def scp_document(name_prefix: str, tag_key: str) -> dict[str, Any]:
    """The service control policy: for every principal of the accounts it is attached to."""
    function_roles = _function_roles(name_prefix)
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_common_denials(),
            {
                "Sid": "PlatformProfilesOnlyForTheProjectFunctions",
                "Effect": "Deny",
                "Action": list(INVOKE_ACTIONS),
                "Resource": APPLICATION_PROFILES,
                "Condition": {
                    "Null": {f"aws:ResourceTag/{tag_key}": "false"},
                    "ArnNotLike": {"aws:PrincipalArn": function_roles},
                },
            },
            {
                "Sid": "FunctionRolePathOnlyThroughCloudFormation",
                "Effect": "Deny",
                "Action": list(ROLE_DEFINITION_ACTIONS),
                "Resource": function_roles,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}},
            },
        ],
    }


def boundary_document(name_prefix: str, tag_key: str) -> dict[str, Any]:
    """The permissions boundary for roles that are not project functions (it caps, never grants)."""
    del name_prefix  # the boundary is attached to the other roles: no principal exception needed
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EverythingTheRolesOwnPoliciesAllow", "Effect": "Allow", "Action": "*", "Resource": "*"},
            *_common_denials(),
            {
                "Sid": "NoPlatformProfiles",
                "Effect": "Deny",
                "Action": list(INVOKE_ACTIONS),
                "Resource": APPLICATION_PROFILES,
                "Condition": {"Null": {f"aws:ResourceTag/{tag_key}": "false"}},
            },
        ],
    }


def policy_text(document: dict[str, Any]) -> str:
    """The document as committed: 2-space JSON with a final newline."""
    return json.dumps(document, indent=2) + "\n"


def documents(name_prefix: str, tag_key: str) -> dict[str, str]:
    """File name -> text of both documents."""
    return {
        SCP_FILE: policy_text(scp_document(name_prefix, tag_key)),
        BOUNDARY_FILE: policy_text(boundary_document(name_prefix, tag_key)),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the SCP and the permissions boundary for a projects file."""
    parser = argparse.ArgumentParser(
        prog="python -m claude_platform.spend_policies", description=main.__doc__
    )
    parser.add_argument("config", nargs="?", type=Path, default=Path("projects.yaml"))
    parser.add_argument("--out", type=Path, default=Path("policies"), help="directory (default: policies)")
    args = parser.parse_args(argv)
    from claude_platform.config import ConfigError, load_config

    try:
        platform = load_config(
            yaml.safe_load(args.config.read_text(encoding="utf-8")), source=str(args.config)
        )
    except (OSError, yaml.YAMLError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in documents(platform.config.name_prefix, platform.config.cost_allocation_tag_key).items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
