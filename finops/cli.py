"""`claude-finops`: reports, reconciliation, tags, checks and spend by feature for the Claude platform.

Entry point like app.py: it reads the projects file (through `claude_platform.config.load_config`)
and finds deployed resources by the names in `claude_platform.naming` and the project stacks'
outputs. Exit codes: 0 done, 1 failed (one line on stderr says why), 2 usage error (argparse), 3 done
and something needs attention (differences, not ready, keys not in billing data yet).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from claude_platform.catalog import PriceOverride
from claude_platform.config import ConfigError, Platform, load_config, price_overrides
from claude_platform.cost_tags import FAILED, NOT_MANAGEMENT_HINT, NOT_SEEN, activate_tag_keys
from claude_platform.cur import GLUE_TABLE_NAME, athena_workgroup_name, glue_database_name, saved_queries
from claude_platform.ledger import LedgerTable, MonthState, period_of
from claude_platform.naming import gateway_log_group_name, proxy_log_group_name
from claude_platform.prices import TokenUsage
from finops import (
    bill_lines,
    claude_code,
    estimate,
    keys,
    litellm_config,
    reconcile,
    report,
    spend_by_tag,
    status,
)
from finops import check as checks
from finops.athena import run_athena
from finops.cli_args import GATEWAY_URL_OUTPUT, PROG, build_parser
from finops.costexplorer import TagStatus, costs_by_tag, month_end_forecast, tag_statuses
from finops.deployment import AwsClients, project_outputs, project_region, select_projects
from finops.errors import (
    ACCESS_DENIED_CODES,
    EXIT_ATTENTION,
    EXIT_ERROR,
    EXIT_OK,
    CliError,
    describe_aws_error,
    error_code,
)
from finops.output import Column, Format, Progress, render
from finops.periods import Period, next_month, parse_period, utc_today


@dataclass
class Context:
    """What every command gets: arguments, output streams, clock, AWS clients, the config (lazily)."""

    args: argparse.Namespace
    stdout: TextIO
    stderr: TextIO
    now: datetime
    clients: AwsClients
    _platform: Platform | None = field(default=None)

    @property
    def platform(self) -> Platform:
        """The validated projects file."""
        if self._platform is None:
            self._platform = read_platform(Path(self.args.config))
        return self._platform

    @property
    def today(self) -> date:
        """Today in UTC."""
        return utc_today(self.now)

    @property
    def fmt(self) -> Format:
        """Selected output format."""
        return Format(self.args.format)

    def progress(self) -> Progress:
        """Progress reporter on stderr (quiet with --quiet)."""
        return Progress(stream=self.stderr, quiet=self.args.quiet)

    def emit(self, rows: Sequence[dict[str, object]], columns: Sequence[Column], **kwargs: Any) -> None:
        """Print rows in the selected format."""
        print(render(rows, columns, self.fmt, **kwargs), file=self.stdout)


def read_platform(path: Path) -> Platform:
    """Parse and validate the projects file; CliError listing the problems."""
    try:
        # libyaml's safe loader when present: same result, ~10x faster on a 300-project file.
        raw = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except OSError as exc:
        raise CliError(
            f"{path}: cannot read the projects file ({exc.strerror or exc}); pass --config PATH"
        ) from None
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return load_config(raw, source=str(path))
    except ConfigError as exc:
        raise CliError(f"{path}: {len(exc.problems)} problem(s): " + "; ".join(exc.problems)) from None


def _period(ctx: Context) -> Period:
    a = ctx.args
    return parse_period(month=a.month, start=a.start, end=a.end, today=ctx.today)


# --- report -------------------------------------------------------------------------------------


def cmd_report(ctx: Context) -> int:
    """Cost Explorer spend per project; `--by key`: the ledger's spend per API key."""
    platform = ctx.platform
    tag_key = platform.tag_key
    period = _period(ctx)
    if ctx.args.by == "key":
        return keys.cmd_report_by_key(ctx, period.months())
    if ctx.args.project:
        raise CliError("report --project goes with --by key (the Cost Explorer report covers every project)")
    monthly = ctx.args.granularity == "MONTHLY"
    ce = ctx.clients.ce()
    progress = ctx.progress()
    notes = []
    tag_state = tag_statuses(ce, [tag_key])[tag_key]
    if tag_state is not TagStatus.ACTIVE:
        notes.append(_tag_note(tag_key, tag_state))
    result = costs_by_tag(
        ce,
        period=period,
        granularity=ctx.args.granularity,
        tag_key=tag_key,
        on_page=lambda n: progress.update(f"Cost Explorer: page {n}"),
    )
    progress.done()
    forecasts: dict[str, Decimal | None] | None = None
    current_month = ctx.today.replace(day=1)
    if monthly and not ctx.args.no_forecast and period.start <= ctx.today < period.end:
        forecasts = {}
        # A project without spend this month has nothing to forecast from: no request (each costs).
        spending = {c.tag_value for c in result.costs if c.start >= current_month and c.amount > 0}
        for i, project in enumerate(platform.projects, 1):
            if project.name not in spending:
                forecasts[project.name] = None
                continue
            progress.update(f"forecast {i}/{len(platform.projects)}: {project.name}")
            forecasts[project.name] = month_end_forecast(
                ce, tag_key=tag_key, tag_value=project.name, today=ctx.today
            )
        progress.done()
    budgets = [
        report.ProjectBudget(p.name, Decimal(str(p.config.monthly_budget_usd))) for p in platform.projects
    ]
    rows = report.report_rows(
        result.costs,
        projects=budgets,
        monthly=monthly,
        forecasts=forecasts,
        current_month_start=current_month,
    )
    notes.append(
        f"{period}, {ctx.args.granularity.lower()}, UnblendedCost by tag '{tag_key}' "
        f"({result.pages} Cost Explorer page(s)); no service filter: Claude is billed through AWS Marketplace"
    )
    if any(r.get("estimated") for r in rows):
        notes.append(
            "estimated: the period is not closed; Marketplace usage can settle more than 48 hours late"
        )
    ctx.emit(rows, report.COLUMNS, title=f"Claude spend per project, {period}", notes=notes)
    return EXIT_OK


