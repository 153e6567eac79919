"""`keys create | list | update | revoke`: the per-caller API keys of a project's HTTPS endpoint.

Keys are stored as hashes in the region's ledger table (`claude_platform.api_keys`). `create`
prints the key once: it cannot be shown again. `list` and `revoke` never show key material, only
the key's id (a prefix of its hash). A revoked key stops working within a minute (the function
caches lookups for `claude_proxy.auth.CACHE_TTL_S`); so does a changed limit (`update`).
A key's limits: `monthly_cap_usd` (its spend this month, with the project's cap, in the same
ledger write), `requests_per_minute`, `tokens_per_minute`. `list` shows each key's spend this
month (the ledger's `keymonth#` counters, by key name) against its cap.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from claude_platform.api_keys import ApiKeyError, ApiKeyRecord, ApiKeyStore, KeyLimits
from claude_platform.config import Project
from claude_platform.ledger import LedgerTable, MonthState, period_of, to_micro, to_usd
from claude_platform.naming import ledger_table_name
from finops.deployment import project_region, select_projects
from finops.errors import EXIT_OK, CliError, error_code
from finops.output import Column, Format, render

if TYPE_CHECKING:
    from finops.cli import Context

COLUMNS = (
    Column("project", "project"),
    Column("name", "name"),
    Column("key_id", "key id"),
    Column("status", "status"),
    Column("monthly_cap_usd", "cap USD/month"),
    Column("requests_per_minute", "requests/min"),
    Column("tokens_per_minute", "tokens/min"),
    Column("alert_thresholds", "alerts %"),
    Column("created_at", "created (UTC)"),
    Column("revoked_at", "revoked (UTC)"),
)
SPEND_COLUMNS = (
    Column("period", "month"),
    Column("spent_usd", "spent USD"),
    Column("reserved_usd", "reserved USD"),
    Column("cap_used_pct", "% of cap"),
)


def _usd(micro: int | None) -> float | None:
    return None if micro is None else float(to_usd(micro))


def _row(record: ApiKeyRecord) -> dict[str, object]:
    limits = record.limits
    return {
        "project": record.project,
        "name": record.name,
        "key_id": record.key_id,
        "status": "active" if record.active else "revoked",
        "monthly_cap_usd": _usd(limits.monthly_cap_micro),
        "requests_per_minute": limits.requests_per_minute,
        "tokens_per_minute": limits.tokens_per_minute,
        "alert_thresholds": list(limits.alert_thresholds),
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


def _spend_row(record: ApiKeyRecord, state: MonthState) -> dict[str, object]:
    cap = record.limits.monthly_cap_micro
    return {
        "period": state.period,
        "spent_usd": _usd(state.spent_micro),
        "reserved_usd": _usd(state.reserved_micro),
        "cap_used_pct": round(state.spent_micro / cap * 100, 1) if cap else None,
    }


def _limit(value: str, *, usd: bool = False) -> int | None:
    """A limit from the command line: a positive number, or `none` to remove it."""
    if value.strip().lower() == "none":
        return None
    try:
        number = to_micro(value) if usd else int(value)
    except (ValueError, ArithmeticError):
        raise argparse.ArgumentTypeError(f"{value!r}: a positive number, or none") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: must be positive (or none to remove the limit)")
    return number


def _usd_limit(value: str) -> int | None:
    return _limit(value, usd=True)


def _thresholds(value: str) -> tuple[float, ...]:
    """`50,80,100` (percent of the key's cap), or `none`."""
    if value.strip().lower() == "none":
        return ()
    try:
        numbers = tuple(sorted({float(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: comma-separated percents like 50,80,100, or none"
        ) from None
    if not numbers or any(not 0 < n <= 100 for n in numbers):
        raise argparse.ArgumentTypeError(f"{value!r}: each threshold in (0, 100] percent of the key's cap")
    return numbers


_LIMIT_OPTIONS = (
    ("--monthly-cap-usd", "monthly_cap_micro", _usd_limit, "the key's own monthly spend cap in USD"),
    ("--requests-per-minute", "requests_per_minute", _limit, "the key's requests per minute"),
    ("--tokens-per-minute", "tokens_per_minute", _limit, "the key's tokens (input + output) per minute"),
    (
        "--alert-thresholds",
        "alert_thresholds",
        _thresholds,
        "percents of the key's cap alerted once a month to the project's topic, e.g. 50,80,100",
    ),
)


_UNCHANGED = -1  # an update option not given


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    return {dest: getattr(args, dest) for _, dest, _, _ in _LIMIT_OPTIONS if hasattr(args, dest)}


def _store(ctx: Context) -> tuple[Project, ApiKeyStore, str]:
    platform = ctx.platform
    (project,) = select_projects(platform, [ctx.args.project])
    region = project_region(platform, project)
    table = ledger_table_name(platform.config.name_prefix)
    return project, ApiKeyStore(ctx.clients.client("dynamodb", region), table), f"{table} ({region})"


def _run(ctx: Context, where: str, work: Callable[[], Any]) -> Any:
    """`work()`, with a missing table and key errors as one-line CliErrors."""
    try:
        return work()
    except ApiKeyError as exc:
        raise CliError(str(exc)) from None
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise CliError(
                f"ledger table {where} not found: deploy the platform stack of that region first"
            ) from None
        raise


def _gateway_note(project: Project, limits: KeyLimits | None = None) -> list[str]:
    notes = []
    if not project.config.gateway.enabled:
        notes.append(
            f"{project.name}: gateway is not enabled in the config, so no endpoint accepts this key yet"
        )
    if limits is not None and limits != KeyLimits() and project.config.enforcement == "off":
        notes.append(
            f"{project.name}: enforcement is off (no ledger), so this key's cap and rate limits are not enforced"
        )
    return notes


def cmd_create(ctx: Context) -> int:
    """A new key for a project: printed once."""
    project, store, where = _store(ctx)
    given = {k: v for k, v in _changes(ctx.args).items() if v is not None}
    limits = _run(ctx, "", lambda: KeyLimits(**given))
    key, record = _run(
        ctx, where, lambda: store.create(project.name, ctx.args.name, now=ctx.now, limits=limits)
    )
    notes = _gateway_note(project, limits)
    if ctx.fmt is Format.JSON:
        print(json.dumps({"key": key, **_row(record), "notes": notes}, indent=2), file=ctx.stdout)
    elif ctx.fmt is Format.CSV:
        columns = (Column("key", "key"), *COLUMNS)
        print(render([{"key": key, **_row(record)}], columns, Format.CSV), file=ctx.stdout)
    else:
        print(key, file=ctx.stdout)
        print(
            f"created key {record.name!r} ({record.key_id}) for {project.name}: store it now, "
            "it cannot be shown again",
            file=ctx.stderr,
        )
        for note in notes:
            print(note, file=ctx.stderr)
    return EXIT_OK


def cmd_list(ctx: Context) -> int:
    """A project's keys, active and revoked, without key material."""
    project, store, where = _store(ctx)
    records = _run(ctx, where, lambda: list(store.records(project.name)))
    records.sort(key=lambda r: (not r.active, r.name, r.created_at))
    period = period_of(ctx.now)
    ledger = LedgerTable(ctx.clients.client("dynamodb", project_region(ctx.platform, project)), store.table)
    months = _run(ctx, where, lambda: ledger.key_months(project.name, period))
    rows = [
        {**_row(r), **_spend_row(r, months.get(r.name) or MonthState(project.name, period))} for r in records
    ]
    ctx.emit(
        rows,
        (*COLUMNS[:8], *SPEND_COLUMNS, *COLUMNS[8:]),
        title=f"{project.name}: API keys in {where}; spend in {period} (UTC) by key name",
        notes=_gateway_note(project),
    )
    return EXIT_OK


def cmd_update(ctx: Context) -> int:
    """Change an active key's limits (a number sets one, `none` removes it)."""
    project, store, where = _store(ctx)
    changes = {k: v for k, v in _changes(ctx.args).items() if v != _UNCHANGED}
    if not changes:
        raise CliError("keys update: give --monthly-cap-usd, --requests-per-minute or --tokens-per-minute")
    record = _run(ctx, where, lambda: store.update(project.name, ctx.args.name, changes))
    ctx.emit(
        [_row(record)],
        COLUMNS,
        title=f"{project.name}: updated",
        notes=["the endpoint applies the change within 60 s (cached lookups expire)"],
    )
    return EXIT_OK


def cmd_revoke(ctx: Context) -> int:
    """Revoke a project's active key by name."""
    project, store, where = _store(ctx)
    record = _run(ctx, where, lambda: store.revoke(project.name, ctx.args.name, now=ctx.now))
    ctx.emit(
        [_row(record)],
        COLUMNS,
        title=f"{project.name}: revoked",
        notes=["the endpoint refuses it within 60 s (cached lookups expire); the name is free again"],
    )
    return EXIT_OK


REPORT_COLUMNS = (
    Column("period", "month"),
    Column("project", "project"),
    Column("key", "API key"),
    Column("spent_usd", "spent USD"),
    Column("estimated_usd", "of which estimated USD"),
    Column("reserved_usd", "reserved USD"),
    Column("monthly_cap_usd", "key cap USD"),
    Column("cap_used_pct", "% of key cap"),
    Column("requests", "requests"),
    Column("input_tokens", "input tokens"),
    Column("output_tokens", "output tokens"),
)


def report_rows(
    months: dict[str, dict[str, MonthState]], caps: dict[str, int | None], project: str
) -> list[dict[str, object]]:
    """One row per month and key name (from the ledger's `keymonth#` counters), then the month's total."""
    rows: list[dict[str, object]] = []
    for period, by_key in sorted(months.items()):
        total = MonthState(project, period)
        for name, state in sorted(by_key.items()):
            cap = caps.get(name)
            rows.append(
                {
                    "period": period,
                    "project": project,
                    "key": name,
                    "spent_usd": _usd(state.spent_micro),
                    "estimated_usd": _usd(state.estimated_micro),
                    "reserved_usd": _usd(state.reserved_micro),
                    "monthly_cap_usd": _usd(cap),
                    "cap_used_pct": round(state.spent_micro / cap * 100, 1) if cap else None,
                    "requests": state.requests,
                    "input_tokens": state.input_tokens,
                    "output_tokens": state.output_tokens,
                }
            )
            total = MonthState(
                project,
                period,
                spent_micro=total.spent_micro + state.spent_micro,
                estimated_micro=total.estimated_micro + state.estimated_micro,
                reserved_micro=total.reserved_micro + state.reserved_micro,
                requests=total.requests + state.requests,
                input_tokens=total.input_tokens + state.input_tokens,
                output_tokens=total.output_tokens + state.output_tokens,
            )
        if by_key:
            rows.append(
                {
                    "period": period,
                    "project": project,
                    "key": "TOTAL (keys)",
                    "spent_usd": _usd(total.spent_micro),
                    "estimated_usd": _usd(total.estimated_micro),
                    "reserved_usd": _usd(total.reserved_micro),
                    "requests": total.requests,
                    "input_tokens": total.input_tokens,
                    "output_tokens": total.output_tokens,
                }
            )
    return rows


def cmd_report_by_key(ctx: Context, months: list[str]) -> int:
    """`report --by key`: each project's spend per API key name and month, from the ledger."""
    platform = ctx.platform
    selected = select_projects(platform, [ctx.args.project] if ctx.args.project else [])
    table = ledger_table_name(platform.config.name_prefix)
    rows: list[dict[str, object]] = []
    for project in selected:
        region = project_region(platform, project)
        client = ctx.clients.client("dynamodb", region)
        ledger, store = LedgerTable(client, table), ApiKeyStore(client, table)
        where = f"{table} ({region})"
        found = _run(ctx, where, lambda: {m: ledger.key_months(project.name, m) for m in months})  # noqa: B023
        records = _run(ctx, where, lambda: list(store.records(project.name)))  # noqa: B023
        caps = {r.name: r.limits.monthly_cap_micro for r in records if r.active}
        rows += report_rows(found, caps, project.name)
    ctx.emit(
        rows,
        REPORT_COLUMNS,
        title=f"Claude spend per API key (ledger), {months[0]}..{months[-1]}",
        notes=[
            "from the spend ledger's per-key counters (calls through the HTTPS endpoint); the invoke path "
            "has no key and counts in the project's total only",
            "a key's cap is its current one; spend is by key name (a replacement key keeps its name's spend)",
        ],
    )
    return EXIT_OK


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """`report --by project|key [--project NAME]`."""
    parser.add_argument(
        "--by",
        choices=["project", "key"],
        default="project",
        help="project: Cost Explorer per project (default); key: the spend ledger per API key and month",
    )
    parser.add_argument("--project", help="with --by key: only this project")


def register(
    *,
    common: Callable[[], argparse.ArgumentParser],
    add: Callable[..., argparse.ArgumentParser],
) -> None:
    """Add `keys` with its subcommands to the CLI's parser (`add` registers a top-level command)."""
    keys = add("keys", None, "per-caller API keys of a project's HTTPS endpoint: create, list, revoke")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    def action(name: str, func: Callable[[Context], int], help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text, parents=[common()])
        sub.set_defaults(func=func)
        sub.add_argument("--project", required=True, help="project name from the config")
        return sub

    p = action("create", cmd_create, 'create a key and print it once (--format json: {"key": ...})')
    p.add_argument("--name", required=True, help="the caller's name, its identity in spend records")
    for flag, dest, parse, help_text in _LIMIT_OPTIONS:
        p.add_argument(
            flag, dest=dest, type=parse, default=None, metavar="N", help=f"{help_text} (default: none)"
        )
    action("list", cmd_list, "list a project's keys (names, ids, limits, spend this month; never the keys)")
    p = action("update", cmd_update, "change an active key's limits (a number, or none to remove)")
    p.add_argument("--name", required=True)
    for flag, dest, parse, help_text in _LIMIT_OPTIONS:
        p.add_argument(flag, dest=dest, type=parse, default=_UNCHANGED, metavar="N|none", help=help_text)
    p = action("revoke", cmd_revoke, "revoke a project's active key by name")
    p.add_argument("--name", required=True)
