"""Config validation: one test per rule; each message names the project (by index and name) and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from claude_platform.config import ConfigError, load_config
from claude_platform.config_model import DEFAULT_MAX_CONCURRENCY


def config(**project: Any) -> dict[str, Any]:
    """A valid one-project config; keyword arguments override the project's fields."""
    base = {"name": "alpha", "models": ["claude-haiku-4-5"], "monthly_budget_usd": 100}
    return {"region": "us-east-1", "projects": [{**base, **project}]}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.problems, "ConfigError without problems"
    return info.value.problems


def only_problem(raw: dict[str, Any]) -> str:
    found = problems(raw)
    assert len(found) == 1, found
    return found[0]


def test_valid_minimal_config_loads():
    platform = load_config(config())
    (project,) = platform.projects
    assert project.name == "alpha"
    assert project.models[0].profile_name == "claude-alpha-haiku-4-5-us"
    assert project.region == "us-east-1"


# --- unknown keys ------------------------------------------------------------------------------


def test_unknown_top_level_key():
    raw = config() | {"regoin": "us-east-1"}
    assert only_problem(raw) == "regoin: unknown key (check the spelling; see README 'Config reference')"


def test_unknown_defaults_key():
    raw = config() | {"defaults": {"budget": 5}}
    assert only_problem(raw).startswith("defaults.budget: unknown key")


def test_unknown_project_key():
    assert only_problem(config(montly_budget_usd=5)).startswith(
        "projects[0] (alpha).montly_budget_usd: unknown key"
    )


# --- names -------------------------------------------------------------------------------------


def test_duplicate_project_names():
    raw = config()
    raw["projects"].append(copy.deepcopy(raw["projects"][0]))
    assert only_problem(raw) == "projects[1] (alpha).name: duplicate of projects[0]"


@pytest.mark.parametrize("name", ["Alpha", "1alpha", "al--pha", "alpha-", "a" * 33, "al_pha"])
def test_bad_project_names(name):
    message = only_problem(config(name=name))
    assert message.startswith(f"projects[0] ({name}).name: ")
    assert "lowercase letters, digits and single hyphens" in message


def test_name_prefix_that_makes_an_invalid_profile_name():
    raw = config() | {"name_prefix": "ab-"}
    message = only_problem(raw)
    assert message.startswith(
        "projects[0] (alpha).models[0]: profile name 'ab--alpha-haiku-4-5-us' is not a valid"
    )


def test_bad_name_prefix():
    assert only_problem(config() | {"name_prefix": "Claude"}).startswith(
        "name_prefix: String should match pattern"
    )


# --- models, geographies, regions, prices ------------------------------------------------------


def test_model_that_is_not_claude():
    message = only_problem(config(models=["amazon.nova-pro-v1:0"]))
    assert message.startswith("projects[0] (alpha).models[0]: 'amazon.nova-pro-v1:0' is not a Claude model")


def test_model_with_geography_prefix_gets_a_hint():
    message = only_problem(config(models=["us.anthropic.claude-haiku-4-5-20251001-v1:0"]))
    assert message.startswith("projects[0] (alpha).models[0]:")
    assert "set `geography` instead" in message


def test_repeated_model():
    message = only_problem(config(models=["claude-haiku-4-5", "anthropic.claude-haiku-4-5-20251001-v1:0"]))
    assert message.startswith("projects[0] (alpha).models[1]: ") and "repeats models[0]" in message


def test_too_many_models():
    models = ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5", "claude-sonnet-4", "claude-opus-4-1",
              "claude-sonnet-4-6", "claude-opus-4-6", "claude-opus-4-7", "claude-3-7-sonnet"]  # fmt: skip
    assert only_problem(config(models=models)).startswith(
        "projects[0] (alpha).models: List should have at most 8"
    )


def test_model_not_offered_in_geography():
    message = only_problem(config(models=["claude-opus-4-1"], geography="global"))
    assert message == (
        "projects[0] (alpha).models[0]: claude-opus-4-1 is not offered in geography 'global' (offered: eu, us)"
    )


def test_geography_not_callable_from_region():
    message = only_problem(config(geography="eu"))
    assert message == (
        "projects[0] (alpha).geography: 'eu' profiles cannot be called from region us-east-1 "
        "(the top-level region; set the project's `region`)"
    )