def _tag_note(tag_key: str, state: TagStatus) -> str:
    if state is TagStatus.INACTIVE:
        return f"tag '{tag_key}' is not active as a cost-allocation tag: spend shows as untagged (run activate-tags)"
    if state is TagStatus.NOT_SEEN:
        return f"tag '{tag_key}' has not appeared in billing data yet: spend shows as untagged (try again in a day)"
    return f"could not read the status of tag '{tag_key}' (ce:ListCostAllocationTags denied): untagged spend may hide project spend"


# --- spend-by-tag -------------------------------------------------------------------------------


def cmd_spend_by_tag(ctx: Context) -> int:
    """Spend inside one project by a caller tag (Logs Insights over the function's log group)."""
    platform = ctx.platform
    (project,) = select_projects(platform, [ctx.args.project])
    period = _period(ctx)
    by_key = ctx.args.by_key
    query = spend_by_tag.insights_query(ctx.args.tag, by_key=by_key)
    region = project_region(platform, project)
    log_group: str | list[str] = proxy_log_group_name(platform.config.name_prefix, project.name)
    if by_key and project.config.gateway.enabled:
        # Calls through the HTTPS endpoint are logged by the gateway function, with the key's name.
        log_group = [log_group, gateway_log_group_name(platform.config.name_prefix, project.name)]
    where = log_group if isinstance(log_group, str) else " and ".join(log_group)
    progress = ctx.progress()
    start = datetime.combine(period.start, datetime.min.time(), UTC)
    end = min(datetime.combine(period.end, datetime.min.time(), UTC), ctx.now)
    results = spend_by_tag.run_query(
        ctx.clients.client("logs", region),
        log_group=log_group,
        query=query,
        start=start,
        end=end,
        on_wait=lambda state, scanned: progress.update(
            f"Logs Insights {state}: {scanned:,.0f} records scanned"
        ),
    )
    progress.done()
    rows = spend_by_tag.parse_results(results)
    rows.append(spend_by_tag.total_row(rows))
    ctx.emit(
        rows,
        spend_by_tag.COLUMNS,
        title=(
            f"{project.name}: spend by API key, {period}"
            if by_key
            else f"{project.name}: spend by caller tag '{ctx.args.tag}', {period}"
        ),
        notes=[
            f"source: the function's log lines in {where} ({region}); estimated USD: worst-case charges "
            "for calls whose outcome was unknown (timeouts), until reconcile settles them from the bill"
        ],
    )
    return EXIT_OK


