"""One application inference profile per allowed model of a project: its billing identity on Bedrock."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import CfnTag, Stack
from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from claude_platform.config import Project

# AWS::Bedrock::ApplicationInferenceProfile Description: 1-200 chars of this pattern (CFN schema).
DESCRIPTION_RE = re.compile(r"^([0-9a-zA-Z:.][ _-]?)+$")
DESCRIPTION_MAX = 200


class InferenceProfiles(Construct):
    """`AWS::Bedrock::ApplicationInferenceProfile` per model, copying the system cross-region profile
    (or, for geography `none`, the in-region foundation model) and carrying the project's tags, which
    Bedrock attaches to the billing records of requests made through it.

    `profiles` maps model alias to the profile (GetAtt `InferenceProfileArn` / `InferenceProfileId`).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, project: Project, tags: Mapping[str, str]
    ) -> None:
        if not project.models:
            raise ValueError(f"project {project.name!r} has no models")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.profiles: dict[str, bedrock.CfnApplicationInferenceProfile] = {}
        for project_model in project.models:
            model, geography = project_model.model, project_model.geography
            via = (
                "in-region foundation model"
                if geography.value == "none"
                else f"{geography.value} cross-region profile"
            )
            description = f"Claude for project {project.name}: {model.alias} via {via}"
            if len(description) > DESCRIPTION_MAX or not DESCRIPTION_RE.match(description):
                raise ValueError(f"profile description {description!r} is not valid for Bedrock")
            profile = bedrock.CfnApplicationInferenceProfile(
                self,
                model.alias,
                inference_profile_name=project_model.profile_name,
                description=description,
                model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(
                    copy_from=model.source_arn(
                        geography, region=stack.region, account=stack.account, partition=stack.partition
                    )
                ),
                tags=[CfnTag(key=k, value=v) for k, v in tags.items()],
            )
            self.profiles[model.alias] = profile
