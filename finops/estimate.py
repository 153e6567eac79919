"""`estimate`: what given tokens cost for a model and geography, from the shared catalog."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from claude_platform.catalog import (
    Geography,
    MissingPriceError,
    PriceOverride,
    UnknownModelError,
    model_prices,
    resolve_model,
)
from claude_platform.guardrail_prices import DEFAULT_RATES as GUARDRAIL_RATES
from claude_platform.guardrail_prices import POLICIES as GUARDRAIL_POLICIES
from claude_platform.guardrail_prices import PRICE_DATE as GUARDRAIL_PRICE_DATE
from claude_platform.guardrail_prices import PRICE_SOURCE as GUARDRAIL_PRICE_SOURCE
from claude_platform.guardrail_prices import text_units
from claude_platform.prices import TokenUsage, cost_micro_usd, rate_card_for
from finops.errors import CliError
from finops.output import Column

MICRO_PER_USD = 1_000_000

COLUMNS = (
    Column("component", "component"),
    Column("tokens", "tokens"),
    Column("usd_per_million", "USD per 1M", places=4),
    Column("cost_usd", "cost USD", places=6),
)


def estimate_rows(
    *,
    model: str,
    geography: str,
    usage: TokenUsage,
    requests: int = 1,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> tuple[list[dict[str, object]], str]:
    """Rows per token kind plus the total (for `requests` identical calls), and the price source."""
    try:
        resolved = resolve_model(model)
        geo = Geography(geography)
    except UnknownModelError as exc:
        raise CliError(f"--model: {exc}") from None
    except ValueError:
        raise CliError(f"--geography {geography!r}: one of {', '.join(g.value for g in Geography)}") from None
    if geo not in resolved.geographies:
        offered = ", ".join(sorted(g.value for g in resolved.geographies))
        raise CliError(f"--geography: {resolved.alias} is not offered in {geo.value!r} (offered: {offered})")
    try:
        prices = model_prices(resolved, geo, overrides)
    except MissingPriceError as exc:
        raise CliError(f"--model {resolved.alias}: {exc}") from None
    try:
        usage.validate()
    except ValueError as exc:
        raise CliError(
            str(exc).replace("usage.", "--").replace("_input_tokens", "").replace("_", "-")
        ) from None
    card = rate_card_for(prices, usage)
    parts = (
        ("input", usage.input_tokens, card.input),
        ("output", usage.output_tokens, card.output),
        (
            "cache write (5 min)",
            usage.cache_write_input_tokens - usage.cache_write_1h_input_tokens,
            card.cache_write,
        ),
        ("cache write (1 h)", usage.cache_write_1h_input_tokens, card.cache_write_1h),
        ("cache read", usage.cache_read_input_tokens, card.cache_read),
    )
    rows: list[dict[str, object]] = [
        {
            "component": name,
            "tokens": tokens * requests,
            "usd_per_million": Decimal(repr(rate)),
            "cost_usd": Decimal(tokens * requests) * Decimal(repr(rate)) / MICRO_PER_USD,
        }
        for name, tokens, rate in parts
    ]
    total = cost_micro_usd(prices, usage) * requests / MICRO_PER_USD
    rows.append({"component": "TOTAL", "tokens": sum(int(r["tokens"]) for r in rows), "cost_usd": total})
    tier = "standard"
    for price_tier in prices.tiers:
        if card is price_tier.rates:
            tier = f"long-context (prompt over {price_tier.above_tokens:,} tokens)"
    source = f"{resolved.inference_id(geo)}: {prices.source}, {tier} tier" + (
        f", x{requests} requests" if requests != 1 else ""
    )
    return rows, source


def guardrail_rows(
    *,
    policies: list[str],
    rates: Mapping[str, float],
    input_chars: int,
    output_chars: int,
    requests: int = 1,
) -> list[dict[str, object]]:
    """One row per guardrail policy: its text units (prompt and answer evaluated apart) at its rate.

    `tokens` holds text units and `usd_per_million` the rate per million units (1,000 x the per-1,000 rate).
    """
    units = (text_units(input_chars) + text_units(output_chars)) * requests
    rows: list[dict[str, object]] = []
    for policy in policies:
        rate = Decimal(repr(rates[policy]))
        rows.append(
            {
                "component": f"guardrail {policy} (text units)",
                "tokens": units,
                "usd_per_million": rate * 1000,
                "cost_usd": Decimal(units) * rate / 1000,
            }
        )
    return rows


def with_guardrail(
    rows: list[dict[str, object]], source: str, guard: list[dict[str, object]]
) -> tuple[list[dict[str, object]], str]:
    """The token rows, the guardrail rows, and a TOTAL of both (units are not added to tokens)."""
    *parts, total = rows
    cost = Decimal(str(total["cost_usd"])) + sum((Decimal(str(r["cost_usd"])) for r in guard), Decimal(0))
    return [
        *parts,
        *guard,
        {**total, "cost_usd": cost},
    ], f"{source}; guardrail: {GUARDRAIL_PRICE_SOURCE}, read {GUARDRAIL_PRICE_DATE}"


def guardrail_rows_for(
    platform: Callable[[], Any],
    *,
    project: str | None,
    policies: str | None,
    with_config_prices: bool,
    input_chars: int,
    output_chars: int,
    requests: int,
) -> list[dict[str, object]]:
    """`estimate`'s guardrail rows: the policies of `project`'s guardrail (config prices), or `policies` (a comma list)."""
    if input_chars < 0 or output_chars < 0:
        raise CliError("--guardrail-input-chars and --guardrail-output-chars must not be negative")
    if project:
        config = platform()
        match = [p for p in config.projects if p.name == project]
        if not match:
            raise CliError(f"--guardrail-project {project!r} is not in the config")
        guardrail = match[0].config.guardrail
        if guardrail is None:
            raise CliError(f"--guardrail-project: project {project!r} has no guardrail")
        names = list(guardrail.paid_policies)
        rates = config.config.guardrail_pricing.rates()
    else:
        names = [p.strip() for p in (policies or "").split(",") if p.strip()]
        unknown = sorted(set(names) - set(GUARDRAIL_POLICIES))
        if unknown:
            raise CliError(
                f"--guardrail-policies: {', '.join(unknown)}; one of {', '.join(GUARDRAIL_POLICIES)}"
            )
        rates = platform().config.guardrail_pricing.rates() if with_config_prices else dict(GUARDRAIL_RATES)
    return guardrail_rows(
        policies=names, rates=rates, input_chars=input_chars, output_chars=output_chars, requests=requests
    )