# --- reconcile ----------------------------------------------------------------------------------


def cmd_reconcile(ctx: Context) -> int:
    """Ledger against the bill per project and month; settle estimates with --apply."""
    platform = ctx.platform
    args = ctx.args
    period = _period(ctx)
    try:
        tolerance = reconcile.Tolerance(usd=Decimal(args.tolerance_usd), percent=Decimal(args.tolerance_pct))
    except InvalidOperation:
        raise CliError("--tolerance-usd and --tolerance-pct take numbers") from None
    projects = select_projects(platform, args.project)
    ce = ctx.clients.ce()
    progress = ctx.progress()
    tag_key = platform.tag_key
    tag_active = tag_statuses(ce, [tag_key])[tag_key] in (TagStatus.ACTIVE, TagStatus.UNKNOWN)
    # Whole months, as the ledger keeps them (the current month up to today).
    last = period.end - timedelta(days=1)
    month_period = Period(period.start.replace(day=1), next_month(last)).clamp(ctx.today)
    patterns = bill_lines.service_patterns(args.claude_service or ())
    bills = bill_lines.read_tag_bill(
        ce,
        period=month_period,
        tag_key=tag_key,
        patterns=patterns,
        on_page=lambda n: progress.update(f"Cost Explorer: page {n}"),
    )
    now_epoch = int(ctx.now.timestamp())
    results: list[reconcile.Reconciliation] = []
    tables: dict[str, bool] = {}
    for i, project in enumerate(projects, 1):
        region = project_region(platform, project)
        ledger = ctx.clients.ledger(platform, region)
        ledger_on = project.config.enforcement != "off"
        has_table = not ledger_on or _ledger_exists(ledger, region, tables)
        for month in month_period.months():
            progress.update(f"ledger {i}/{len(projects)}: {project.name} {month}")
            billed = bills.of(project.name, month)
            if not has_table:
                results.append(reconcile.missing_table(project.name, month, billed, region=region))
                continue
            if ledger_on and args.apply:
                ledger.charge_stale_reservations(
                    project=project.name,
                    period=month,
                    older_than_epoch=now_epoch - args.stale_minutes * 60,
                    now_epoch=now_epoch,
                )
            state = (
                ledger.month(project.name, month)
                if ledger_on
                else MonthState(project=project.name, period=month)
            )
            outcome = reconcile.reconcile_month(
                state,
                billed,
                bill_final=reconcile.bill_is_final(
                    month, now=ctx.now, ce_estimated=bills.estimated.get(month, True)
                ),
                tag_active=tag_active,
                tolerance=tolerance,
                ledger_on=ledger_on,
            )
            if args.apply:
                outcome = reconcile.settle(ledger, outcome, state, now_epoch=now_epoch)
            results.append(outcome)
    progress.done()
    claude_patterns = ", ".join(f"'{p.pattern}'" for p in patterns if p.kind is bill_lines.LineKind.CLAUDE)
    notes = [
        f"tolerance: {tolerance.usd} USD or {tolerance.percent}% of the Claude bill, whichever is larger; "
        f"bill from Cost Explorer UnblendedCost by tag '{tag_key}' and SERVICE ({bills.pages} page(s)), "
        f"record types {', '.join(bill_lines.USAGE_RECORD_TYPES)} only",
        f"counted as Claude: SERVICE values matching {claude_patterns} (the Marketplace names are "
        "unverified: see docs/aws-facts.md; --claude-service adds one); infrastructure, unclassified "
        "and credit/refund/tax lines are shown, never compared",
    ]
    if any(r.status is reconcile.Status.WOULD_SETTLE for r in results):
        notes.append("estimated charges can be settled from the bill: run again with --apply")
    ctx.emit(
        [r.row() for r in results], reconcile.COLUMNS, title=f"Ledger against the bill, {period}", notes=notes
    )
    attention = {
        reconcile.Status.DIFFERS,
        reconcile.Status.TAG_NOT_ACTIVE,
        reconcile.Status.CONFLICT,
        reconcile.Status.WOULD_SETTLE,
        reconcile.Status.NO_TABLE,
    }
    unclassified = any(r.unclassified_usd for r in results)
    return EXIT_ATTENTION if unclassified or any(r.status in attention for r in results) else EXIT_OK