def test_unknown_geography():
    assert only_problem(config(geography="mars")).startswith("projects[0] (alpha).geography: Input should be")


def test_missing_price_for_claude_3_haiku_without_override():
    message = only_problem(config(models=["claude-3-haiku"], geography="none"))
    assert message.startswith(
        "projects[0] (alpha).models[0]: no price for 'anthropic.claude-3-haiku-20240307-v1:0'"
    )
    assert "add it under `pricing`" in message


def test_price_override_fixes_the_missing_price():
    raw = config(models=["claude-3-haiku"], geography="none")
    raw["pricing"] = {
        "claude-3-haiku": {"input": 0.25, "output": 1.25, "cache_write": 0.3, "cache_read": 0.03}
    }
    (project,) = load_config(raw).projects
    assert project.models[0].prices.source == "config:claude-3-haiku"


def test_unknown_pricing_key():
    raw = config() | {"pricing": {"gpt-4o": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1}}}
    assert only_problem(raw).startswith("pricing.gpt-4o: 'gpt-4o' is not a Claude model")


def test_incomplete_pricing_entry():
    raw = config() | {"pricing": {"claude-haiku-4-5": {"input": 1, "output": 1}}}
    found = problems(raw)
    assert "pricing.claude-haiku-4-5.cache_write: required field is missing" in found
    assert "pricing.claude-haiku-4-5.cache_read: required field is missing" in found


def test_bad_region_and_account():
    raw = config() | {"region": "useast1", "account": "12345"}
    assert problems(raw) == [
        "region: 'useast1' is not an AWS region name like us-east-1",
        "account: '12345' is not a 12-digit AWS account id",
    ]


# --- budgets and alerts ------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [0, -5])
def test_budget_must_be_positive(budget):
    assert only_problem(config(monthly_budget_usd=budget)) == (
        "projects[0] (alpha).monthly_budget_usd: Input should be greater than 0"
    )


def test_budget_is_required():
    raw = config()
    del raw["projects"][0]["monthly_budget_usd"]
    assert only_problem(raw) == "projects[0] (alpha).monthly_budget_usd: required field is missing"


@pytest.mark.parametrize("threshold", [0, -1, 1000.5])
def test_thresholds_outside_0_to_1000(threshold):
    message = only_problem(config(alert_thresholds=[50, threshold]))
    assert (
        message == f"projects[0] (alpha).alert_thresholds: [1] = {threshold:g} is outside (0, 1000] percent"
    )


def test_threshold_of_1000_is_allowed_where_it_can_fire():
    raw = config(alert_thresholds=[1000], enforcement="soft")
    assert load_config(raw).projects[0].config.alert_thresholds == [1000]


def test_a_threshold_above_the_cap_under_hard_is_an_error_naming_the_field():
    # Issue 13 item 8: under hard, spend never passes the cap, so a 120% alert could never fire.
    message = only_problem(config(alert_thresholds=[50, 100, 120]))
    assert message.startswith(
        "projects[0] (alpha): alert_thresholds: 120 can never fire under enforcement: hard"
    )
    assert load_config(config(alert_thresholds=[50, 100]))  # up to 100 is fine


def test_what_thresholds_are_percent_of_is_said_once_from_the_model():
    from claude_platform.config_model import ProjectConfig
    from claude_platform.config_sections import ALERT_THRESHOLDS_MEANING

    description = ProjectConfig.model_fields["alert_thresholds"].description or ""
    assert description.startswith(ALERT_THRESHOLDS_MEANING)
    assert (
        "percent of the cap" in ALERT_THRESHOLDS_MEANING and "percent of `monthly_budget_usd`" in description
    )


def test_duplicate_thresholds():
    assert only_problem(config(alert_thresholds=[50, 80, 50])) == (
        "projects[0] (alpha).alert_thresholds: thresholds must be distinct"
    )


def test_empty_thresholds():
    assert only_problem(config(alert_thresholds=[])).startswith(
        "projects[0] (alpha).alert_thresholds: give at least one"
    )


