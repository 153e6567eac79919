"""CLI test kit: fake credentials, the example config, stubbed or moto clients, one CLI runner."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from finops.cli import main
from finops.deployment import AwsClients

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "projects.yaml"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class Clients:
    """Stubbed clients per (service, region), created on first use; moto for the others."""

    def __init__(self, moto_services: set[str] = frozenset()) -> None:
        self.stubs: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], Any] = {}
        self.moto_services = set(moto_services)

    def client(self, service: str, region: str = "us-east-1") -> Any:
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


@pytest.fixture
def clients() -> Iterator[Clients]:
    c = Clients()
    yield c
    c.assert_no_pending()


RunCli = Callable[..., Run]
