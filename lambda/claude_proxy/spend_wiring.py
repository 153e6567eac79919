"""Builds the project's SpendLedger from its settings, once per container (boto3 clients are reused)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from claude_platform.ledger import LedgerTable
from claude_proxy.observability import logger
from claude_proxy.settings import Settings
from claude_proxy.spend import (
    LEDGER_CONNECT_TIMEOUT_S,
    LEDGER_READ_TIMEOUT_S,
    ProjectSpendLedger,
    SnsPublisher,
    UnmeteredLedger,
)

# botocore's own retries are off: in its client config `max_attempts` counts *retries* (2 meant
# three tries, each up to the read timeout), `total_max_attempts` counts tries. ProjectSpendLedger
# retries itself, only while the invocation has time left for another try and the answer.
LEDGER_TOTAL_MAX_ATTEMPTS = 1


def _now() -> datetime:
    return datetime.now(UTC)


def _warn(message: str, fields: dict[str, Any]) -> None:
    logger.warning(message, extra=fields)


def _client(service: str, region: str) -> Any:
    """A boto3 client with short timeouts; endpoint from boto3's own resolution (AWS_ENDPOINT_URL_<SERVICE>)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=LEDGER_CONNECT_TIMEOUT_S,
        read_timeout=LEDGER_READ_TIMEOUT_S,
        retries={"total_max_attempts": LEDGER_TOTAL_MAX_ATTEMPTS, "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.session.Session().client(service, region_name=region, config=config)


@lru_cache(maxsize=4)
def ledger_for(settings: Settings) -> ProjectSpendLedger | UnmeteredLedger:
    """The ledger for these settings (cached: settings are parsed once per environment)."""
    spend = settings.project.spend
    if spend.enforcement == "off" or not spend.ledger_table:
        return UnmeteredLedger(cap_usd=spend.cap_usd, now=_now)
    publisher = (
        SnsPublisher(_client("sns", settings.region), spend.alert_topic_arn)
        if spend.alert_topic_arn
        else None
    )
    return ProjectSpendLedger(
        table=LedgerTable(_client("dynamodb", settings.region), spend.ledger_table),
        project=settings.project.project,
        hard=spend.enforcement == "hard",
        cap_usd=spend.cap_usd,
        thresholds=spend.alert_thresholds,
        publisher=publisher,
        now=_now,
        log_warning=_warn,
        stale_after_s=spend.stale_after_s,
        requests_per_minute=spend.requests_per_minute,
        tokens_per_minute=spend.tokens_per_minute,
    )
