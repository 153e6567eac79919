"""`estimate` from the shared catalog, and the three output formats."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from finops_testkit import run_cli

from claude_platform.catalog import Geography, model_prices, resolve_model
from claude_platform.prices import TokenUsage, cost_usd
from finops.output import Column, Format, render


def _rows(out: str) -> dict[str, dict]:
    return {r["component"]: r for r in json.loads(out)["rows"]}


def test_estimate_is_the_catalog_price_the_function_charges():
    result = run_cli(
        [
            "--format",
            "json",
            "estimate",
            "--model",
            "claude-sonnet-4-5",
            "--geography",
            "eu",
            "--input",
            "1200",
            "--output",
            "300",
            "--cache-read",
            "5000",
            "--cache-write",
            "100",
        ]
    )
    assert result.code == 0, result.err
    rows = _rows(result.out)
    prices = model_prices(resolve_model("claude-sonnet-4-5"), Geography.EU)
    usage = TokenUsage(
        input_tokens=1200, output_tokens=300, cache_read_input_tokens=5000, cache_write_input_tokens=100
    )
    assert rows["TOTAL"]["cost_usd"] == pytest.approx(cost_usd(prices, usage), rel=1e-12)
    assert rows["input"]["usd_per_million"] == prices.standard.input
    parts = sum(
        Decimal(str(rows[k]["cost_usd"]))
        for k in ("input", "output", "cache read", "cache write (5 min)", "cache write (1 h)")
    )
    assert float(parts) == pytest.approx(rows["TOTAL"]["cost_usd"], rel=1e-12)
    assert "eu.anthropic.claude-sonnet-4-5" in json.loads(result.out)["title"]


def test_long_prompts_use_the_long_context_tier_and_requests_multiply():
    one = _rows(
        run_cli(["--format", "json", "estimate", "--model", "claude-sonnet-4-5", "--input", "250000"]).out
    )
    ten = _rows(
        run_cli(
            [
                "--format",
                "json",
                "estimate",
                "--model",
                "claude-sonnet-4-5",
                "--input",
                "250000",
                "--requests",
                "10",
            ]
        ).out
    )
    prices = model_prices(resolve_model("claude-sonnet-4-5"), Geography.US)
    assert prices.tiers, "Sonnet 4.5 has a long-context tier in LiteLLM's map"
    assert one["input"]["usd_per_million"] == prices.tiers[-1].rates.input
    assert one["input"]["usd_per_million"] > prices.standard.input
    assert ten["TOTAL"]["cost_usd"] == pytest.approx(10 * one["TOTAL"]["cost_usd"], rel=1e-12)


def test_config_price_overrides_apply_on_request():
    plain = run_cli(["estimate", "--model", "claude-3-haiku", "--input", "1000"])
    assert plain.code == 1 and "pricing" in plain.err  # not in LiteLLM's map
    priced = run_cli(
        [
            "--format",
            "json",
            "estimate",
            "--model",
            "claude-3-haiku",
            "--input",
            "1000000",
            "--with-config-prices",
        ]
    )
    assert _rows(priced.out)["TOTAL"]["cost_usd"] == 0.25  # projects.yaml's override


def test_one_hour_cache_writes_are_priced_at_their_own_rate():
    args = ["--format", "json", "estimate", "--model", "claude-haiku-4-5", "--cache-write", "1000"]
    five = _rows(run_cli(args).out)
    mixed = _rows(run_cli([*args, "--cache-write-1h", "400"]).out)
    prices = model_prices(resolve_model("claude-haiku-4-5"), Geography.US)
    assert (mixed["cache write (5 min)"]["tokens"], mixed["cache write (1 h)"]["tokens"]) == (600, 400)
    assert mixed["cache write (1 h)"]["usd_per_million"] == prices.standard.cache_write_1h
    usage = TokenUsage(cache_write_input_tokens=1000, cache_write_1h_input_tokens=400)
    assert mixed["TOTAL"]["cost_usd"] == pytest.approx(cost_usd(prices, usage), rel=1e-12)
    assert mixed["TOTAL"]["cost_usd"] > five["TOTAL"]["cost_usd"]
    too_many = run_cli(
        ["estimate", "--model", "claude-haiku-4-5", "--cache-write", "1", "--cache-write-1h", "2"]
    )
    assert too_many.code == 1 and "--cache-write-1h" in too_many.err


def test_estimate_input_errors():
    assert (
        "not offered in 'jp'" in run_cli(["estimate", "--model", "claude-opus-4-1", "--geography", "jp"]).err
    )
    assert (
        "--geography 'mars'" in run_cli(["estimate", "--model", "claude-opus-4-1", "--geography", "mars"]).err
    )
    negative = run_cli(["estimate", "--model", "claude-opus-4-1", "--input", "-1"])
    assert negative.code == 1 and "--input must not be negative" in negative.err


ROWS = [
    {"name": "a,b", "usd": Decimal("1234.5678901"), "n": 1200, "ok": True, "none": None},
    {"name": "c", "usd": Decimal("0.000001"), "n": 0, "ok": False, "none": None},
]
COLUMNS = [
    Column("name", "name"),
    Column("usd", "USD", places=2),
    Column("n", "count"),
    Column("ok", "ok"),
    Column("none", "empty"),
]


def test_table_aligns_numbers_right_and_rounds_money_for_reading():
    text = render(ROWS, COLUMNS, Format.TABLE, title="T", notes=["a note"])
    lines = text.splitlines()
    assert lines[0] == "T" and lines[-1] == "a note"
    assert lines[1].split() == ["name", "USD", "count", "ok", "empty"]
    assert "1,234.57" in lines[3] and "1,200" in lines[3] and "yes" in lines[3]
    assert lines[3].index("1,234.57") + len("1,234.57") == lines[4].index("0.00") + len(
        "0.00"
    )  # right-aligned


def test_csv_is_exact_and_quoted_json_is_exact_and_typed():
    rows = list(csv.DictReader(io.StringIO(render(ROWS, COLUMNS, Format.CSV))))
    assert rows[0] == {"name": "a,b", "usd": "1234.5678901", "n": "1200", "ok": "true", "none": ""}
    document = json.loads(render(ROWS, COLUMNS, Format.JSON, notes=["n"]))
    assert document["rows"][0] == {"name": "a,b", "usd": 1234.5678901, "n": 1200, "ok": True, "none": None}
    assert document["rows"][1]["usd"] == 0.000001 and document["notes"] == ["n"]
    # A Decimal a float cannot hold exactly is kept as a string, never rounded silently.
    long = json.loads(render([{"usd": Decimal("0.12345678901234567890")}], [Column("usd", "u")], Format.JSON))
    assert long["rows"][0]["usd"] == "0.12345678901234567890"


def test_every_command_has_help(capsys):
    from finops.cli import parser as cli_parser

    parser = cli_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {
        "report",
        "spend-by-tag",
        "reconcile",
        "activate-tags",
        "status",
        "check",
        "estimate",
        "litellm-config",
        "cur-query",
        "keys",
        "claude-code-settings",
    }
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert f"claude-finops {name}" in capsys.readouterr().out


def test_guardrail_cost_is_added_only_when_asked():
    base = [
        "--format",
        "json",
        "estimate",
        "--model",
        "claude-haiku-4-5",
        "--input",
        "1000",
        "--output",
        "500",
    ]
    plain = _rows(run_cli(base).out)
    assert not any(k.startswith("guardrail") for k in plain)
    asked = run_cli(
        [
            *base,
            "--guardrail-policies",
            "content,pii",
            "--guardrail-input-chars",
            "4000",
            "--guardrail-output-chars",
            "2001",
        ]
    )
    rows = _rows(asked.out)
    units = 4 + 3  # prompt and answer in text units of up to 1,000 characters each
    assert rows["guardrail content (text units)"]["tokens"] == units
    assert rows["guardrail content (text units)"]["cost_usd"] == pytest.approx(units * 0.15 / 1000)
    assert rows["guardrail pii (text units)"]["cost_usd"] == pytest.approx(units * 0.10 / 1000)
    assert rows["TOTAL"]["cost_usd"] == pytest.approx(plain["TOTAL"]["cost_usd"] + units * 0.25 / 1000)
    assert rows["TOTAL"]["tokens"] == plain["TOTAL"]["tokens"]  # text units are not tokens
    assert "guardrail: https://aws.amazon.com/bedrock/pricing/" in json.loads(asked.out)["title"]


def test_guardrail_cost_from_a_project_and_bad_guardrail_options():
    bad = run_cli(["estimate", "--model", "claude-haiku-4-5", "--guardrail-policies", "gore"])
    assert bad.code == 1 and "--guardrail-policies: gore" in bad.err
    none = run_cli(["estimate", "--model", "claude-haiku-4-5", "--guardrail-project", "legacy-summarizer"])
    assert none.code == 1 and "has no guardrail" in none.err
    missing = run_cli(["estimate", "--model", "claude-haiku-4-5", "--guardrail-project", "nope"])
    assert missing.code == 1 and "not in the config" in missing.err


def test_guardrail_cost_of_the_example_project():
    out = run_cli(
        [
            "--format",
            "json",
            "estimate",
            "--model",
            "claude-sonnet-4-5",
            "--input",
            "2000",
            "--output",
            "500",
            "--guardrail-project",
            "support-bot",
            "--guardrail-input-chars",
            "8000",
            "--guardrail-output-chars",
            "2000",
        ]
    )
    rows = _rows(out.out)
    assert set(k for k in rows if k.startswith("guardrail")) == {
        "guardrail content (text units)",
        "guardrail pii (text units)",
    }