def _ledger_exists(ledger: LedgerTable, region: str, cache: dict[str, bool]) -> bool:
    """Whether the region's ledger table exists (asked once per region)."""
    if region not in cache:
        try:
            ledger.month("-", "1970-01")
            cache[region] = True
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            cache[region] = False
    return cache[region]


# --- activate-tags ------------------------------------------------------------------------------


def tag_keys_of(platform: Platform) -> list[str]:
    """The cost-allocation tag key, then every project's extra tag keys (sorted)."""
    extra = sorted({k for p in platform.projects for k in p.config.tags} - {platform.tag_key})
    return [platform.tag_key, *extra]


def cmd_activate_tags(ctx: Context) -> int:
    """Activate the cost-allocation tag and the projects' tag keys."""
    keys = ctx.args.keys or tag_keys_of(ctx.platform)
    try:
        results = activate_tag_keys(ctx.clients.ce(), keys)
    except ClientError as exc:
        if error_code(exc) in ACCESS_DENIED_CODES:
            raise CliError(
                f"activate-tags: access denied: {NOT_MANAGEMENT_HINT} (and ce:UpdateCostAllocationTagsStatus, ce:ListCostAllocationTags)"
            ) from None
        raise
    rows = [{"tag_key": r.tag_key, "result": r.result, "detail": r.detail} for r in results]
    columns = (Column("tag_key", "tag key"), Column("result", "result"), Column("detail", "detail"))
    ctx.emit(rows, columns, title="Cost-allocation tag keys")
    if any(r.result == FAILED for r in results):
        return EXIT_ERROR
    return EXIT_ATTENTION if any(r.result == NOT_SEEN for r in results) else EXIT_OK


# --- status -------------------------------------------------------------------------------------


def cmd_status(ctx: Context) -> int:
    """Per project: profiles, models, this month's ledger spend against its cap, alarms, subscriptions."""
    platform = ctx.platform
    prefix = platform.config.name_prefix
    period = period_of(ctx.now)
    rows = []
    notes = []
    progress = ctx.progress()
    projects = select_projects(platform, ctx.args.project)
    for i, project in enumerate(projects, 1):
        progress.update(f"status {i}/{len(projects)}: {project.name}")
        region = project_region(platform, project)
        try:
            outputs = project_outputs(ctx.clients.client("cloudformation", region), platform, project)
        except CliError as exc:
            notes.append(str(exc))
            outputs = None
        arns = {m.alias: outputs.profile_arn(m.alias) if outputs else None for m in project.models}
        try:
            state = ctx.clients.ledger(platform, region).month(project.name, period)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            notes.append(
                f"{project.name}: no spend ledger table in {region} (platform stack not deployed there?)"
            )
            state = MonthState(project=project.name, period=period)
        topic = outputs.get("AlertTopicArn") if outputs else None
        alarms = status.alarm_states(
            ctx.clients.client("cloudwatch", region),
            f"{prefix}-{project.name}-",
            topic_arn=topic,
            other_prefixes=[
                f"{prefix}-{other.name}-"
                for other in platform.projects
                if other.name != project.name and other.name.startswith(f"{project.name}-")
            ],
        )
        pending = status.pending_subscriptions(ctx.clients.client("sns", region), topic) if topic else []
        if pending:
            notes.append(f"{project.name}: waiting for confirmation from {', '.join(pending)}")
        if project.config.enforcement == "off":
            notes.append(
                f"{project.name}: enforcement is off, the ledger records nothing (see report for the bill)"
            )
        rows.append(
            status.status_row(
                project, region=region, state=state, profile_arns=arns, alarms=alarms, pending=pending
            )
        )
    progress.done()
    ctx.emit(rows, status.COLUMNS, title=f"Claude platform status, {period} (ledger month, UTC)", notes=notes)
    return EXIT_OK


# --- check --------------------------------------------------------------------------------------


