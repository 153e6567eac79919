"""CLI test kit: the example config, stubbed or moto clients, one CLI runner."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from finops.cli import main
from finops.deployment import AwsClients

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "projects.yaml"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clients:
    """Stubbed clients per (service, region), created on first use; moto for the others."""

    def __init__(self, moto_services: set[str] = frozenset(), fakes: dict[str, Any] | None = None) -> None:
        self.stubs: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], Any] = {}
        self.moto_services = set(moto_services)
        self.fakes = dict(fakes or {})  # service -> a fake client (fake_bill.FakeCostExplorer)

    def client(self, service: str, region: str = "us-east-1") -> Any:
        if service in self.fakes:
            return self.fakes[service]
        key = (service, region)
        if key not in self.clients:
            self.clients[key] = boto3.client(service, region_name=region)
            if service not in self.moto_services:
                stub = Stubber(self.clients[key])
                stub.activate()
                self.stubs[key] = stub
        return self.clients[key]

    def stub(self, service: str, region: str = "us-east-1") -> Stubber:
        self.client(service, region)
        return self.stubs[(service, region)]

    def factory(self, service: str, region: str, _config: Any) -> Any:
        return self.client(service, region)

    def aws(self) -> AwsClients:
        return AwsClients(factory=self.factory)

    def assert_no_pending(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(
    argv: list[str], clients: Clients | None = None, *, now: datetime = NOW, config: Path = EXAMPLE
) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--config", str(config), "--quiet", *argv]
        if "--quiet" not in argv
        else ["--config", str(config), *argv],
        clients=(clients or Clients()).aws(),
        stdout=out,
        stderr=err,
        now=now,
    )
    return Run(code, out.getvalue(), err.getvalue())
