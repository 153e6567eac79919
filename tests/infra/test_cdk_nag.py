"""cdk-nag AwsSolutions: zero unacknowledged findings, every acknowledgment justified and scoped."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from infra_support import load_example, synthesize


def _acknowledgments(app: cdk.App) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) for every acknowledgment in the app."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY  # entries: {rule id: reason}
    return [
        (construct.node.path, rule, reason)
        for construct in app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule, reason in entry.data.items()
    ]


def test_nag_leaves_no_finding_and_every_acknowledgment_suppresses_one(example, variant):
    # The fixtures synthesized with AwsSolutionsChecks registered; a finding would have raised.
    for synth in (example, variant):
        report = json.loads((synth.outdir / "validation-report.json").read_text())
        (nag,) = report["pluginReports"]
        assert (nag["pluginName"], nag["conclusion"], nag["violations"]) == ("AwsSolutions", "success", [])
        used = {(v["acknowledgedAt"], v["acknowledgedId"]) for v in nag["suppressedViolations"]}
        declared = {(path, rule) for path, rule, _ in _acknowledgments(synth.app)}
        assert used == declared  # no stale acknowledgment


def test_every_acknowledgment_has_a_specific_reason(example, variant):
    for synth in (example, variant):
        acknowledgments = _acknowledgments(synth.app)
        assert acknowledgments, "expected the documented acknowledgments (L1, IAM5)"
        for path, rule, reason in acknowledgments:
            assert rule.startswith("AwsSolutions::AwsSolutions-"), (path, rule)
            assert len(reason) >= 80, (path, rule, reason)
            # Scoped to the resource they are about, never a whole stack or the app.
            assert path.count("/") >= 3, (path, rule)


def test_acknowledgments_are_only_the_expected_ones(example):
    rules = {(path.split("/", 1)[1], rule) for path, rule, _ in _acknowledgments(example.app)}
    runtime = {p for p, r in rules if r == "AwsSolutions::AwsSolutions-L1"}
    # The gateway (data-science) runs the same runtime and has the same grants as the invoke function.
    # The platform stack's subscription check is one standard-library file on the same runtime.
    assert runtime == {
        "ClaudeAccess/Proxy/Function",
        "ClaudeAccess/Gateway/Function",
        "Operations/SubscriptionCheck/Function",
    }
    wildcards = {r for p, r in rules if "IAM5" in r}
    assert (
        {p for p, r in rules if "IAM5" in r}
        == {
            "ClaudeAccess/Proxy/Role",
            "ClaudeAccess/Gateway/Role",
            "Operations/SubscriptionCheck/Role",  # sns:ListSubscriptions, cloudwatch:PutMetricData (namespace-bound)
        }
    )
    gateway_rules = {r for p, r in rules if p.startswith("ClaudeAccess/Gateway/")}
    assert gateway_rules == {
        "AwsSolutions::AwsSolutions-L1",
        "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-opus-4-5-20251101-v1:0]",
        "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0]",
        "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:us-east-1:<AWS::AccountId>:key/*]",
    }
    # X-Ray's write actions have no resource-level permissions: only support-bot turns X-Ray on.
    xray = "AwsSolutions::AwsSolutions-IAM5[Resource::*]"
    assert wildcards == {
        xray,
        # Each geography's destination regions: `*` only for global (data-science), us-* and eu-*.
        *(
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:{regions}::foundation-model/{base_id}]"
            for regions, base_id in (
                ("*", "anthropic.claude-opus-4-5-20251101-v1:0"),
                ("*", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
                ("us-*", "anthropic.claude-haiku-4-5-20251001-v1:0"),
                ("us-*", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
                ("eu-*", "anthropic.claude-haiku-4-5-20251001-v1:0"),
                ("eu-*", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
            )
        ),
        # The alerts key, named by alias: fenced by kms:ResourceAliases and kms:ViaService.
        *(
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{region}:<AWS::AccountId>:key/*]"
            for region in ("us-east-1", "eu-west-1")  # each project's own region
        ),
    }
    xray_stacks = {
        construct.node.path.split("/", 1)[0]
        for construct in example.app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        and xray in entry.data
        and "/SubscriptionCheck/" not in construct.node.path
    }
    assert xray_stacks == {"claude-project-support-bot"}
    assert {r for _, r in rules} == {"AwsSolutions::AwsSolutions-L1", *wildcards}


def test_nag_really_runs_an_unacknowledged_finding_fails_synthesis(tmp_path, monkeypatch):
    """Without the acknowledgments the same app must fail: proves the plugin is registered."""
    monkeypatch.setattr(cdk.Validations, "acknowledge", lambda self, *rules: None)
    platform = load_example()
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(platform, tmp_path / "out", nag=True)
    report = (tmp_path / "out" / "validation-report.json").read_text()
    assert "AwsSolutions-L1" in report
    assert "AwsSolutions-IAM5" in report
