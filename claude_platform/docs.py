"""README sections generated from the code: the config reference (from the config model's fields and
their descriptions) and the names of what is deployed (from claude_platform.naming).

`python -m claude_platform.docs` rewrites the generated sections of README.md in place, between
`<!-- BEGIN GENERATED: <section> -->` and `<!-- END GENERATED: <section> -->`; `--check` only
reports whether they are current (exit 1 if not). A field without a description is an error: every
config field documents itself with `Field(description=...)`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from claude_platform.catalog import Geography, resolve_model
from claude_platform.config_model import (
    CurExportConfig,
    PlatformConfig,
    PriceOverrideConfig,
    PriceTierConfig,
    ProjectConfig,
)
from claude_platform.config_sections import (
    ALERT_THRESHOLDS_MEANING,
    AlarmThresholds,
    GatewayConfig,
    LangfuseTracing,
    OtlpTracing,
    TracingConfig,
)
from claude_platform.cur import athena_workgroup_name, export_name, glue_database_name
from claude_platform.guardrails import DeniedTopic, GuardrailConfig, GuardrailPricing, RegexFilter
from claude_platform.naming import (
    alarm_name,
    alert_topic_name,
    alerts_key_alias,
    budget_name,
    budget_stop_policy_name,
    cost_tag_activation_function_name,
    gateway_function_name,
    gateway_log_group_name,
    inference_profile_name,
    ledger_table_name,
    operations_alarm_name,
    operations_key_alias,
    operations_topic_name,
    platform_stack_name,
    project_stack_name,
    proxy_function_name,
    proxy_log_group_name,
    spend_dashboard_name,
    subscription_check_function_name,
)

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "python -m claude_platform.docs"

# The example the names section shows (the defaults and projects.yaml's first and EU projects).
EXAMPLE_PREFIX = PlatformConfig.model_fields["name_prefix"].default
EXAMPLE_HOME = "us-east-1"
EXAMPLE_PROJECT = "support-bot"
EXAMPLE_OTHER_REGION = "eu-west-1"
EXAMPLE_OTHER_PROJECT = "eu-assistant"


class DocsError(ValueError):
    """The config model cannot be documented (a field lacks a description)."""


def _value(value: Any) -> str:
    """A default as it would be written in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, BaseModel):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.model_dump().items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(name: str, field: FieldInfo, owner: str) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, Mapping) and "doc_default" in extra:
        return str(extra["doc_default"])
    if field.is_required():
        return "required"
    if field.default is None:
        raise DocsError(f"{owner}.{name}: default None needs json_schema_extra doc_default (what None means)")
    return f"`{_value(field.default)}`"


