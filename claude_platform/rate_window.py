"""Requests- and tokens-per-minute limits as sliding windows kept in the ledger table (no I/O).

Time is cut into slots of SLOT_S seconds (12 per minute). A *window* is WINDOW_SLOTS (13)
consecutive slots, 65 s: every 60 s interval lies inside one, so a limit that holds for every
window holds for every 60 s interval, wherever it starts. For each window the ledger keeps its
total, precomputed: an admission in slot `s` is added to the windows ending at `s .. s + 12`, and
is admitted only if each of them stays within the limit (DynamoDB conditions compare, they cannot
add, so the sums are kept ready). Those 13 totals live in two items of the project's partition,
one per minute (`rate#<scope>#<minute>`): attributes `rw<i>` / `tw<i>` are the request / token
totals of the window ending at slot `i` of that minute, `rc<i>` / `tc<i>` what was admitted in that
slot (read only to say how long to wait after a refusal). Both items are written in the same
TransactWriteItems as the hold and the month counters, so the write cost per call is constant.

Exactness: the requests (tokens reserved, then settled to the actual count) counted by the
reservations written with time stamps in any 60 s interval never exceed the limit. Time stamps are
the writing container's clock; the bound is exact up to the clock difference between containers.
The price of exactness is throughput: a steady stream is admitted at up to `limit` per 65 s
(92% of the limit per minute); a burst may take the whole limit at once.

Standard library only: the project Lambda ships this module (through claude_platform.ledger).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RATE_PREFIX = "rate#"
SLOT_S = 5
SLOTS_PER_MINUTE = 60 // SLOT_S
WINDOW_SLOTS = SLOTS_PER_MINUTE + 1
MINUTE_DIGITS = 9  # zero-padded epoch minute in a rate item's sort key
ITEM_LIFETIME_S = 3600  # a rate item's TTL (`expires_at`): long after its windows closed
PROJECT_SCOPE = "p"


def key_scope(key_name: str) -> str:
    """The rate scope of a caller key."""
    return f"k#{key_name}"


def slot_of(epoch_s: float) -> int:
    """The absolute slot of a moment."""
    return int(epoch_s // SLOT_S)


def rate_sk(scope: str, minute: int) -> str:
    """The sort key of one scope's rate item for one (epoch) minute."""
    return f"{RATE_PREFIX}{scope}#{minute:0{MINUTE_DIGITS}d}"


@dataclass(frozen=True)
class RateLimit:
    """The limits of one scope (None: not limited)."""

    scope: str
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def limited(self) -> bool:
        """Whether anything is limited."""
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


@dataclass(frozen=True)
class WindowPart:
    """The attributes of one rate item an admission in slot `slot` touches."""

    sk: str
    window_ends: tuple[int, ...]  # slot indexes within the minute whose window totals change
    own_slot: int | None  # the slot index (within the minute) of the admission, in its own minute


def window_parts(scope: str, slot: int) -> tuple[WindowPart, WindowPart]:
    """The two items (this minute, the next) whose windows include an admission in `slot`."""
    minute, index = divmod(slot, SLOTS_PER_MINUTE)
    this = WindowPart(rate_sk(scope, minute), tuple(range(index, SLOTS_PER_MINUTE)), index)
    following = WindowPart(rate_sk(scope, minute + 1), tuple(range(index + 1)), None)
    return this, following


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def admit_update(
    table: str, project: str, part: WindowPart, *, limit: RateLimit, tokens: int, now_epoch: int
) -> dict[str, Any]:
    """The TransactWriteItems Update admitting one request (and `tokens`) into `part`'s windows."""
    adds = [f"rw{i} :one" for i in part.window_ends]
    values: dict[str, Any] = {":one": _n(1), ":exp": _n(now_epoch + ITEM_LIFETIME_S)}
    conditions = []
    if limit.requests_per_minute is not None:
        values[":rroom"] = _n(limit.requests_per_minute - 1)
        conditions += [f"(attribute_not_exists(rw{i}) OR rw{i} <= :rroom)" for i in part.window_ends]
    if limit.tokens_per_minute is not None:
        values[":tok"] = _n(tokens)
        adds += [f"tw{i} :tok" for i in part.window_ends]
        values[":troom"] = _n(limit.tokens_per_minute - tokens)
        conditions += [f"(attribute_not_exists(tw{i}) OR tw{i} <= :troom)" for i in part.window_ends]
    if part.own_slot is not None:
        adds.append(f"rc{part.own_slot} :one")
        if limit.tokens_per_minute is not None:
            adds.append(f"tc{part.own_slot} :tok")
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": project}, "sk": {"S": part.sk}},
        "UpdateExpression": "ADD " + ", ".join(adds) + " SET expires_at = :exp",
        "ExpressionAttributeValues": values,
    }
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": update}


