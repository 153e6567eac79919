"""Session fixtures: each app is built and synthesized once per test worker."""

from __future__ import annotations

import pytest
from infra_support import Synthesized, load_example, synthesize

from claude_platform.config import Platform, load_config

# The longest-serializing models a `us` project can allow (8 = MAX_MODELS_PER_PROJECT), with the
# longest names and a 12-character region: the worst case for the Lambda's 4 KB environment.
WORST_CASE_US_MODELS = [
    "claude-sonnet-4-5",
    "claude-sonnet-4",
    "claude-haiku-5-5",
    "claude-haiku-4-5",
    "claude-3-5-sonnet-v2",
    "claude-3-7-sonnet",
    "claude-opus-4-5",
    "claude-3-5-haiku",
]
VARIANT_ACCOUNT = "123456789012"
VARIANT_SECRETS_KEY = f"arn:aws:kms:ca-central-1:{VARIANT_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VARIANT_CONFIG = {
    "region": "ca-central-1",
    "account": VARIANT_ACCOUNT,
    "name_prefix": "abcdefghijklmnop",
    "operations_emails": ["oncall@example.com", "platform-team@example.com"],
    "cost_allocation_tag_key": "billing:project",
    "projects": [
        {
            "name": "a" * 32,
            "geography": "us",
            "models": WORST_CASE_US_MODELS,
            "monthly_budget_usd": 1234.5,
            "alert_thresholds": [10, 20, 30, 40, 50, 60, 70, 80, 100],
            "snapstart": True,
            "invokers": [
                "arn:aws:iam::111122223333:role/caller",
                "arn:aws:iam::444455556666:root",
            ],
            "allow_account_invokers": True,
            "alarms": {"throttles": 3, "server_errors": 2, "client_errors": 7},
            # A declared guardrail: its settings (ARN, version, rates) count toward the 4 KB.
            "guardrail": {"pii": {"EMAIL": "anonymize"}, "prompt_attack": "high"},
            "lambda_memory_mb": 1024,
            "lambda_timeout_seconds": 90,
            "log_retention_days": 90,
            "log_prompts": True,  # its log group gets the project's own KMS key
            "max_tokens_limit": 8192,
            # The longest tracing settings the config accepts (URL, public key, secret name).
            "tracing": {
                "langfuse": {
                    "host": "https://" + "h" * 100 + ".example.com/" + "p" * 7,
                    "public_key": "pk-" + "k" * 61,
                    "secret_key_secret_arn": (
                        f"arn:aws:secretsmanager:ca-central-1:{VARIANT_ACCOUNT}:secret:"
                        + "s" * 128
                        + "-AbC123"
                    ),
                },
                "xray": True,
                "flush_timeout_ms": 5000,
                # The secret is encrypted with a customer-managed key (decrypt through Secrets Manager).
                "secrets_kms_key_arn": VARIANT_SECRETS_KEY,
            },
        },
        {
            "name": "quiet",
            "models": ["claude-haiku-4-5"],
            "monthly_budget_usd": 1,
            "guardrail": {"id": "abc123", "version": "2"},
        },
    ],
}


@pytest.fixture(scope="session")
def example_platform() -> Platform:
    """projects.yaml, validated."""
    return load_example()


@pytest.fixture(scope="session")
def example(example_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The example config synthesized with cdk-nag registered: synthesis itself proves zero
    unacknowledged findings (it raises otherwise)."""
    return synthesize(example_platform, tmp_path_factory.mktemp("example"), nag=True)


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Edge cases the example lacks: explicit account, other region and prefix, SnapStart, 8 models,
    2 invokers, 9 thresholds, custom alarms/retention/memory, a ':' in the cost tag key."""
    platform = load_config(VARIANT_CONFIG, source="variant")
    return synthesize(platform, tmp_path_factory.mktemp("variant"), nag=True)