def field_rows(model: type[BaseModel], *, first: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """(key, default, meaning) per field of `model`, `first` fields first, then declaration order."""
    fields = model.model_fields
    order = [*first, *(n for n in fields if n not in first)]
    rows = []
    for name in order:
        field = fields[name]
        if not field.description:
            raise DocsError(
                f"{model.__name__}.{name} has no description: add Field(description=...) in "
                "claude_platform/config.py (the README's config reference is generated from it)"
            )
        rows.append((f"`{name}`", _default(name, field, model.__name__), field.description))
    return rows


def _table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def config_reference() -> str:
    """The config reference: top level, per project, `alarms`, `pricing` entries."""
    return "\n\n".join(
        [
            "Top level:",
            _table(field_rows(PlatformConfig)),
            "Per project (and in `defaults`, all but `name`):",
            _table(field_rows(ProjectConfig, first=("name",))),
            "`alarms` (per profile, per 5 minutes):",
            _table(field_rows(AlarmThresholds)),
            "`pricing` entries (USD per million tokens):",
            _table(field_rows(PriceOverrideConfig)),
            "`tiers` entries of a `pricing` entry (long context, USD per million tokens):",
            _table(field_rows(PriceTierConfig)),
            "`tracing` (per-call traces and X-Ray; see Per-call traces):",
            _table(field_rows(TracingConfig)),
            "`tracing.langfuse`:",
            _table(field_rows(LangfuseTracing)),
            "`tracing.otlp`:",
            _table(field_rows(OtlpTracing)),
            "`gateway` (HTTPS endpoint with per-caller API keys; see [docs/deploy.md](docs/deploy.md)):",
            _table(field_rows(GatewayConfig)),
            "`guardrail` (Bedrock Guardrails; see [docs/guardrails.md](docs/guardrails.md)):",
            _table(field_rows(GuardrailConfig)),
            "`guardrail.denied_topics` entries:",
            _table(field_rows(DeniedTopic)),
            "`guardrail.regexes` entries:",
            _table(field_rows(RegexFilter)),
            "`guardrail_pricing` (USD per 1,000 text units):",
            _table(field_rows(GuardrailPricing)),
            "`cur_export` ([docs/finance.md](docs/finance.md)):",
            _table(field_rows(CurExportConfig)),
        ]
    )


def names_reference() -> str:
    """What gets deployed under which name, from naming.py, for the example projects."""
    p, home, project = EXAMPLE_PREFIX, EXAMPLE_HOME, EXAMPLE_PROJECT
    other, other_project = EXAMPLE_OTHER_REGION, EXAMPLE_OTHER_PROJECT
    sonnet, haiku3 = resolve_model("claude-sonnet-4-5"), resolve_model("claude-3-haiku")
    default_thresholds = ProjectConfig.model_fields["alert_thresholds"].default

    def budget(name: str, region: str) -> str:
        return budget_name(p, name, region=region, home_region=home, actual_thresholds=default_thresholds)

    rows: list[tuple[str, str, str]] = [
        (
            "platform stack, per region",
            f"`{platform_stack_name(p, home, home)}`",
            f"`{platform_stack_name(p, other, home)}`",
        ),
        ("project stack", f"`{project_stack_name(p, project)}`", f"`{project_stack_name(p, other_project)}`"),
        (
            "inference profile, per model",
            f"`{inference_profile_name(p, project, sonnet, Geography.US)}`, "
            f"`{inference_profile_name(p, project, haiku3, Geography.NONE)}` (geography `none`)",
            f"`{inference_profile_name(p, other_project, sonnet, Geography.EU)}`",
        ),
        ("function", f"`{proxy_function_name(p, project)}`", f"`{proxy_function_name(p, other_project)}`"),
        ("log group", f"`{proxy_log_group_name(p, project)}`", f"`{proxy_log_group_name(p, other_project)}`"),
        (
            "gateway function and log group (`gateway.enabled`)",
            f"`{gateway_function_name(p, project)}`, `{gateway_log_group_name(p, project)}`",
            f"`{gateway_function_name(p, other_project)}`, ...",
        ),
        (
            "alarms, gateway: refused API keys, crashes (`gateway.enabled`)",
            f"`{alarm_name(p, project, 'gateway', 'auth-failures')}`, `{alarm_name(p, project, 'gateway', 'errors')}`",
            f"`{alarm_name(p, other_project, 'gateway', 'auth-failures')}`",
        ),
        ("alert topic", f"`{alert_topic_name(p, project)}`", f"`{alert_topic_name(p, other_project)}`"),
        (
            "alarm, alert e-mails SNS failed to deliver (to the operations topic)",
            f"`{alarm_name(p, project, 'alerts', 'delivery-failures')}`",
            f"`{alarm_name(p, other_project, 'alerts', 'delivery-failures')}`",
        ),
        ("budget (account-wide names)", f"`{budget(project, home)}`", f"`{budget(other_project, other)}`"),
        (
            "alarms, per model",
            f"`{alarm_name(p, project, sonnet.alias, 'throttles')}`, `-server-errors`, `-client-errors`",
            f"`{alarm_name(p, other_project, sonnet.alias, 'throttles')}`, ...",
        ),
        (
            "alarm, function",
            f"`{alarm_name(p, project, 'proxy', 'errors')}`",
            f"`{alarm_name(p, other_project, 'proxy', 'errors')}`",
        ),
        (
            "budget stop policy (`budget_action`, account-wide)",
            f"`{budget_stop_policy_name(p, project, region=home, home_region=home)}`",
            f"`{budget_stop_policy_name(p, other_project, region=other, home_region=home)}`",
        ),
        ("KMS key alias, per region", f"`{alerts_key_alias(p)}`", f"`{alerts_key_alias(p)}`"),
        ("spend ledger table, per region", f"`{ledger_table_name(p)}`", f"`{ledger_table_name(p)}`"),
        (
            "operations topic and its KMS key alias, per region",
            f"`{operations_topic_name(p)}`, `{operations_key_alias(p)}`",
            f"`{operations_topic_name(p)}`, `{operations_key_alias(p)}`",
        ),
        (
            "subscription check function and its alarms, per region",
            f"`{subscription_check_function_name(p)}`, `{operations_alarm_name(p, 'pending-subscriptions')}`, "
            f"`{operations_alarm_name(p, 'subscription-check-errors')}`",
            f"`{subscription_check_function_name(p)}`, ...",
        ),
        (
            "spend dashboard, per region",
            f"`{spend_dashboard_name(p, home)}`",
            f"`{spend_dashboard_name(p, other)}`",
        ),
        (
            "tag activation function (`activate_cost_tags_on_deploy`, home region)",
            f"`{cost_tag_activation_function_name(p)}`",
            "none",
        ),
        (
            "CUR 2.0 export, Glue database, Athena workgroup (`cur_export`, home region us-east-1)",
            f"`{export_name(p)}`, `{glue_database_name(p)}`, `{athena_workgroup_name(p)}`",
            "none",
        ),
    ]
    header = (
        f"| what | project `{project}` in the home region {home} | project `{other_project}` in {other} |\n"
        "| --- | --- | --- |"
    )
    return header + "\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)


def alert_thresholds_sentence() -> str:
    """What `alert_thresholds` mean, from the config model (the same words as the config reference)."""
    default = ProjectConfig.model_fields["alert_thresholds"].default
    return (
        f"`alert_thresholds` (default `{_value(default)}`) are {ALERT_THRESHOLDS_MEANING}. Each ledger "
        "threshold sends one message per month to the project's topic (a claim that is not confirmed "
        "as sent is taken over by a later call after the function's timeout plus a minute). Under "
        "`enforcement: hard` a threshold above 100 is a config error, and the first call of the month "
        'refused by the cap sends one "cap reached, calls are refused until <reset>" message, which '
        "stands for the 100% alert (a request whose worst case alone is over the cap does not count)."
    )


SECTIONS: dict[str, Callable[[], str]] = {
    "config-reference": config_reference,
    "names": names_reference,
    "alert-thresholds": alert_thresholds_sentence,
}


def _markers(section: str) -> tuple[str, str]:
    return f"<!-- BEGIN GENERATED: {section} -->", f"<!-- END GENERATED: {section} -->"


def render(text: str) -> str:
    """`text` (README.md) with every generated section replaced by its current content."""
    for section, make in SECTIONS.items():
        begin, end = _markers(section)
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise DocsError(f"README.md lacks the markers of section {section!r}:\n{begin}\n{end}")
        text = text[: start + len(begin)] + "\n" + make() + "\n" + text[stop:]
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with --check, verify) the generated sections of README.md."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    parser.add_argument("--readme", type=Path, default=README, help="the file to update (default: README.md)")
    args = parser.parse_args(argv)
    readme: Path = args.readme
    current = readme.read_text(encoding="utf-8")
    try:
        wanted = render(current)
    except DocsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if current == wanted:
        return 0
    if args.check:
        print(f"{readme}: generated sections are out of date: run `{REGENERATE}`", file=sys.stderr)
        return 1
    readme.write_text(wanted, encoding="utf-8")
    print(f"{readme}: generated sections updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