def test_too_many_notifications():
    message = only_problem(config(alert_thresholds=list(range(10, 110, 10))))
    assert message.startswith(
        "projects[0] (alpha).alert_thresholds: 10 thresholds plus the forecast alert exceed"
    )
    assert load_config(config(alert_thresholds=list(range(10, 100, 10))))  # 9 + forecast = 10 is fine


def test_bad_email():
    assert only_problem(config(alert_emails=["ok@example.com", "nope@"])) == (
        "projects[0] (alpha).alert_emails: [1] 'nope@' is not an email address"
    )


def test_duplicate_emails():
    assert only_problem(config(alert_emails=["a@example.com", "a@example.com"])) == (
        "projects[0] (alpha).alert_emails: emails must be distinct"
    )


def test_too_many_emails():
    emails = [f"person{i}@example.com" for i in range(11)]
    assert only_problem(config(alert_emails=emails)).startswith(
        "projects[0] (alpha).alert_emails: List should have at most 10 items"
    )


# --- invokers, tags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345:role/x",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::111122223333:group/devs",
        "111122223333",
        "arn:aws:iam::111122223333:role/",
    ],
)
def test_bad_invoker_arns(arn):
    message = only_problem(config(invokers=["arn:aws:iam::111122223333:role/fine", arn]))
    assert message.startswith(f"projects[0] (alpha).invokers: [1] {arn!r} is not an IAM principal ARN")


def test_good_invoker_arns():
    arns = [
        "arn:aws:iam::111122223333:role/a/b-c",
        "arn:aws:iam::111122223333:user/u",
        "arn:aws:iam::111122223333:root",
    ]
    raw = config(invokers=arns, allow_account_invokers=True)
    assert load_config(raw).projects[0].config.invokers == arns


@pytest.mark.parametrize("key", ["aws:owner", "bad{key}", "", "k" * 129])
def test_bad_tag_keys(key):
    message = only_problem(config(tags={key: "v"}))
    assert message.startswith(f"projects[0] (alpha).tags: key {key!r} is not a valid tag key")


@pytest.mark.parametrize("value", ["semi;colon", "v" * 257, "<html>"])
def test_bad_tag_values(value):
    message = only_problem(config(tags={"owner": value}))
    assert message.startswith(f"projects[0] (alpha).tags: owner: value {value!r} is not a valid tag value")


def test_cost_tag_key_in_project_tags():
    assert only_problem(config(tags={"project": "other"})) == (
        "projects[0] (alpha).tags: 'project' is the cost-allocation tag key; it is set to the project name"
    )


def test_cost_tag_key_in_default_tags_is_reported_per_project():
    raw = config() | {"cost_allocation_tag_key": "team", "defaults": {"tags": {"team": "x"}}}
    assert only_problem(raw).startswith("projects[0] (alpha).tags: 'team' is the cost-allocation tag key")


def test_bad_cost_allocation_tag_key():
    assert only_problem(config() | {"cost_allocation_tag_key": "aws:project"}) == (
        "cost_allocation_tag_key: 'aws:project' is not a valid tag key"
    )


# --- tokens, Lambda ----------------------------------------------------------------------------


def test_max_tokens_default_above_limit():
    message = only_problem(config(max_tokens_default=4096, max_tokens_limit=1024))
    assert message == "projects[0] (alpha): max_tokens_default (4096) exceeds max_tokens_limit (1024)"


def test_max_tokens_limit_above_the_model_output_limit():
    message = only_problem(
        config(models=["claude-3-5-haiku"], max_tokens_limit=50_000, lambda_timeout_seconds=900)
    )
    assert message.startswith(
        "projects[0] (alpha).max_tokens_limit: 50000 exceeds claude-3-5-haiku's output limit"
    )


def test_max_tokens_limit_that_cannot_finish_within_the_timeout():
    # Opus at best: 2 s first token + 32000 / 100 tokens/s = 322 s, plus the 1 s margin: over 300 s.
    opus = config(models=["claude-opus-4-5"], max_tokens_limit=32_000, lambda_timeout_seconds=300)
    assert only_problem(opus) == (
        "projects[0] (alpha): max_tokens_limit (32000) cannot plausibly be generated within "
        "lambda_timeout_seconds (300) even at 100 tokens/s (the fastest plausible rate of its models, "
        "opus); lower it to 29700 or raise the timeout to 323"
    )
    load_config(config(models=["claude-opus-4-5"], max_tokens_limit=29_700, lambda_timeout_seconds=300))


