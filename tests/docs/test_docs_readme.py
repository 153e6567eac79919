"""The README and docs/ match the code: generated sections are current, names come from naming.py,
examples match the function's responses, JSON examples parse, links stay inside the repository."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pytest
import yaml
from claude_proxy.core import InvokeResult
from claude_proxy.spend import UnmeteredLedger
from pydantic import BaseModel, Field

from claude_platform import docs
from claude_platform.catalog import Geography, model_prices, resolve_model
from claude_platform.config_model import PlatformConfig, ProjectConfig
from claude_platform.cur import athena_workgroup_name, export_name
from claude_platform.naming import (
    alarm_name,
    alerts_key_alias,
    budget_stop_policy_name,
    cost_tag_activation_function_name,
    gateway_function_name,
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
from claude_platform.prices import TokenUsage, cost_usd

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOC_FILES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_generated_sections_are_current():
    text = _text(README)
    assert docs.render(text) == text, "README.md is out of date: run `python -m claude_platform.docs`"


def test_check_mode_reports_a_stale_readme_and_the_command_that_fixes_it(tmp_path):
    stale = tmp_path / "README.md"
    stale.write_text(_text(README).replace("| `max_concurrency` |", "| `max_concurency` |"))
    command = [sys.executable, "-m", "claude_platform.docs", "--readme", str(stale)]
    checked = subprocess.run([*command, "--check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert checked.returncode == 1
    assert "out of date: run `python -m claude_platform.docs`" in checked.stderr
    fixed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert fixed.returncode == 0, fixed.stderr
    assert stale.read_text() == _text(README)


def test_every_config_field_is_in_the_reference_with_its_default():
    text = _text(README)
    for model in (PlatformConfig, ProjectConfig):
        for name in model.model_fields:
            assert f"| `{name}` |" in text, name
    assert "| `lambda_memory_mb` | `1769` |" in text  # the default the code uses, not a copy


def test_a_new_field_is_picked_up_and_one_without_description_is_refused():
    class Settings(BaseModel):
        tracing: Annotated[bool, Field(description="X-Ray tracing of the function")] = False
        budget_action: Annotated[
            str | None, Field(description="what happens", json_schema_extra={"doc_default": "nothing"})
        ] = None

    assert docs.field_rows(Settings) == [
        ("`tracing`", "`false`", "X-Ray tracing of the function"),
        ("`budget_action`", "nothing", "what happens"),
    ]

    class Undocumented(BaseModel):
        enforcement: str = "alert"

    with pytest.raises(
        docs.DocsError, match=r"Undocumented.enforcement has no description: add Field\(description"
    ):
        docs.field_rows(Undocumented)


def test_missing_markers_are_reported():
    with pytest.raises(docs.DocsError, match="lacks the markers of section 'config-reference'"):
        docs.render("# no markers\n")


# --- names --------------------------------------------------------------------------------------


def _example_names() -> set[str]:
    """Every name the naming module gives the README's placeholder substitution below."""
    prefix, project, alias, home, other = (
        "claude",
        "support-bot",
        "claude-sonnet-4-5",
        "us-east-1",
        "eu-west-1",
    )
    names = {
        platform_stack_name(prefix, home, home),
        platform_stack_name(prefix, other, home),
        project_stack_name(prefix, project),
        proxy_function_name(prefix, project),
        proxy_log_group_name(prefix, project),
        alerts_key_alias(prefix),
        alarm_name(prefix, project, "proxy", "errors"),
        ledger_table_name(prefix),
        budget_stop_policy_name(prefix, project, region=home, home_region=home),
    }
    names |= {alarm_name(prefix, project, alias, c) for c in ("throttles", "server-errors", "client-errors")}
    # Finance (docs/finance.md): dashboard per region, opt-in tag activation and CUR export.
    names |= {
        spend_dashboard_name(prefix, other),
        cost_tag_activation_function_name(prefix),
        export_name(prefix),
        athena_workgroup_name(prefix),
    }
    # The HTTPS endpoint (docs/deploy.md): its function and the refused-keys alarm.
    names |= {
        gateway_function_name(prefix, project),
        alarm_name(prefix, project, "gateway", "auth-failures"),
        alarm_name(prefix, project, "gateway", "errors"),
    }
    # Operations (README Security): the region's operations topic, its key and alarms.
    names |= {
        operations_topic_name(prefix),
        operations_key_alias(prefix),
        operations_alarm_name(prefix, "pending-subscriptions"),
        operations_alarm_name(prefix, "subscription-check-errors"),
        subscription_check_function_name(prefix),
        alarm_name(prefix, project, "alerts", "delivery-failures"),
    }
    return names


