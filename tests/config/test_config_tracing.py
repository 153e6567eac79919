"""`tracing` config: off by default, one backend, URLs and secret ARNs checked, field named on errors,
defaults merged, only what is set reaches the function, and the 4 KB environment guarded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claude_platform import config as config_module
from claude_platform.config import ConfigError, load_config, runtime_settings, settings_size_bytes
from claude_platform.config_sections import PROJECT_SETTINGS_MAX_BYTES

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/langfuse-AbC123"
LANGFUSE = {"host": "https://cloud.langfuse.com", "public_key": "pk-lf-0123", "secret_key_secret_arn": ARN}
OTLP = {"endpoint": "https://otlp.example.com/v1/traces", "headers_secret_arn": ARN}


def config(**project: Any) -> dict[str, Any]:
    base = {"name": "alpha", "models": ["claude-haiku-4-5"], "monthly_budget_usd": 100}
    return {"region": "us-east-1", "projects": [{**base, **project}]}


def only_problem(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def settings_of(raw: dict[str, Any]) -> dict[str, Any]:
    (project,) = load_config(raw).projects
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdefabcdef"
    doc = runtime_settings(
        project, {m.alias: arn for m in project.models}, ledger_table="claude-spend-ledger"
    )
    return json.loads(json.dumps(doc))


def test_off_by_default_and_absent_from_the_function_settings():
    (project,) = load_config(config()).projects
    assert project.config.tracing.backend is None and project.config.tracing.xray is False
    assert project.config.tracing.secret_arns == ()
    assert "tracing" not in settings_of(config())


def test_langfuse_reaches_the_function_with_defaults_filled_in():
    tracing = settings_of(config(tracing={"langfuse": LANGFUSE}))["tracing"]
    assert tracing == {"langfuse": LANGFUSE, "xray": False, "flush_timeout_ms": 1000}


def test_otlp_and_xray():
    (project,) = load_config(config(tracing={"otlp": OTLP, "xray": True})).projects
    assert project.config.tracing.backend == "otlp"
    assert project.config.tracing.secret_arns == (ARN,)
    assert settings_of(config(tracing={"xray": True}))["tracing"] == {"xray": True, "flush_timeout_ms": 1000}


def test_otlp_without_headers_secret_needs_no_secret():
    (project,) = load_config(config(tracing={"otlp": {"endpoint": "https://collector.example.com"}})).projects
    assert project.config.tracing.secret_arns == ()


def test_one_backend_only():
    message = only_problem(config(tracing={"langfuse": LANGFUSE, "otlp": OTLP}))
    assert message.startswith("projects[0] (alpha).tracing: set either langfuse or otlp, not both")


@pytest.mark.parametrize(
    "host",
    [
        "http://cloud.langfuse.com",  # plain http leaves the machine
        "https://user:pw@cloud.langfuse.com",
        "https://cloud.langfuse.com/?x=1",
        "cloud.langfuse.com",
        "https://" + "h" * 130 + ".com",
    ],
)
def test_bad_langfuse_host_names_the_field(host):
    message = only_problem(config(tracing={"langfuse": LANGFUSE | {"host": host}}))
    assert message.startswith("projects[0] (alpha).tracing.langfuse.host: ")


def test_localhost_http_is_allowed_for_local_collectors():
    (project,) = load_config(
        config(tracing={"otlp": {"endpoint": "http://127.0.0.1:4318/v1/traces"}})
    ).projects
    assert project.config.tracing.otlp.endpoint == "http://127.0.0.1:4318/v1/traces"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/langfuse",  # no 6-char suffix
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
        "arn:aws:ssm:us-east-1:123456789012:parameter/x-AbC123",
        "team/langfuse-AbC123",
    ],
)
def test_secret_must_be_a_full_secret_arn(arn):
    message = only_problem(config(tracing={"langfuse": LANGFUSE | {"secret_key_secret_arn": arn}}))
    assert message.startswith("projects[0] (alpha).tracing.langfuse.secret_key_secret_arn: ")
    assert "full Secrets Manager secret ARN" in message
    message = only_problem(config(tracing={"otlp": OTLP | {"headers_secret_arn": arn}}))
    assert message.startswith("projects[0] (alpha).tracing.otlp.headers_secret_arn: ")


def test_bad_public_key_and_unknown_keys_and_timeout():
    assert only_problem(config(tracing={"langfuse": LANGFUSE | {"public_key": "sk-lf-1"}})).startswith(
        "projects[0] (alpha).tracing.langfuse.public_key: 'sk-lf-1' is not a Langfuse public key"
    )
    assert only_problem(config(tracing={"langfuse": LANGFUSE | {"secret_key": "sk-lf-1"}})).startswith(
        "projects[0] (alpha).tracing.langfuse.secret_key: unknown key"
    )
    assert only_problem(config(tracing={"flush_timeout_ms": 60_000})).startswith(
        "projects[0] (alpha).tracing.flush_timeout_ms: "
    )


def test_defaults_merge_and_a_project_can_add_xray():
    raw = config(tracing={"xray": True}) | {"defaults": {"tracing": {"langfuse": LANGFUSE}}}
    (project,) = load_config(raw).projects
    assert project.config.tracing.backend == "langfuse" and project.config.tracing.xray is True


def test_a_project_switches_backend_by_clearing_the_default():
    raw = config(tracing={"langfuse": None, "otlp": OTLP}) | {"defaults": {"tracing": {"langfuse": LANGFUSE}}}
    (project,) = load_config(raw).projects
    assert project.config.tracing.backend == "otlp"


WORST_MODELS = [
    "claude-sonnet-4-5",
    "claude-sonnet-4",
    "claude-3-5-sonnet-v2",
    "claude-haiku-4-5",
    "claude-3-7-sonnet",
    "claude-opus-4-1",
    "claude-opus-4-5",
    "claude-3-5-haiku",
]
LONGEST_TRACING = {
    "langfuse": {
        "host": "https://" + "h" * 100 + ".example.com/" + "p" * 7,
        "public_key": "pk-" + "k" * 61,
        "secret_key_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        + "s" * 128
        + "-AbC123",
    },
    "xray": True,
    "flush_timeout_ms": 5000,
}


def test_longest_tracing_settings_fit_with_eight_models_and_the_longest_names():
    raw = config(name="a" * 32, models=WORST_MODELS, tracing=LONGEST_TRACING) | {"name_prefix": "p" * 16}
    assert len(LONGEST_TRACING["langfuse"]["host"]) == 128
    (project,) = load_config(raw).projects
    assert settings_size_bytes(project, "us-east-1", "p" * 16) <= PROJECT_SETTINGS_MAX_BYTES


def test_settings_over_the_environment_limit_name_the_field(monkeypatch):
    """Today every valid project fits; the guard names the field once settings grow past the limit."""
    monkeypatch.setattr(config_module, "PROJECT_SETTINGS_MAX_BYTES", 2000)
    message = only_problem(config(models=WORST_MODELS, tracing=LONGEST_TRACING))
    assert message.startswith("projects[0] (alpha).tracing: the function's settings would take ")
    assert "over the 2000 that fit Lambda's 4 KB environment" in message
    assert only_problem(config(models=WORST_MODELS)).startswith("projects[0] (alpha).models: the function's")


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_customer_managed_secrets_key_is_accepted_with_its_secrets():
    (project,) = load_config(config(tracing={"langfuse": LANGFUSE, "secrets_kms_key_arn": KEY})).projects
    assert project.config.tracing.secrets_kms_key_arn == KEY
    # Not part of the function's settings: only its role uses it.
    assert "secrets_kms_key_arn" not in json.dumps(
        settings_of(config(tracing={"langfuse": LANGFUSE, "secrets_kms_key_arn": KEY}))
    )


@pytest.mark.parametrize(
    ("tracing", "message"),
    [
        (
            {"langfuse": LANGFUSE, "secrets_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:alias/team"},
            "projects[0] (alpha).tracing.secrets_kms_key_arn: 'arn:aws:kms:us-east-1:123456789012:alias/team' "
            "is not a KMS key ARN",
        ),
        (
            {"otlp": {"endpoint": "https://otlp.example.com/v1/traces"}, "secrets_kms_key_arn": KEY},
            "projects[0] (alpha).tracing: secrets_kms_key_arn is set but no trace secret is",
        ),
        (
            {"langfuse": LANGFUSE, "secrets_kms_key_arn": KEY.replace("us-east-1", "eu-west-1")},
            "projects[0] (alpha).tracing: secrets_kms_key_arn is in eu-west-1 but the secret",
        ),
    ],
)
def test_bad_secrets_key_names_the_field(tracing, message):
    assert only_problem(config(tracing=tracing)).startswith(message)