def test_the_timeout_check_uses_the_fastest_model_of_the_project():
    # Haiku at best: 2 s + 32000 / 250 tokens/s = 130 s: fits 300 s, not 120 s.
    load_config(config(max_tokens_limit=32_000, lambda_timeout_seconds=300))
    message = only_problem(config(max_tokens_limit=32_000, lambda_timeout_seconds=120))
    assert "even at 250 tokens/s" in message and "lower it to 29250 or raise the timeout to 131" in message
    # Opus alone cannot use the limit, but the project's Haiku can: valid.
    mixed = config(
        models=["claude-opus-4-5", "claude-haiku-4-5"], max_tokens_limit=32_000, lambda_timeout_seconds=300
    )
    load_config(mixed)


# --- spend control -------------------------------------------------------------------------------


def test_spend_control_defaults_to_a_hard_cap_at_the_monthly_budget():
    platform = load_config(config())
    project = platform.projects[0].config
    assert (project.enforcement, project.spend_cap_usd, project.budget_action) == ("hard", None, False)
    assert project.cap_usd == project.monthly_budget_usd


def test_spend_cap_overrides_the_budget_and_enforcement_is_checked():
    platform = load_config(config(spend_cap_usd=25, enforcement="soft", budget_action=True))
    project = platform.projects[0].config
    assert (project.cap_usd, project.enforcement, project.budget_action) == (25, "soft", True)
    message = only_problem(config(enforcement="strict"))
    assert message.startswith("projects[0] (alpha).enforcement: Input should be 'hard', 'soft' or 'off'")
    assert only_problem(config(spend_cap_usd=0)).startswith(
        "projects[0] (alpha).spend_cap_usd: Input should be greater than 0"
    )


def test_max_tokens_must_be_positive():
    assert only_problem(config(max_tokens_default=0)).startswith(
        "projects[0] (alpha).max_tokens_default: Input should be greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("lambda_memory_mb", 64, "Input should be greater than or equal to 128"),
        ("lambda_timeout_seconds", 901, "Input should be less than or equal to 900"),
        ("log_retention_days", 31, "31 is not a CloudWatch Logs retention"),
    ],
)
def test_lambda_settings(field, value, expected):
    message = only_problem(config(**{field: value}))
    assert message.startswith(f"projects[0] (alpha).{field}: ") and expected in message


def test_alarm_thresholds_must_be_positive_and_known():
    found = problems(config(alarms={"throttles": 0, "latency": 5}))
    assert "projects[0] (alpha).alarms.throttles: Input should be greater than or equal to 1" in found
    assert any(p.startswith("projects[0] (alpha).alarms.latency: unknown key") for p in found)


# --- defaults ----------------------------------------------------------------------------------


def test_defaults_apply_and_projects_override_them():
    raw = {
        "region": "us-east-1",
        "defaults": {
            "models": ["claude-sonnet-4-5"],
            "monthly_budget_usd": 10,
            "alert_thresholds": [90],
            "tags": {"managed-by": "platform", "owner": "nobody"},
            "alarms": {"throttles": 20},
            "lambda_memory_mb": 1024,
        },
        "projects": [
            {"name": "plain"},
            {
                "name": "custom",
                "models": ["claude-haiku-4-5"],
                "monthly_budget_usd": 50,
                "tags": {"owner": "team-b"},
                "alarms": {"server_errors": 1},
            },
        ],
    }
    plain, custom = (p.config for p in load_config(raw).projects)
    assert (plain.models, plain.monthly_budget_usd, plain.alert_thresholds) == (
        ["claude-sonnet-4-5"],
        10,
        [90],
    )
    assert plain.tags == {"managed-by": "platform", "owner": "nobody"}
    assert (custom.models, custom.monthly_budget_usd, custom.lambda_memory_mb) == (
        ["claude-haiku-4-5"],
        50,
        1024,
    )
    # Mapping defaults merge key by key; the project's keys win.
    assert custom.tags == {"managed-by": "platform", "owner": "team-b"}
    assert (custom.alarms.throttles, custom.alarms.server_errors, custom.alarms.client_errors) == (20, 1, 25)