def cmd_check(ctx: Context) -> int:
    """Invoke each project's function, confirm profile, tags, budget and topic."""
    platform = ctx.platform
    findings: list[checks.Finding] = []
    progress = ctx.progress()
    projects = select_projects(platform, ctx.args.project)
    account = ctx.clients.client("sts", platform.config.region).get_caller_identity()["Account"]
    for i, project in enumerate(projects, 1):
        progress.update(f"check {i}/{len(projects)}: {project.name}")
        region = project_region(platform, project)
        try:
            outputs = project_outputs(ctx.clients.client("cloudformation", region), platform, project)
        except CliError as exc:
            findings.append(checks.Finding(project.name, "stack", False, str(exc)))
            continue
        findings.append(checks.Finding(project.name, "stack", True, f"{outputs.stack_name} in {region}"))
        if not ctx.args.skip_invoke:
            client = ctx.clients.client("lambda", region, config=checks.lambda_client_config(project))
            findings.append(
                checks.check_invoke(
                    client, checks.function_name(platform, project, outputs), project, outputs
                )
            )
        findings += checks.check_profile_tags(
            ctx.clients.client("bedrock", region), platform, project, outputs
        )
        findings.append(
            checks.check_budget(ctx.clients.client("budgets", "us-east-1"), account, project, outputs)
        )
        findings.append(checks.check_topic(ctx.clients.client("sns", region), project, outputs))
    progress.done()
    failing = [f for f in findings if not f.ok]
    notes = [
        f"{len(failing)} of {len(findings)} check(s) not ready"
        if failing
        else f"all {len(findings)} checks ready"
    ]
    ctx.emit([f.row() for f in findings], checks.COLUMNS, title="Deployment check", notes=notes)
    return EXIT_ATTENTION if failing else EXIT_OK


# --- estimate -----------------------------------------------------------------------------------


def cmd_estimate(ctx: Context) -> int:
    """Cost of tokens for a model and geography (config price overrides apply with --config)."""
    a = ctx.args
    overrides: dict[str, PriceOverride] = {}
    if a.with_config_prices:
        overrides = price_overrides(ctx.platform.config)
    for name in ("input", "output", "cache_read", "cache_write", "cache_write_1h", "requests"):
        if getattr(a, name) < 0:
            raise CliError(f"--{name.replace('_', '-')} must not be negative")
    usage = TokenUsage(
        input_tokens=a.input,
        output_tokens=a.output,
        cache_read_input_tokens=a.cache_read,
        cache_write_input_tokens=a.cache_write,
        cache_write_1h_input_tokens=a.cache_write_1h,
    )
    rows, source = estimate.estimate_rows(
        model=a.model, geography=a.geography, usage=usage, requests=a.requests, overrides=overrides
    )
    if a.guardrail_project or a.guardrail_policies:
        rows, source = estimate.with_guardrail(rows, source, _guardrail_rows(ctx))
    ctx.emit(rows, estimate.COLUMNS, title=f"Estimate for {source}")
    return EXIT_OK


def _guardrail_rows(ctx: Context) -> list[dict[str, object]]:
    """The guardrail rows of `estimate` (the config is read only when the options need it)."""
    a = ctx.args
    return estimate.guardrail_rows_for(
        lambda: ctx.platform,
        project=a.guardrail_project,
        policies=a.guardrail_policies,
        with_config_prices=a.with_config_prices,
        input_chars=a.guardrail_input_chars,
        output_chars=a.guardrail_output_chars,
        requests=a.requests,
    )


# --- litellm-config -----------------------------------------------------------------------------


def cmd_litellm_config(ctx: Context) -> int:
    """Write a LiteLLM Proxy model_list for the deployed profiles."""
    platform = ctx.platform
    entries = []
    for project in select_projects(platform, ctx.args.project):
        region = project_region(platform, project)
        outputs = project_outputs(ctx.clients.client("cloudformation", region), platform, project)
        arns = {m.alias: outputs.profile_arn(m.alias) for m in project.models}
        missing = [alias for alias, arn in arns.items() if not arn]
        if missing:
            raise CliError(
                f"{project.name}: {outputs.stack_name} has no profile output for {', '.join(missing)}; deploy it first"
            )
        entries.append((project, region, {k: v for k, v in arns.items() if v}))
    document = litellm_config.model_list(platform, entries)
    text = "# LiteLLM Proxy model_list for the Claude platform's profiles (claude-finops litellm-config)\n"
    text += yaml.safe_dump(document, sort_keys=False)
    if ctx.args.output and ctx.args.output != "-":
        Path(ctx.args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(document['model_list'])} model(s) to {ctx.args.output}", file=ctx.stderr)
    else:
        ctx.stdout.write(text)
    return EXIT_OK


