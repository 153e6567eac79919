"""A project's Bedrock guardrail: created from its declared policies (with a published version), or referenced.

Also the IAM pieces that make the guardrail mandatory: the `bedrock:GuardrailIdentifier` condition
every invoke grant carries, and the one `bedrock:ApplyGuardrail` grant (docs/aws-facts.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import Fn, Stack, Token
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from constructs import Construct

from claude_platform.guardrails import GUARDRAIL_ARN_RE, GuardrailConfig

GUARDRAIL_CONDITION_KEY = "bedrock:GuardrailIdentifier"


@dataclass(frozen=True)
class GuardrailGrant:
    """The guardrail a function must call with: its ARN and published version (tokens when created here)."""

    arn: str
    version: str

    @property
    def identifier(self) -> str:
        """`<guardrail ARN>:<version>`: the value `bedrock:GuardrailIdentifier` carries on inference."""
        return Fn.join(":", [self.arn, self.version])


def with_guardrail(conditions: dict[str, Any], grant: GuardrailGrant | None) -> dict[str, Any]:
    """IAM conditions plus `StringEquals bedrock:GuardrailIdentifier` when the project has a guardrail."""
    if grant is None:
        return conditions
    equals = {**conditions.get("StringEquals", {}), GUARDRAIL_CONDITION_KEY: grant.identifier}
    return {**conditions, "StringEquals": equals}


def apply_guardrail_statements(grant: GuardrailGrant | None) -> list[iam.PolicyStatement]:
    """`bedrock:ApplyGuardrail` on the project's guardrail only (inference with a guardrail needs it)."""
    if grant is None:
        return []
    return [
        iam.PolicyStatement(
            sid="ApplyOwnGuardrailOnly", actions=["bedrock:ApplyGuardrail"], resources=[grant.arn]
        )
    ]


class ProjectGuardrail(Construct):
    """The project's guardrail: `grant` names it for IAM and the function's settings.

    A declared guardrail is an AWS::Bedrock::Guardrail plus an AWS::Bedrock::GuardrailVersion whose
    description carries a hash of the policies: a version is a snapshot taken when it is created
    (its description is create-only), so a policy change replaces the version and the function
    moves to the new one in the same deploy. Encryption at rest is Bedrock's own (AWS-owned key);
    the stack's cost tags reach the guardrail as they reach every taggable resource.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: GuardrailConfig, name: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.guardrail: bedrock.CfnGuardrail | None = None
        self.version: bedrock.CfnGuardrailVersion | None = None
        if config.is_reference:
            self.grant = GuardrailGrant(
                arn=_reference_arn(stack, config.id or ""), version=config.version or ""
            )
            return
        props = config.cfn_properties()
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Guardrail",
            name=name,
            description=f"Content policy of Claude project {name}",
            blocked_input_messaging=props["BlockedInputMessaging"],
            blocked_outputs_messaging=props["BlockedOutputsMessaging"],
        )
        for key, value in props.items():
            if key.endswith("PolicyConfig"):  # the policies, in CloudFormation's own casing
                self.guardrail.add_property_override(key, value)
        digest = hashlib.sha256(json.dumps(props, sort_keys=True).encode()).hexdigest()[:16]
        self.version = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=f"policies {digest}",
        )
        self.grant = GuardrailGrant(arn=self.guardrail.attr_guardrail_arn, version=self.version.attr_version)


def _reference_arn(stack: Stack, identifier: str) -> str:
    """An existing guardrail's ARN from its id or ARN (which must be in the stack's account and region)."""
    match = GUARDRAIL_ARN_RE.match(identifier)
    if match is None:
        return f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:guardrail/{identifier}"
    region, account = match.group(2), match.group(3)
    if not Token.is_unresolved(stack.region) and region != stack.region:
        raise ValueError(
            f"guardrail.id: {identifier} is in {region}; the project's stack is in {stack.region}"
        )
    if not Token.is_unresolved(stack.account) and account != stack.account:
        raise ValueError(f"guardrail.id: {identifier} belongs to account {account}, not {stack.account}")
    return identifier