def test_project_without_models_or_budget_and_no_defaults():
    raw = {"region": "us-east-1", "projects": [{"name": "bare"}]}
    found = problems(raw)
    assert "projects[0] (bare).models: required field is missing" in found
    assert "projects[0] (bare).monthly_budget_usd: required field is missing" in found


def test_no_projects():
    assert only_problem({"region": "us-east-1", "projects": []}).startswith(
        "projects: List should have at least 1"
    )


# --- account and region limits -----------------------------------------------------------------


def test_inference_profile_quota():
    raw = config(models=["claude-haiku-4-5", "claude-sonnet-4-5"])
    raw["projects"].append({**raw["projects"][0], "name": "beta"})
    raw["inference_profile_quota"] = 3
    assert only_problem(raw) == (
        "projects: 4 inference profiles in us-east-1 exceed inference_profile_quota (3, per region); "
        "raise the Bedrock quota there first, then this setting"
    )


def test_inference_profile_quota_counts_each_region_separately():
    two = ["claude-haiku-4-5", "claude-sonnet-4-5"]
    raw = config(models=two)
    raw["projects"] += [
        {**raw["projects"][0], "name": "beta", "region": "eu-west-1", "geography": "eu"},
        {**raw["projects"][0], "name": "gamma", "region": "eu-west-1", "geography": "eu"},
    ]
    raw["inference_profile_quota"] = 3  # us-east-1 has 2 (fits), eu-west-1 has 4 (does not)
    assert only_problem(raw).startswith("projects: 4 inference profiles in eu-west-1 exceed")
    raw["inference_profile_quota"] = 4
    assert {p.region for p in load_config(raw).projects} == {"us-east-1", "eu-west-1"}


# --- regions -----------------------------------------------------------------------------------


def test_project_region_defaults_to_the_top_level_region_and_can_be_set():
    raw = config()
    raw["projects"].append({**raw["projects"][0], "name": "eu-app", "region": "eu-west-1", "geography": "eu"})
    platform = load_config(raw)
    assert [(p.name, p.region) for p in platform.projects] == [
        ("alpha", "us-east-1"),
        ("eu-app", "eu-west-1"),
    ]
    assert platform.regions == ("us-east-1", "eu-west-1")
    assert [p.name for p in platform.projects_in("eu-west-1")] == ["eu-app"]
    assert platform.projects[1].models[0].profile_name == "claude-eu-app-haiku-4-5-eu"


def test_home_region_comes_first_even_when_only_other_regions_come_first_in_the_file():
    raw = {
        "region": "us-east-1",
        "projects": [
            {
                "name": "eu-app",
                "region": "eu-west-1",
                "geography": "eu",
                "models": ["claude-haiku-4-5"],
                "monthly_budget_usd": 1,
            },
            {
                "name": "tokyo",
                "region": "ap-northeast-1",
                "geography": "jp",
                "models": ["claude-haiku-4-5"],
                "monthly_budget_usd": 1,
            },
            {"name": "home", "models": ["claude-haiku-4-5"], "monthly_budget_usd": 1},
        ],
    }
    assert load_config(raw).regions == ("us-east-1", "eu-west-1", "ap-northeast-1")


def test_geography_is_checked_against_the_project_region():
    message = only_problem(config(region="eu-west-1", geography="us"))
    assert message == "projects[0] (alpha).geography: 'us' profiles cannot be called from region eu-west-1"
    assert load_config(config(region="eu-west-1", geography="eu")).projects[0].region == "eu-west-1"


def test_region_in_defaults_applies_to_every_project():
    raw = config() | {"defaults": {"region": "eu-central-1", "geography": "eu"}}
    assert load_config(raw).projects[0].region == "eu-central-1"


def test_bad_project_region():
    assert only_problem(config(region="EU-WEST-1")) == (
        "projects[0] (alpha).region: 'EU-WEST-1' is not an AWS region name like eu-west-1"
    )


# --- reserved concurrency ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -5])
def test_max_concurrency_must_be_at_least_1(value):
    assert only_problem(config(max_concurrency=value)).startswith(
        "projects[0] (alpha).max_concurrency: Input should be greater than or equal to 1"
    )


