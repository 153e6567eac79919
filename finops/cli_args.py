"""The `claude-finops` command line's arguments: the options every command shares and each command's."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from finops import claude_code, keys
from finops.output import Format

DEFAULT_CONFIG = "projects.yaml"
PROG = "claude-finops"
GATEWAY_URL_OUTPUT = "GatewayUrl"  # the project stack's output holding the endpoint's URL
Handler = Callable[[Any], int]  # a command's function: takes the CLI context, returns the exit code


def _add_period(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("period (default: the current UTC month to date)")
    group.add_argument("--month", help="a calendar month, YYYY-MM")
    group.add_argument("--start", help="first day, YYYY-MM-DD (with --end)")
    group.add_argument("--end", help="last day, inclusive, YYYY-MM-DD (with --start)")


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the command; a subcommand's copy must not reset the top's value."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config", default=default(DEFAULT_CONFIG), help=f"projects file (default: {DEFAULT_CONFIG})"
    )
    options.add_argument(
        "--format",
        choices=[f.value for f in Format],
        default=default(Format.TABLE.value),
        help="output format (default: table)",
    )
    options.add_argument("--quiet", action="store_true", default=default(False), help="no progress on stderr")
    options.add_argument(
        "--aws-profile",
        default=default(None),
        help="AWS named profile (default: the usual credential chain)",
    )
    return options


def _claude_code_settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", required=True)
    p.add_argument(
        "--base-url", help=f"the endpoint's URL (default: the stack's {GATEWAY_URL_OUTPUT} output)"
    )
    p.add_argument("--api-key-helper", help=f"command that prints the key (default: {claude_code.KEY_ENV})")
    p.add_argument("--output", "-o", help="file to write, e.g. .claude/settings.json (default: stdout)")


def _estimate_guardrail_args(p: argparse.ArgumentParser) -> None:
    """`estimate`'s guardrail options (the guardrail's cost is added only when one is given)."""
    p.add_argument(
        "--guardrail-project",
        help="add the guardrail cost of this project's guardrail (its policies, the config's guardrail prices)",
    )
    p.add_argument(
        "--guardrail-policies",
        help="add the guardrail cost of these priced policies (comma list: content, topics, pii, ...)",
    )
    p.add_argument(
        "--guardrail-input-chars", type=int, default=0, help="prompt characters the guardrail evaluates"
    )
    p.add_argument(
        "--guardrail-output-chars", type=int, default=0, help="answer characters the guardrail evaluates"
    )


def build_parser(handlers: Mapping[str, Handler], *, description: str) -> argparse.ArgumentParser:
    """The CLI's arguments (every command has --help); `handlers`: each command's function."""
    parser = argparse.ArgumentParser(prog=PROG, description=description, parents=[_common_options(top=True)])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Handler | None, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, parents=[_common_options(top=False)]
        )
        sub.set_defaults(func=func)
        return sub

    p = add(
        "report",
        handlers["report"],
        "Cost Explorer spend per project (by the cost-allocation tag), with budget, percent used and month-end forecast",
    )
    _add_period(p)
    p.add_argument("--granularity", choices=["MONTHLY", "DAILY"], default="MONTHLY", type=str.upper)
    p.add_argument("--no-forecast", action="store_true", help="skip the month-end forecast calls")
    keys.add_report_options(p)

    p = add(
        "spend-by-tag",
        handlers["spend-by-tag"],
        "spend and tokens inside one project grouped by a tag the callers sent (feature, user, ...) or by API key",
    )
    p.add_argument("--project", required=True)
    by = p.add_mutually_exclusive_group(required=True)
    by.add_argument("--tag", help="request tag name, e.g. feature")
    by.add_argument(
        "--by-key",
        action="store_true",
        help="group by the caller's API key name (the HTTPS endpoint's callers)",
    )
    _add_period(p)

    p = add(
        "reconcile",
        handlers["reconcile"],
        "the ledger's spend per project and month against the bill; --apply settles estimated charges",
    )
    _add_period(p)
    p.add_argument("--project", action="append", help="only this project (repeatable)")
    p.add_argument("--tolerance-usd", default="0.01", help="absolute tolerance in USD (default: %(default)s)")
    p.add_argument(
        "--tolerance-pct", default="1", help="tolerance in percent of the bill (default: %(default)s)"
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="write: charge stale reservations, settle estimates from a final bill",
    )
    p.add_argument(
        "--claude-service",
        action="append",
        metavar="PATTERN",
        help="also count bill lines whose SERVICE matches this (fnmatch) pattern as Claude (repeatable)",
    )
    p.add_argument(
        "--stale-minutes",
        type=int,
        default=60,
        help="a reservation older than this is charged with --apply (default: %(default)s)",
    )

    _operations_commands(add, handlers)
    keys.register(common=lambda: _common_options(top=False), add=add)
    return parser


def _operations_commands(
    add: Callable[..., argparse.ArgumentParser], handlers: Mapping[str, Handler]
) -> None:
    """activate-tags, status, check, estimate, litellm-config, claude-code-settings, cur-query."""
    p = add(
        "activate-tags",
        handlers["activate-tags"],
        "activate the cost-allocation tag key and the projects' tag keys (management account)",
    )
    p.add_argument("--keys", nargs="+", help="these keys instead of the config's")

    p = add(
        "status",
        handlers["status"],
        "per project: profiles, models, this month's spend against its cap, alarms, pending subscriptions",
    )
    p.add_argument("--project", action="append", help="only this project (repeatable)")

    p = add(
        "check",
        handlers["check"],
        "after a deploy: invoke each function with a tiny prompt and confirm profile, tags, budget and topic",
    )
    p.add_argument("--project", action="append", help="only this project (repeatable)")
    p.add_argument("--skip-invoke", action="store_true", help="do not invoke the functions (no Claude spend)")

    p = add(
        "estimate",
        handlers["estimate"],
        "cost of given tokens for a model and geography, from the platform's catalog",
    )
    p.add_argument("--model", required=True, help="catalog alias or base model id")
    p.add_argument(
        "--geography", default="us", help="us, eu, apac, jp, au, global or none (default: %(default)s)"
    )
    p.add_argument("--input", type=int, default=0, help="input tokens (excluding cache reads and writes)")
    p.add_argument("--output", type=int, default=0, help="output tokens")
    p.add_argument("--cache-read", type=int, default=0, help="cache read tokens")
    p.add_argument("--cache-write", type=int, default=0, help="cache write tokens (every TTL)")
    p.add_argument(
        "--cache-write-1h", type=int, default=0, help="of the cache writes, those with the 1-hour TTL"
    )
    p.add_argument("--requests", type=int, default=1, help="that many identical requests (default: 1)")
    p.add_argument(
        "--with-config-prices",
        action="store_true",
        help="apply the config's `pricing` (and `guardrail_pricing`) overrides",
    )
    _estimate_guardrail_args(p)

    p = add(
        "litellm-config",
        handlers["litellm-config"],
        "write a LiteLLM Proxy model_list (YAML) for the deployed profiles",
    )
    p.add_argument("--project", action="append", help="only this project (repeatable)")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")

    _claude_code_settings_args(
        add(
            "claude-code-settings",
            handlers["claude-code-settings"],
            "write Claude Code settings for a project's endpoint, every model family pinned to a project model",
        )
    )

    p = add(
        "cur-query",
        handlers["cur-query"],
        "run a saved Athena query over the CUR 2.0 export (cur_export in the config)",
    )
    p.add_argument(
        "--query",
        required=True,
        choices=["daily-spend-by-project", "daily-spend-by-model", "daily-spend-by-profile"],
    )
    p.add_argument("--workgroup", help="Athena workgroup (default: <prefix>-billing)")
    p.add_argument("--region", help="region of the export's Glue table (default: the config's region)")