# --- claude-code-settings -----------------------------------------------------------------------


def cmd_claude_code_settings(ctx: Context) -> int:
    """Write Claude Code settings for a project's endpoint."""
    platform = ctx.platform
    (project,) = select_projects(platform, [ctx.args.project])
    base_url = ctx.args.base_url
    if not base_url:
        region = project_region(platform, project)
        outputs = project_outputs(ctx.clients.client("cloudformation", region), platform, project)
        base_url = outputs.get(GATEWAY_URL_OUTPUT)
        if not base_url:
            raise CliError(
                f"{project.name}: {outputs.stack_name} has no {GATEWAY_URL_OUTPUT} output (is `gateway` "
                "enabled and deployed?); or pass --base-url"
            )
    document = claude_code.settings(project, base_url=base_url, api_key_helper=ctx.args.api_key_helper)
    text = claude_code.render(document)
    if ctx.args.output and ctx.args.output != "-":
        Path(ctx.args.output).write_text(text, encoding="utf-8")
        print(f"wrote Claude Code settings for {project.name} to {ctx.args.output}", file=ctx.stderr)
    else:
        ctx.stdout.write(text)
    if not ctx.args.api_key_helper:
        print(
            f"set {claude_code.KEY_ENV} to the project's API key (claude-finops keys create) before "
            "starting Claude Code",
            file=ctx.stderr,
        )
    return EXIT_OK


# --- cur-query ----------------------------------------------------------------------------------


def cmd_cur_query(ctx: Context) -> int:
    """Run a saved query over the CUR 2.0 export."""
    platform = ctx.platform
    prefix = platform.config.name_prefix
    database = glue_database_name(prefix)
    queries = {
        q.name: q for q in saved_queries(database=database, table=GLUE_TABLE_NAME, tag_key=platform.tag_key)
    }
    query = queries[ctx.args.query]
    progress = ctx.progress()
    rows = run_athena(
        ctx.clients.client("athena", ctx.args.region or platform.config.region),
        sql=query.sql,
        database=database,
        workgroup=ctx.args.workgroup or athena_workgroup_name(prefix),
        on_wait=lambda state: progress.update(f"Athena: {state}"),
    )
    progress.done()
    columns = [Column(k, k) for k in (rows[0] if rows else {})]
    ctx.emit(rows, columns, title=query.description)
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------------


COMMANDS: dict[str, Callable[[Context], int]] = {
    "report": cmd_report,
    "spend-by-tag": cmd_spend_by_tag,
    "reconcile": cmd_reconcile,
    "activate-tags": cmd_activate_tags,
    "status": cmd_status,
    "check": cmd_check,
    "estimate": cmd_estimate,
    "litellm-config": cmd_litellm_config,
    "cur-query": cmd_cur_query,
    "claude-code-settings": cmd_claude_code_settings,
}


def parser() -> argparse.ArgumentParser:
    """The command line's parser, every command bound to its function."""
    return build_parser(COMMANDS, description=__doc__.split("\n\n")[0])


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: AwsClients | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Run one command; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = parser().parse_args(argv)
    try:
        if clients is None:
            import boto3

            clients = AwsClients(session=boto3.session.Session(profile_name=args.aws_profile))
        ctx = Context(args=args, stdout=out, stderr=err, now=now or datetime.now(UTC), clients=clients)
        return int(args.func(ctx))
    except BrokenPipeError:  # `claude-finops report | head`: the reader left; not an error
        sys.stdout = None  # type: ignore[assignment]  # no flush of the closed pipe at exit
        return EXIT_OK
    except CliError as exc:
        print(f"{PROG} {args.command}: {exc}", file=err)
    except (ClientError, BotoCoreError) as exc:
        print(f"{PROG} {describe_aws_error(exc, args.command)}", file=err)
    return EXIT_ERROR
