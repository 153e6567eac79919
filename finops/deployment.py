"""What is deployed for each configured project: regions, stack outputs, ledger table, clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from claude_platform.config import Platform, Project
from claude_platform.ledger import LedgerTable
from claude_platform.naming import ledger_table_name, project_stack_name, stack_output_key
from finops.errors import CliError

CE_REGION = "us-east-1"  # Cost Explorer's one endpoint


def project_region(platform: Platform, project: Project) -> str:
    """Where a project's stacks live: its own `region` if the config has one, else the platform's."""
    return getattr(project.config, "region", None) or platform.config.region


@dataclass
class AwsClients:
    """boto3 clients by service and region, created once; tests pass a factory of stubbed clients."""

    session: Any = None
    factory: Any = None
    _cache: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str, *, config: Config | None = None) -> Any:
        """A client for `service` in `region`."""
        key = (service, region, repr(config))
        if key not in self._cache:
            if self.factory is not None:
                self._cache[key] = self.factory(service, region, config)
            else:
                session = self.session or boto3.session.Session()
                self._cache[key] = session.client(service, region_name=region, config=config)
        return self._cache[key]

    def ce(self) -> Any:
        """Cost Explorer (global, served from us-east-1)."""
        return self.client("ce", CE_REGION)

    def ledger(self, platform: Platform, region: str) -> LedgerTable:
        """The spend ledger table of `region`."""
        return LedgerTable(self.client("dynamodb", region), ledger_table_name(platform.config.name_prefix))


@dataclass(frozen=True)
class ProjectOutputs:
    """A project stack's outputs that the tools use."""

    stack_name: str
    outputs: dict[str, str]

    def profile_arn(self, alias: str) -> str | None:
        """The application inference profile ARN of a model alias."""
        return self.outputs.get(stack_output_key(alias, "ProfileArn"))

    def get(self, key: str) -> str | None:
        """Any output by key."""
        return self.outputs.get(key)


def project_outputs(cfn: Any, platform: Platform, project: Project) -> ProjectOutputs:
    """Outputs of the project's stack; CliError naming the stack when it is not deployed."""
    name = project_stack_name(platform.config.name_prefix, project.name)
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        if "does not exist" in message:
            raise CliError(f"{project.name}: stack {name} is not deployed (cdk deploy {name})") from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return ProjectOutputs(name, outputs)


def select_projects(platform: Platform, names: list[str] | None) -> list[Project]:
    """The named projects (all when none are named); CliError for a name not in the config."""
    if not names:
        return list(platform.projects)
    known = {p.name: p for p in platform.projects}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CliError(f"--project {', '.join(unknown)}: not in the config (known: {', '.join(known)})")
    return [known[n] for n in names]