def test_max_concurrency_is_reserved_by_default_and_unreserved_only_when_asked():
    assert load_config(config()).projects[0].config.max_concurrency == DEFAULT_MAX_CONCURRENCY == 10
    assert load_config(config(max_concurrency=None)).projects[0].config.max_concurrency is None


def test_default_max_concurrency_counts_in_the_regions_sum():
    raw = config()
    raw["projects"] += [{**raw["projects"][0], "name": f"p{i}"} for i in range(90)]
    assert only_problem(raw).startswith(
        "projects: max_concurrency of the projects in us-east-1 adds up to 910, above 900"
    )
    raw["projects"][0]["max_concurrency"] = None  # opted out: 900 fits
    assert len(load_config(raw).projects) == 91


# --- invokers --------------------------------------------------------------------------------


def test_an_account_root_invoker_is_refused_unless_allowed_explicitly():
    root = "arn:aws:iam::444455556666:root"
    problem = only_problem(config(invokers=["arn:aws:iam::111122223333:role/app", root]))
    assert problem == (
        f"projects[0] (alpha): invokers[1] '{root}' is an account root: every principal of account "
        "444455556666 whose own IAM policy allows lambda:InvokeFunction could spend up to the project's "
        "cap; name the roles or users that call it, or set allow_account_invokers: true to accept that"
    )
    assert load_config(config(invokers=[root], allow_account_invokers=True)).projects[0].config.invokers == [
        root
    ]
    assert load_config(config(invokers=["arn:aws:iam::111122223333:user/ci"])).projects


def test_max_concurrency_of_a_region_must_leave_100_unreserved():
    raw = config(max_concurrency=500)
    raw["projects"].append({**raw["projects"][0], "name": "beta", "max_concurrency": 401})
    assert only_problem(raw) == (
        "projects: max_concurrency of the projects in us-east-1 adds up to 901, above 900 "
        "(lambda_concurrency_quota 1000 minus the 100 Lambda keeps unreserved); lower it or raise "
        "the Lambda quota, then lambda_concurrency_quota"
    )
    raw["projects"][1]["max_concurrency"] = 400
    assert [p.config.max_concurrency for p in load_config(raw).projects] == [500, 400]


def test_max_concurrency_is_summed_per_region_against_a_raised_quota():
    raw = config(max_concurrency=900)
    raw["projects"].append(
        {
            **raw["projects"][0],
            "name": "beta",
            "region": "eu-west-1",
            "geography": "eu",
            "max_concurrency": 900,
        }
    )
    assert len(load_config(raw).projects) == 2  # 900 in each region: fits each region's 1000
    assert only_problem(config(max_concurrency=1500)).startswith(
        "projects: max_concurrency of the projects in us-east-1 adds up to 1500, above 900"
    )
    assert load_config(config(max_concurrency=1500) | {"lambda_concurrency_quota": 2000})


def test_lambda_concurrency_quota_below_lambdas_floor():
    assert only_problem(config() | {"lambda_concurrency_quota": 50}).startswith(
        "lambda_concurrency_quota: Input should be greater than or equal to 100"
    )


def test_every_problem_is_reported_at_once_per_stage():
    raw = config(models=["gpt-4", "claude-opus-4-1"], geography="global", tags={"project": "x"})
    found = problems(raw)
    assert len(found) == 3
    assert all(p.startswith("projects[0] (alpha).") for p in found)


# --- operations_emails -------------------------------------------------------------------------


def test_operations_emails_are_validated_like_alert_emails():
    assert load_config(config()).config.operations_emails == []
    ok = {**config(), "operations_emails": ["oncall@example.com"]}
    assert load_config(ok).config.operations_emails == ["oncall@example.com"]
    bad = {**config(), "operations_emails": ["oncall@example.com", "not-an-address"]}
    assert only_problem(bad).startswith("operations_emails: [1] 'not-an-address' is not an email address")
    twice = {**config(), "operations_emails": ["a@example.com", "a@example.com"]}
    assert "operations_emails" in only_problem(twice) and "distinct" in only_problem(twice)
    many = {**config(), "operations_emails": [f"p{i}@example.com" for i in range(11)]}
    assert only_problem(many).startswith("operations_emails")
