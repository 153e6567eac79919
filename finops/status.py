"""`status`: per project, profiles and models, this month's ledger spend against its cap, alarm
states and alert subscriptions still pending confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from claude_platform.config import Project
from claude_platform.ledger import MonthState, to_usd
from finops.output import Column

PENDING = "PendingConfirmation"

COLUMNS = (
    Column("project", "project"),
    Column("region", "region"),
    Column("models", "models"),
    Column("profiles", "profiles deployed"),
    Column("spent_usd", "spent USD (month)", places=4),
    Column("reserved_usd", "reserved USD", places=4),
    Column("cap_usd", "cap USD", places=2),
    Column("cap_used_pct", "cap used %", places=1),
    Column("refusals", "refusals"),
    Column("alarms_firing", "alarms firing"),
    Column("pending_subscriptions", "pending subscriptions"),
)


def cap_usd(project: Project, state: MonthState) -> tuple[Decimal, str]:
    """The month's cap: what the ledger enforces, else the config's spend cap, else the budget."""
    if state.cap_micro is not None:
        return to_usd(state.cap_micro), "ledger cap"
    return Decimal(str(project.config.cap_usd)), "config (spend_cap_usd, else monthly_budget_usd)"


def alarm_states(
    cloudwatch: Any, prefix: str, *, topic_arn: str | None = None, other_prefixes: Sequence[str] = ()
) -> dict[str, str]:
    """Alarm name -> state for the project's alarms: names starting with `prefix`, and notifying
    `topic_arn` when it is known. Names under `other_prefixes` belong to other projects whose names
    extend this one's (`support` and `support-bot`) and are left out."""
    states: dict[str, str] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            name = alarm["AlarmName"]
            if any(name.startswith(other) for other in other_prefixes):
                continue
            if topic_arn and topic_arn not in alarm.get("AlarmActions", []):
                continue
            states[name] = alarm["StateValue"]
    return states


def pending_subscriptions(sns: Any, topic_arn: str) -> list[str]:
    """Endpoints of the topic's subscriptions still waiting for confirmation."""
    pending = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        pending += [
            s["Endpoint"] for s in page.get("Subscriptions", []) if s.get("SubscriptionArn") == PENDING
        ]
    return pending


def status_row(
    project: Project,
    *,
    region: str,
    state: MonthState,
    profile_arns: dict[str, str | None],
    alarms: dict[str, str],
    pending: list[str],
) -> dict[str, object]:
    """One project's row."""
    cap, _source = cap_usd(project, state)
    firing = sorted(name for name, value in alarms.items() if value == "ALARM")
    deployed = sum(1 for arn in profile_arns.values() if arn)
    return {
        "project": project.name,
        "region": region,
        "models": ", ".join(m.alias for m in project.models),
        "profiles": f"{deployed}/{len(project.models)}",
        "spent_usd": state.spent_usd,
        "reserved_usd": state.reserved_usd,
        "cap_usd": cap,
        "cap_used_pct": (state.spent_usd * 100 / cap).quantize(Decimal("0.1")) if cap else None,
        "refusals": state.refusals,
        "alarms_firing": f"{len(firing)}/{len(alarms)}" + (f" ({', '.join(firing)})" if firing else ""),
        "pending_subscriptions": len(pending),
    }