PLACEHOLDERS = {
    "<prefix>": "claude",
    "<project>": "support-bot",
    "<alias>": "claude-sonnet-4-5",
    "<region>": "eu-west-1",
}


def test_name_patterns_in_the_docs_are_what_naming_produces():
    names = _example_names()
    checked = 0
    for path in DOC_FILES:
        for word in re.findall(r"<prefix>[A-Za-z0-9<>\-]*", _text(path)):
            name = word.rstrip("-")
            for placeholder, value in PLACEHOLDERS.items():
                name = name.replace(placeholder, value)
            assert name in names, f"{path.name}: `{word}` is not a name claude_platform/naming.py produces"
            checked += 1
    assert checked >= 5


def test_deploy_examples_match_the_function_names():
    text = _text(ROOT / "docs" / "deploy.md")
    function = proxy_function_name("claude", "support-bot")
    assert f"function:{function}" in text
    for pattern in re.findall(r"function:(claude-\*-proxy\*?)", text):
        assert fnmatch.fnmatch(function, pattern) and fnmatch.fnmatch(function + ":live", pattern + "*")
        assert not fnmatch.fnmatch("claude-support-bot-other", pattern)


def test_function_names_in_examples_are_what_naming_produces():
    """Every function name an example passes (`function_name=`, `--function-name`) exists for the example."""
    functions = {
        proxy_function_name("claude", "support-bot"),
        gateway_function_name("claude", "support-bot"),
    }
    checked = 0
    for path in [*DOC_FILES, ROOT / "client" / "README.md"]:
        for groups in re.findall(r'function_name="([^"]+)"|--function-name ([A-Za-z0-9<>_-]+)', _text(path)):
            name = "".join(groups)
            for placeholder, value in PLACEHOLDERS.items():
                name = name.replace(placeholder, value)
            assert name in functions, (
                f"{path.name}: function `{name}` is not one naming.py gives (one of {functions})"
            )
            checked += 1
    assert checked >= 3


def test_the_alert_conditions_in_the_ledger_doc_are_the_ones_the_code_sends():
    """docs/spend-ledger.md's claim, confirm and unclaim conditions are the ledger's, word for word."""
    from claude_platform.ledger import LedgerTable, crossed_thresholds
    from claude_platform.ledger_model import MonthState

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[dict] = []

        def update_item(self, **kwargs):
            self.calls.append(kwargs)
            return {}

    recorder = Recorder()
    table = LedgerTable(recorder, "t")
    common = {"project": "p", "period": "2026-11", "threshold": 50, "claimant": "h"}
    table.claim_alert(**common, now_epoch=1000, lease_s=180)
    table.confirm_alert(**common)
    table.unclaim_alert(**common)
    doc = " ".join(_text(ROOT / "docs" / "spend-ledger.md").split())
    for call in recorder.calls:
        condition = call["ConditionExpression"].replace("#c", "alert#<t>").replace(":expired", ":now - lease")
        assert f"`{condition}`" in doc, f"docs/spend-ledger.md does not state the condition `{condition}`"
    update = recorder.calls[0]["UpdateExpression"].replace("#c", "alert#<t>").replace(":claim", "")
    assert f"`{update}" in doc
    # The threshold is crossed by spend (not spend + holds) against percent of the cap.
    state = MonthState(project="p", period="2026-11", spent_micro=499_999, reserved_micro=10**6)
    assert crossed_thresholds(state, [50], 1_000_000) == []
    assert "compares the month's spend with each threshold (percent of the cap)" in doc