def give_back_update(
    table: str, project: str, part: WindowPart, tokens: int, now_epoch: int
) -> dict[str, Any]:
    """The Update giving `tokens` back to `part`'s windows (reserved at the bound, used fewer)."""
    adds = [f"tw{i} :back" for i in part.window_ends]
    if part.own_slot is not None:
        adds.append(f"tc{part.own_slot} :back")
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": project}, "sk": {"S": part.sk}},
            "UpdateExpression": "ADD " + ", ".join(adds) + " SET expires_at = :exp",
            "ExpressionAttributeValues": {":back": _n(-tokens), ":exp": _n(now_epoch + ITEM_LIFETIME_S)},
        }
    }


def slot_counts(items: list[Mapping[str, Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """Requests and tokens admitted per absolute slot, from a scope's rate items."""
    requests: dict[int, int] = {}
    tokens: dict[int, int] = {}
    for item in items:
        minute = int(item["sk"]["S"].rsplit("#", 1)[1])
        for name, value in item.items():
            if name[:2] in ("rc", "tc") and name[2:].isdigit():
                slot = minute * SLOTS_PER_MINUTE + int(name[2:])
                target = requests if name[0] == "r" else tokens
                target[slot] = target.get(slot, 0) + int(value["N"])
    return requests, tokens


def _fits(counts: Mapping[int, int], start: int, amount: int, limit: int | None) -> bool:
    if limit is None:
        return True
    for end in range(start, start + WINDOW_SLOTS):
        total = sum(counts.get(s, 0) for s in range(end - WINDOW_SLOTS + 1, end + 1))
        if total + amount > limit:
            return False
    return True


@dataclass(frozen=True)
class RateRefusal:
    """Which limit refused, what the window holds, and how long until the request would fit."""

    what: str  # "requests_per_minute" or "tokens_per_minute"
    limit: int
    in_window: int
    retry_after_s: int


def refusal(
    limit: RateLimit, items: list[Mapping[str, Any]], *, slot: int, now_s: float, tokens: int
) -> RateRefusal:
    """Explain a refused admission from the scope's rate items (this minute and the two around it)."""
    requests, token_counts = slot_counts(items)
    what, cap, counts = "requests_per_minute", limit.requests_per_minute, requests
    if _fits(requests, slot, 1, limit.requests_per_minute):
        what, cap, counts = "tokens_per_minute", limit.tokens_per_minute, token_counts
    in_window = sum(counts.get(s, 0) for s in range(slot - WINDOW_SLOTS + 1, slot + 1))
    later = slot + 1
    while later <= slot + WINDOW_SLOTS and not (
        _fits(requests, later, 1, limit.requests_per_minute)
        and _fits(token_counts, later, tokens, limit.tokens_per_minute)
    ):
        later += 1
    wait = max(1, math.ceil(later * SLOT_S - now_s))
    return RateRefusal(what=what, limit=cap or 0, in_window=in_window, retry_after_s=wait)
