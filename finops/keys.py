"""`keys create | list | revoke`: the per-caller API keys of a project's HTTPS endpoint.

Keys are stored as hashes in the region's ledger table (`claude_platform.api_keys`). `create`
prints the key once: it cannot be shown again. `list` and `revoke` never show key material, only
the key's id (a prefix of its hash). A revoked key stops working within a minute (the function
caches lookups for `claude_proxy.auth.CACHE_TTL_S`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from claude_platform.api_keys import ApiKeyError, ApiKeyRecord, ApiKeyStore
from claude_platform.config import Project
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
    Column("created_at", "created (UTC)"),
    Column("revoked_at", "revoked (UTC)"),
)


def _row(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "project": record.project,
        "name": record.name,
        "key_id": record.key_id,
        "status": "active" if record.active else "revoked",
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


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


def _gateway_note(project: Project) -> list[str]:
    if project.config.gateway.enabled:
        return []
    return [f"{project.name}: gateway is not enabled in the config, so no endpoint accepts this key yet"]


def cmd_create(ctx: Context) -> int:
    """A new key for a project: printed once."""
    project, store, where = _store(ctx)
    key, record = _run(ctx, where, lambda: store.create(project.name, ctx.args.name, now=ctx.now))
    notes = _gateway_note(project)
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
    ctx.emit(
        [_row(r) for r in records],
        COLUMNS,
        title=f"{project.name}: API keys in {where}",
        notes=_gateway_note(project),
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
    action("list", cmd_list, "list a project's keys (names, ids, times; never the keys)")
    p = action("revoke", cmd_revoke, "revoke a project's active key by name")
    p.add_argument("--name", required=True)
