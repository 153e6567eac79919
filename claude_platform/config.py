"""The platform config: one typed, validated model of the projects file.

`load_config(raw)` validates everything before anything is built and raises ConfigError with one
line per problem, each naming the project and field. Nothing here reads files or the environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from claude_platform.catalog import (
    ClaudeModel,
    Geography,
    MissingPriceError,
    PriceOverride,
    UnknownModelError,
    geography_serves_region,
    max_output_tokens,
    model_prices,
    override_problems,
    resolve_model,
)
from claude_platform.config_model import (
    PlatformConfig,
    PriceOverrideConfig,
    PriceTierConfig,
    ProjectConfig,
)
from claude_platform.config_sections import (
    LAMBDA_UNRESERVED_MIN,
    PROFILE_NAME_RE,
    PROJECT_SETTINGS_MAX_BYTES,
    TracingConfig,
)
from claude_platform.function_settings import FunctionSettings
from claude_platform.guardrails import GuardrailPricing
from claude_platform.naming import PROFILE_NAME_MAX, inference_profile_name
from claude_platform.prices import ModelPrices, PriceTier, RateCard

# ---------------------------------------------------------------------------------------------
# What synthesis builds from: every model resolved to catalog entry, geography and price.


@dataclass(frozen=True)
class ProjectModel:
    """One allowed model of a project, resolved."""

    model: ClaudeModel
    geography: Geography
    prices: ModelPrices
    profile_name: str
    max_output_tokens: int | None

    @property
    def alias(self) -> str:
        """Short name used in resource names and requests."""
        return self.model.alias


@dataclass(frozen=True)
class Project:
    """A validated project with resolved models; what the project stack is built from."""

    config: ProjectConfig
    models: tuple[ProjectModel, ...]
    region: str

    @property
    def name(self) -> str:
        """The project name, also the cost-allocation tag value."""
        return self.config.name


@dataclass(frozen=True)
class Platform:
    """A validated config ready for synthesis."""

    config: PlatformConfig
    projects: tuple[Project, ...]

    @property
    def tag_key(self) -> str:
        """The cost-allocation tag key."""
        return self.config.cost_allocation_tag_key

    @property
    def home_region(self) -> str:
        """The top-level `region`: every project's default, and unsuffixed in names."""
        return self.config.region

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions with at least one project, the home region first, then in order of appearance."""
        found = dict.fromkeys(p.region for p in self.projects)
        return tuple(sorted(found, key=lambda r: r != self.home_region))

    def projects_in(self, region: str) -> tuple[Project, ...]:
        """The projects deployed to `region`."""
        return tuple(p for p in self.projects if p.region == region)


class ConfigError(ValueError):
    """The config file has problems; `problems` holds one line per problem."""

    def __init__(self, problems: list[str], *, source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


def _location(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """`projects[2] (name "foo").alert_emails` from a pydantic error location."""
    parts: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if part == "projects" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = int(loc[i + 1])
            name = None
            projects = raw.get("projects")
            if isinstance(projects, list) and index < len(projects) and isinstance(projects[index], Mapping):
                name = projects[index].get("name")
            parts.append(f"projects[{index}]" + (f" ({name})" if isinstance(name, str) else ""))
            i += 2
            continue
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
        i += 1
    return ".".join(parts) or "(top level)"


def _pydantic_problems(error: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for e in error.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see README 'Config reference')"
        elif e["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{_location(loc, raw)}: {message}")
    return problems


def price_overrides(config: PlatformConfig) -> dict[str, PriceOverride]:
    """The config's `pricing` as catalog overrides: what synthesis prices with (the CLI's estimate too)."""
    return _price_overrides(config)


def _price_overrides(config: PlatformConfig) -> dict[str, PriceOverride]:
    def card(c: PriceOverrideConfig | PriceTierConfig) -> RateCard:
        return RateCard(c.input, c.output, c.cache_write, c.cache_read, c.cache_write_1h)

    return {
        key: PriceOverride(
            v.input,
            v.output,
            v.cache_write,
            v.cache_read,
            v.cache_write_1h,
            tiers=tuple(PriceTier(t.above_tokens, card(t)) for t in v.tiers),
        )
        for key, v in config.pricing.items()
    }


def _check_pricing_keys(config: PlatformConfig, overrides: Mapping[str, PriceOverride]) -> list[str]:
    """Each key names a catalog model (`<geo>.<base id>`, base id or alias) once, and prices its tiers."""
    problems = []
    geographies = {g.value for g in Geography if g is not Geography.NONE}
    all_geos: dict[str, str] = {}
    for key in config.pricing:
        prefix, _, rest = key.partition(".")
        per_geography = prefix in geographies and bool(rest)
        try:
            model = resolve_model(rest if per_geography else key)
        except UnknownModelError as e:
            problems.append(f"pricing.{key}: {e}")
            continue
        if per_geography:
            if rest != model.base_id:
                problems.append(
                    f"pricing.{key}: a per-geography key uses the base id: {prefix}.{model.base_id}"
                )
                continue
            if Geography(prefix) not in model.geographies:
                offered = ", ".join(sorted(g.value for g in model.geographies))
                problems.append(
                    f"pricing.{key}: {model.alias} is not offered in {prefix!r} (offered: {offered})"
                )
                continue
        elif model.base_id in all_geos:
            problems.append(
                f"pricing.{key}: {all_geos[model.base_id]!r} already prices {model.alias} for every geography"
            )
            continue
        else:
            all_geos[model.base_id] = key
        problems += [f"pricing.{key}: {p}" for p in override_problems(model, overrides[key])]
    return problems


def _resolve_project(
    index: int, project: ProjectConfig, config: PlatformConfig, overrides: dict[str, PriceOverride]
) -> tuple[Project | None, list[str]]:
    where = f"projects[{index}] ({project.name})"
    problems: list[str] = []
    region = project.region or config.region
    if not geography_serves_region(project.geography, region):
        problems.append(
            f"{where}.geography: {project.geography.value!r} profiles cannot be called from region {region}"
            + ("" if project.region else " (the top-level region; set the project's `region`)")
        )
    resolved: list[ProjectModel] = []
    seen: dict[str, int] = {}
    for j, ref in enumerate(project.models):
        field = f"{where}.models[{j}]"
        try:
            model = resolve_model(ref)
        except UnknownModelError as e:
            problems.append(f"{field}: {e}")
            continue
        if model.base_id in seen:
            problems.append(f"{field}: {ref!r} repeats models[{seen[model.base_id]}]")
            continue
        seen[model.base_id] = j
        if project.geography not in model.geographies:
            offered = ", ".join(sorted(g.value for g in model.geographies))
            problems.append(
                f"{field}: {model.alias} is not offered in geography {project.geography.value!r} (offered: {offered})"
            )
            continue
        try:
            prices = model_prices(model, project.geography, overrides)
        except MissingPriceError as e:
            problems.append(f"{field}: {e}")
            continue
        profile_name = inference_profile_name(config.name_prefix, project.name, model, project.geography)
        if len(profile_name) > PROFILE_NAME_MAX or not PROFILE_NAME_RE.match(profile_name):
            problems.append(
                f"{field}: profile name {profile_name!r} is not a valid inference profile name (<= {PROFILE_NAME_MAX} chars)"
            )
            continue
        limit = max_output_tokens(model)
        if limit is not None and project.max_tokens_limit > limit:
            problems.append(
                f"{where}.max_tokens_limit: {project.max_tokens_limit} exceeds {model.alias}'s output limit of {limit} tokens"
            )
        resolved.append(ProjectModel(model, project.geography, prices, profile_name, limit))
    names = {name for m in resolved for name in (m.alias, m.model.base_id)}
    for alias, target in project.gateway.model_aliases.items():
        field = f"{where}.gateway.model_aliases.{alias}"
        if alias in names:
            problems.append(f"{field}: {alias!r} is already one of the project's models; drop the alias")
        elif resolved and target not in names:
            problems.append(
                f"{field}: {target!r} is not one of the project's models ({', '.join(m.alias for m in resolved)})"
            )
    if config.cost_allocation_tag_key in project.tags:
        problems.append(
            f"{where}.tags: {config.cost_allocation_tag_key!r} is the cost-allocation tag key; it is set to the project name"
        )
    if not problems:
        size = settings_size_bytes(
            Project(project, tuple(resolved), region),
            region,
            config.name_prefix,
            guardrail_pricing=config.guardrail_pricing,
        )
        if size > PROJECT_SETTINGS_MAX_BYTES:
            field = f"{where}.tracing" if _traced(project.tracing) else f"{where}.models"
            problems.append(
                f"{field}: the function's settings would take {size} bytes, over the {PROJECT_SETTINGS_MAX_BYTES} "
                "that fit Lambda's 4 KB environment; allow fewer models or gateway.model_aliases, or use shorter tracing URLs, keys or secret names"
                + ("; the guardrail takes about 150 of them" if project.guardrail is not None else "")
            )
    return (Project(project, tuple(resolved), region) if not problems else None), problems


def _check_regional_quotas(config: PlatformConfig) -> list[str]:
    """Bedrock's profile quota and Lambda's concurrency are per account and region: check each region."""
    profiles: dict[str, int] = {}
    reserved: dict[str, int] = {}
    doubled: set[str] = set()
    for project in config.projects:
        region = project.region or config.region
        profiles[region] = profiles.get(region, 0) + len(project.models)
        # A project with the gateway has two functions, each reserving max_concurrency.
        functions = 2 if project.gateway.enabled else 1
        if project.gateway.enabled and project.max_concurrency:
            doubled.add(region)
        reserved[region] = reserved.get(region, 0) + (project.max_concurrency or 0) * functions
    problems = [
        f"projects: {count} inference profiles in {region} exceed inference_profile_quota "
        f"({config.inference_profile_quota}, per region); raise the Bedrock quota there first, then this setting"
        for region, count in profiles.items()
        if count > config.inference_profile_quota
    ]
    available = config.lambda_concurrency_quota - LAMBDA_UNRESERVED_MIN
    problems += [
        f"projects: max_concurrency of the projects in {region} "
        + ("(twice for a project with the gateway) " if region in doubled else "")
        + f"adds up to {total}, above "
        f"{available} (lambda_concurrency_quota {config.lambda_concurrency_quota} minus the "
        f"{LAMBDA_UNRESERVED_MIN} Lambda keeps unreserved); lower it or raise the Lambda quota, then "
        "lambda_concurrency_quota"
        for region, total in reserved.items()
        if total > available
    ]
    return problems


def _check_bedrock_rate_quotas(config: PlatformConfig, projects: Sequence[Project]) -> list[str]:
    """Project rate limits against the Bedrock quotas the config states (per region and model)."""
    problems: list[str] = []
    index = {p.name: i for i, p in enumerate(config.projects)}
    for name, quota in config.bedrock_quotas.items():
        try:
            alias = resolve_model(name).alias
        except UnknownModelError as exc:
            problems.append(f"bedrock_quotas.{name}: {exc}")
            continue
        for kind in ("requests_per_minute", "tokens_per_minute"):
            limit = getattr(quota, kind)
            if limit is None:
                continue
            by_region: dict[str, list[tuple[str, int]]] = {}
            for project in projects:
                own = getattr(project.config, kind)
                if own is None or alias not in {m.alias for m in project.models}:
                    continue
                if own > limit:
                    problems.append(
                        f"projects[{index[project.name]}] ({project.name}).{kind}: {own} is above "
                        f"Bedrock's {limit} for {alias} (bedrock_quotas.{name}.{kind}); it could never be used"
                    )
                by_region.setdefault(project.region, []).append((project.name, own))
            for region, limits in by_region.items():
                total = sum(n for _, n in limits)
                if len(limits) > 1 and total > limit:
                    names = ", ".join(name for name, _ in limits)
                    problems.append(
                        f"bedrock_quotas.{name}.{kind}: the {kind} of the projects allowing {alias} in "
                        f"{region} ({names}) add up to {total}, above Bedrock's {limit}: together they "
                        "can be throttled by Bedrock; lower them or raise the quota, then this setting"
                    )
    return problems


def load_config(raw: Any, *, source: str = "config") -> Platform:
    """Validate a parsed projects file; raise ConfigError listing every problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [f"(top level): expected a mapping with region and projects, got {type(raw).__name__}"],
            source=source,
        )
    try:
        config = PlatformConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_pydantic_problems(e, raw), source=source) from None
    overrides = _price_overrides(config)
    problems = _check_pricing_keys(config, overrides)
    names: dict[str, int] = {}
    projects: list[Project] = []
    for i, project in enumerate(config.projects):
        if project.name in names:
            problems.append(
                f"projects[{i}] ({project.name}).name: duplicate of projects[{names[project.name]}]"
            )
            continue
        names[project.name] = i
        resolved, project_problems = _resolve_project(i, project, config, overrides)
        problems += project_problems
        if resolved:
            projects.append(resolved)
    problems += _check_regional_quotas(config)
    problems += _check_bedrock_rate_quotas(config, projects)
    if problems:
        raise ConfigError(problems, source=source)
    return Platform(config, tuple(projects))