def test_deploy_doc_names_the_example_configs_placeholders():
    config = yaml.safe_load(_text(ROOT / "projects.yaml"))
    accounts = {arn.split(":")[4] for p in config["projects"] for arn in p.get("invokers", [])}
    domains = {e.split("@")[1] for p in config["projects"] for e in p.get("alert_emails", [])}
    deploy = _text(ROOT / "docs" / "deploy.md")
    assert accounts and all(a in deploy for a in accounts)
    assert domains and all(f"@{d}" in deploy for d in domains)


# --- the function's contract --------------------------------------------------------------------


def _json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", text, flags=re.S)


def test_every_json_example_parses():
    found = 0
    for path in DOC_FILES:
        for block in _json_blocks(_text(path)):
            # A `"key": value` fragment (one field of a response) parses as a one-key object.
            json.loads("{" + block + "}" if block.lstrip().startswith('"') else block)
            found += 1
    assert found >= 5  # request, response, caller policy, boundary, SCP


def test_policy_examples_are_iam_policy_documents():
    for block in _json_blocks(_text(ROOT / "docs" / "deploy.md")):
        policy = json.loads(block)
        assert policy["Version"] == "2012-10-17"
        for statement in policy["Statement"]:
            assert statement["Effect"] in {"Allow", "Deny"}
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}


def _response_example() -> dict:
    (response,) = [json.loads(b) for b in _json_blocks(_text(README)) if '"ok": true' in b]
    return response


def test_response_example_has_exactly_the_fields_the_function_returns():
    result = InvokeResult(project="p", model="m", attempts=1, latency_ms=1.0)
    example = _response_example()
    expected = result.to_response()
    # The spend status is shown in its own snippet after the example ("also carry `"budget": {...}`").
    budget = re.search(r'`"budget": (\{.*?\})`', _text(README), flags=re.S)
    assert budget, "the README shows the budget status of a response"
    example.setdefault("budget", json.loads(budget.group(1)))
    assert set(example) == set(expected)
    assert set(example["usage"]) == set(expected["usage"])
    status = UnmeteredLedger(cap_usd=1.0, now=lambda: datetime(2026, 11, 28, tzinfo=UTC)).status()
    assert set(example["budget"]) == set(status)


def test_response_example_cost_is_what_the_catalog_price_gives():
    example = _response_example()
    prices = model_prices(resolve_model(example["model"]), Geography.US, {})
    usage = TokenUsage(
        input_tokens=example["usage"]["input_tokens"], output_tokens=example["usage"]["output_tokens"]
    )
    assert example["cost_usd"] == pytest.approx(cost_usd(prices, usage), rel=1e-9)


# --- links ---------------------------------------------------------------------------------------


def test_links_stay_inside_the_repository_and_exist():
    for path in DOC_FILES:
        text = _text(path)
        assert "shared/" not in text and "REFERENCE.md" not in text, path.name
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if re.match(r"https?://", target):
                continue
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name}: {target} is outside the repository"
            assert resolved.exists(), f"{path.name}: {target} does not exist"


def test_file_paths_named_in_the_docs_exist():
    """`stacks/bundling.py`-style paths in backticks must exist, so a moved module is caught here."""
    path_re = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|yaml|yml|json|txt|toml|ini))`")
    checked = 0
    for path in DOC_FILES:
        for target in path_re.findall(_text(path)):
            if target.startswith(("/", "~")):
                continue
            assert (ROOT / target).exists() or (path.parent / target).exists(), (
                f"{path.name}: `{target}` does not exist"
            )
            checked += 1
    assert checked >= 10