def _settings_prices(prices: ModelPrices) -> dict[str, Any]:
    """`prices.to_dict()`: the compact rate-list form, which `ModelPrices.from_dict` restores.

    8 models must fit Lambda's 4 KB environment (tests/infra checks the worst case).
    """
    return prices.to_dict()


def _traced(tracing: TracingConfig) -> bool:
    return tracing.backend is not None or tracing.xray


def _settings_tracing(tracing: TracingConfig) -> dict[str, Any]:
    """The function's `tracing` settings: only what is set (the 4 KB environment); the secrets'
    KMS key is the role's business, not the function's."""
    return tracing.model_dump(mode="json", exclude_none=True, exclude={"secrets_kms_key_arn"})


def _partition(region: str) -> str:
    return "aws-us-gov" if region.startswith("us-gov-") else "aws-cn" if region.startswith("cn-") else "aws"


def settings_size_bytes(
    project: Project, region: str, name_prefix: str, *, guardrail_pricing: GuardrailPricing | None = None
) -> int:
    """Bytes of PROJECT_SETTINGS once deployed: profile ARNs at their longest (12-character id), the
    ledger table and the alert topic ARN as synthesis names them (12-digit account), a guardrail's ARN
    (12-character id) and version (8 digits) at their longest, with `guardrail_pricing`'s overrides."""
    from claude_platform import naming  # naming imports this module
    from claude_platform.guardrails import GuardrailPricing, guardrail_settings

    pricing = guardrail_pricing or GuardrailPricing()

    partition = _partition(region)
    longest_arn = f"arn:{partition}:bedrock:{region}:123456789012:application-inference-profile/{'x' * 12}"
    topic = naming.alert_topic_name(name_prefix, project.name)
    settings = runtime_settings(
        project,
        {m.alias: longest_arn for m in project.models},
        ledger_table=naming.ledger_table_name(name_prefix),
        alert_topic_arn=f"arn:{partition}:sns:{region}:123456789012:{topic}",
        guardrail=None
        if project.config.guardrail is None
        else guardrail_settings(
            project.config.guardrail,
            pricing,
            arn=f"arn:{partition}:bedrock:{region}:123456789012:guardrail/{'g' * 12}",
            version="12345678",
        ),
    )
    return len(json.dumps(settings, separators=(",", ":")).encode())


def runtime_settings(
    project: Project,
    profile_arns: Mapping[str, str],
    *,
    ledger_table: str | None = None,
    alert_topic_arn: str | None = None,
    guardrail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The project Lambda's PROJECT_SETTINGS (JSON): models with profile ARNs and prices, spend control.

    `profile_arns` maps model alias to the application inference profile ARN (a token at synthesis);
    `ledger_table` and `alert_topic_arn` may be tokens too; so may `guardrail`'s
    `guardrail_arn`/`guardrail_version` (`claude_platform.guardrails.guardrail_settings`).
    Each model's `prices` is `ModelPrices.to_dict()`: parse it with `ModelPrices.from_dict`.
    """
    config = project.config
    document = {
        "project": project.name,
        "default_model": project.models[0].alias,
        "max_tokens_default": config.max_tokens_default,
        "max_tokens_limit": config.max_tokens_limit,
        "log_prompts": config.log_prompts,
        **({"tracing": _settings_tracing(config.tracing)} if _traced(config.tracing) else {}),
        **(
            {
                "gateway": {
                    "model_aliases": dict(config.gateway.model_aliases),
                    **({"keys_table": ledger_table} if ledger_table else {}),
                }
            }
            if config.gateway.enabled
            else {}
        ),
        **({"guardrail": dict(guardrail)} if guardrail else {}),
        "models": [
            {
                "alias": m.alias,
                "base_id": m.model.base_id,
                "geography": m.geography.value,
                "profile_arn": profile_arns[m.alias],
                "prices": _settings_prices(m.prices),
            }
            for m in project.models
        ],
        "spend": {
            "enforcement": config.enforcement,
            "cap_usd": config.cap_usd,
            "alert_thresholds": list(config.alert_thresholds),
            **({"ledger_table": ledger_table} if ledger_table and config.enforcement != "off" else {}),
            **(
                {"stale_after_s": config.lambda_timeout_seconds + STALE_HOLD_GRACE_S}
                if config.enforcement != "off"
                else {}
            ),
            **(
                {"alert_topic_arn": alert_topic_arn}
                if alert_topic_arn and config.enforcement != "off"
                else {}
            ),
            **({"requests_per_minute": config.requests_per_minute} if config.requests_per_minute else {}),
            **({"tokens_per_minute": config.tokens_per_minute} if config.tokens_per_minute else {}),
        },
    }
    _check_function_settings(document)
    return document


# A hold older than the function's timeout plus this cannot belong to a running invocation.
STALE_HOLD_GRACE_S = 60

# Values that may be CDK tokens at synthesis, and a stand-in of the right shape for each.
_TOKEN_STAND_INS = {
    "profile_arn": "arn:aws:bedrock:us-east-1:000000000000:application-inference-profile/synthesis",
    "alert_topic_arn": "arn:aws:sns:us-east-1:000000000000:synthesis",
    "guardrail_arn": "arn:aws:bedrock:us-east-1:000000000000:guardrail/synthesis",
    "guardrail_version": "1",
}


def _with_token_stand_ins(value: Any, key: str | None = None) -> Any:
    if isinstance(value, Mapping):
        return {k: _with_token_stand_ins(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_token_stand_ins(v) for v in value]
    if isinstance(value, str) and "${Token[" in value and key in _TOKEN_STAND_INS:
        return _TOKEN_STAND_INS[key]
    return value


def _check_function_settings(document: Mapping[str, Any]) -> None:
    """What the stack writes must be what the function accepts: validate it with the function's model."""
    try:
        FunctionSettings.model_validate(json.loads(json.dumps(_with_token_stand_ins(document))))
    except ValidationError as exc:
        raise ValueError(
            f"PROJECT_SETTINGS for {document.get('project')!r} would be refused by the function: {exc}"
        ) from None
