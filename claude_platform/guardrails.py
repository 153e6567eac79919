"""A project's `guardrail`: a reference to an existing Bedrock guardrail, or one the project stack creates.

Limits follow AWS::Bedrock::Guardrail's provider schema and the CreateGuardrail API
(docs/aws-facts.md, "Guardrails"). `GuardrailPricing` overrides the price table of
`claude_platform.guardrail_prices`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from claude_platform.config_sections import _doc_default, _Strict
from claude_platform.guardrail_prices import DEFAULT_RATES, POLICIES

GUARDRAIL_ID_RE = re.compile(r"^[a-z0-9]{1,64}$")
GUARDRAIL_ARN_RE = re.compile(
    r"^arn:aws(-[^:]+)?:bedrock:([a-z0-9-]{1,20}):([0-9]{12}):guardrail/([a-z0-9]+)$"
)
VERSION_RE = re.compile(r"^[1-9][0-9]{0,7}$")
TOPIC_NAME_RE = re.compile(r"^[0-9a-zA-Z-_ !?.]{1,100}$")
CONTENT_CATEGORIES = ("hate", "insults", "sexual", "violence", "misconduct")
# PII entity types AWS::Bedrock::Guardrail accepts (PiiEntityType).
PII_TYPES = frozenset(
    [
        "ADDRESS",
        "AGE",
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "CA_HEALTH_NUMBER",
        "CA_SOCIAL_INSURANCE_NUMBER",
        "CREDIT_DEBIT_CARD_CVV",
        "CREDIT_DEBIT_CARD_EXPIRY",
        "CREDIT_DEBIT_CARD_NUMBER",
        "DRIVER_ID",
        "EMAIL",
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        "IP_ADDRESS",
        "LICENSE_PLATE",
        "MAC_ADDRESS",
        "NAME",
        "PASSWORD",
        "PHONE",
        "PIN",
        "SWIFT_CODE",
        "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
        "UK_NATIONAL_INSURANCE_NUMBER",
        "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
        "URL",
        "USERNAME",
        "US_BANK_ACCOUNT_NUMBER",
        "US_BANK_ROUTING_NUMBER",
        "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
        "US_PASSPORT_NUMBER",
        "US_SOCIAL_SECURITY_NUMBER",
        "VEHICLE_IDENTIFICATION_NUMBER",
    ]
)
MAX_TOPICS = 30
MAX_TOPIC_EXAMPLES = 5
MAX_REGEXES = 30
MAX_WORDS = 10_000
# Classic tier (the default without a cross-region profile): topic definitions up to 200 characters.
MAX_TOPIC_DEFINITION = 200

Strength = Literal["none", "low", "medium", "high"]
PiiAction = Literal["block", "anonymize"]


class ContentFilter(_Strict):
    """How strongly one content category is filtered in prompts and in answers."""

    input: Annotated[Strength, Field(description="strength on prompts")]
    output: Annotated[Strength, Field(description="strength on answers")]


class DeniedTopic(_Strict):
    """A topic the guardrail blocks in prompts and answers."""

    name: Annotated[str, Field(description="1-100 of letters, digits, spaces, -_!?.")]
    definition: Annotated[
        str, Field(min_length=1, max_length=MAX_TOPIC_DEFINITION, description="what the topic covers")
    ]
    examples: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(
            max_length=MAX_TOPIC_EXAMPLES, description="up to 5 example prompts, each up to 100 characters"
        ),
    ] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TOPIC_NAME_RE.match(value):
            raise ValueError(f"{value!r} must be 1-100 of letters, digits, spaces and -_!?.")
        return value


class RegexFilter(_Strict):
    """A custom pattern of sensitive information."""

    name: Annotated[str, Field(min_length=1, max_length=100, description="1-100 characters, distinct")]
    pattern: Annotated[str, Field(min_length=1, description="the regular expression")]
    action: Annotated[PiiAction, Field(description="`block` or `anonymize`")]
    description: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=1000,
            description="up to 1,000 characters",
            json_schema_extra=_doc_default("none"),
        ),
    ] = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression ({exc})") from None
        return value


class ContextualGrounding(_Strict):
    """Contextual grounding check thresholds (answers below them are blocked); applies to calls with a grounding source."""

    grounding: Annotated[
        float | None,
        Field(
            ge=0, le=0.99, description="grounding threshold, 0-0.99", json_schema_extra=_doc_default("off")
        ),
    ] = None
    relevance: Annotated[
        float | None,
        Field(
            ge=0, le=0.99, description="relevance threshold, 0-0.99", json_schema_extra=_doc_default("off")
        ),
    ] = None

    @model_validator(mode="after")
    def _some(self) -> ContextualGrounding:
        if self.grounding is None and self.relevance is None:
            raise ValueError("give grounding, relevance or both")
        return self


_DECLARED_FIELDS = (
    "content_filters",
    "prompt_attack",
    "denied_topics",
    "words",
    "profanity",
    "pii",
    "regexes",
    "contextual_grounding",
)


class GuardrailConfig(_Strict):
    """A project's guardrail: `{id, version}` of an existing one, or a declared one the stack creates."""

    id: Annotated[
        str | None,
        Field(
            description="an existing guardrail's id or ARN (same account and region as the project)",
            json_schema_extra=_doc_default("none: declare the policies instead"),
        ),
    ] = None
    version: Annotated[
        str | None,
        Field(
            description="its published numeric version (with `id`)", json_schema_extra=_doc_default("none")
        ),
    ] = None
    blocked_input_message: Annotated[
        str,
        Field(
            min_length=1, max_length=500, description="the answer when a prompt is blocked, 1-500 characters"
        ),
    ] = "Sorry, this request is not allowed by the project's content policy."
    blocked_output_message: Annotated[
        str,
        Field(
            min_length=1, max_length=500, description="the answer when an answer is blocked, 1-500 characters"
        ),
    ] = "Sorry, the answer was withheld by the project's content policy."
    content_filters: Annotated[
        dict[Literal["hate", "insults", "sexual", "violence", "misconduct"], Strength | ContentFilter],
        Field(
            description="category -> strength (both directions) or `{input, output}`; `none|low|medium|high`"
        ),
    ] = {}
    prompt_attack: Annotated[
        Strength | None,
        Field(
            description="prompt-attack filter strength on prompts (answers are not filtered for it)",
            json_schema_extra=_doc_default("off"),
        ),
    ] = None
    denied_topics: Annotated[
        list[DeniedTopic],
        Field(max_length=MAX_TOPICS, description="up to 30 `{name, definition, examples}`"),
    ] = []
    words: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(max_length=MAX_WORDS, description="words and phrases blocked exactly"),
    ] = []
    profanity: Annotated[bool, Field(description="block AWS's managed profanity list")] = False
    pii: Annotated[
        dict[str, PiiAction],
        Field(
            description="PII entity type (e.g. `EMAIL`, `US_SOCIAL_SECURITY_NUMBER`) -> `block` or `anonymize`"
        ),
    ] = {}
    regexes: Annotated[
        list[RegexFilter],
        Field(max_length=MAX_REGEXES, description="up to 30 `{name, pattern, action, description?}`"),
    ] = []
    contextual_grounding: Annotated[
        ContextualGrounding | None,
        Field(description="`{grounding, relevance}` thresholds", json_schema_extra=_doc_default("off")),
    ] = None
    stream_processing_mode: Annotated[
        Literal["sync", "async"],
        Field(
            description=(
                "streamed answers: `sync` holds chunks until the guardrail passed them, `async` sends "
                "them at once and may block later (a blocked chunk may already have been shown)"
            )
        ),
    ] = "sync"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not (GUARDRAIL_ID_RE.match(value) or GUARDRAIL_ARN_RE.match(value)):
            raise ValueError(
                f"{value!r} is neither a guardrail id (lowercase letters and digits) nor a guardrail ARN "
                "(arn:aws:bedrock:<region>:<account>:guardrail/<id>)"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not VERSION_RE.match(value):
            raise ValueError(
                f"{value!r} is not a published guardrail version (1-99999999); DRAFT cannot be enforced"
            )
        return value

    @field_validator("pii")
    @classmethod
    def _pii(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - PII_TYPES)
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a PII entity type; one of {', '.join(sorted(PII_TYPES))}"
            )
        return value

    @field_validator("denied_topics")
    @classmethod
    def _topics(cls, value: list[DeniedTopic]) -> list[DeniedTopic]:
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError(f"topic names {names} repeat")
        return value

    @field_validator("regexes")
    @classmethod
    def _regexes(cls, value: list[RegexFilter]) -> list[RegexFilter]:
        names = [r.name for r in value]
        if len(set(names)) != len(names):
            raise ValueError(f"regex names {names} repeat")
        return value

    @model_validator(mode="after")
    def _reference_or_declared(self) -> GuardrailConfig:
        declared = [f for f in _DECLARED_FIELDS if f in self.model_fields_set]
        if self.id is not None or self.version is not None:
            if self.id is None or self.version is None:
                raise ValueError("a guardrail reference needs both id and version")
            extra = declared + [
                f for f in ("blocked_input_message", "blocked_output_message") if f in self.model_fields_set
            ]
            if extra:
                raise ValueError(
                    f"{', '.join(extra)}: a referenced guardrail (id, version) is configured where it was "
                    "created; give either id and version, or the policies of a guardrail to create"
                )
            return self
        if not self.paid_policies and not self.words and not self.profanity and not self.regexes:
            raise ValueError(
                "declare at least one policy (content_filters, prompt_attack, denied_topics, words, "
                "profanity, pii, regexes, contextual_grounding), or reference one with id and version"
            )
        return self

    @property
    def is_reference(self) -> bool:
        """Whether this names an existing guardrail instead of declaring one."""
        return self.id is not None

    @property
    def paid_policies(self) -> tuple[str, ...]:
        """The priced policies that may bill (all of them for a referenced guardrail: unknown here)."""
        if self.is_reference:
            return POLICIES
        out = []
        if any(
            self._filter(c)[0] != "none" or self._filter(c)[1] != "none" for c in self.content_filters
        ) or (self.prompt_attack not in (None, "none")):
            out.append("content")
        if self.denied_topics:
            out.append("topics")
        if self.pii:
            out.append("pii")
        if self.contextual_grounding is not None:
            out.append("contextual_grounding")
        return tuple(out)

    def _filter(self, category: str) -> tuple[str, str]:
        value = self.content_filters[category]  # type: ignore[index]
        return (value, value) if isinstance(value, str) else (value.input, value.output)

    def cfn_properties(self) -> dict[str, Any]:
        """The policy properties of AWS::Bedrock::Guardrail (CloudFormation casing)."""
        props: dict[str, Any] = {
            "BlockedInputMessaging": self.blocked_input_message,
            "BlockedOutputsMessaging": self.blocked_output_message,
        }
        filters = [
            {"Type": c.upper(), "InputStrength": i.upper(), "OutputStrength": o.upper()}
            for c in CONTENT_CATEGORIES
            if c in self.content_filters
            for i, o in [self._filter(c)]
        ]
        if self.prompt_attack is not None:
            # AWS requires output strength NONE for the prompt-attack filter.
            filters.append(
                {
                    "Type": "PROMPT_ATTACK",
                    "InputStrength": self.prompt_attack.upper(),
                    "OutputStrength": "NONE",
                }
            )
        if filters:
            props["ContentPolicyConfig"] = {"FiltersConfig": filters}
        if self.denied_topics:
            props["TopicPolicyConfig"] = {
                "TopicsConfig": [
                    {
                        "Name": t.name,
                        "Definition": t.definition,
                        "Type": "DENY",
                        **({"Examples": list(t.examples)} if t.examples else {}),
                    }
                    for t in self.denied_topics
                ]
            }
        if self.words or self.profanity:
            props["WordPolicyConfig"] = {
                **({"WordsConfig": [{"Text": w} for w in self.words]} if self.words else {}),
                **({"ManagedWordListsConfig": [{"Type": "PROFANITY"}]} if self.profanity else {}),
            }
        if self.pii or self.regexes:
            props["SensitiveInformationPolicyConfig"] = {
                **(
                    {
                        "PiiEntitiesConfig": [
                            {"Type": k, "Action": v.upper()} for k, v in sorted(self.pii.items())
                        ]
                    }
                    if self.pii
                    else {}
                ),
                **(
                    {
                        "RegexesConfig": [
                            {
                                "Name": r.name,
                                "Pattern": r.pattern,
                                "Action": r.action.upper(),
                                **({"Description": r.description} if r.description else {}),
                            }
                            for r in self.regexes
                        ]
                    }
                    if self.regexes
                    else {}
                ),
            }
        grounding = self.contextual_grounding
        if grounding is not None:
            props["ContextualGroundingPolicyConfig"] = {
                "FiltersConfig": [
                    {"Type": kind.upper(), "Threshold": value}
                    for kind, value in (
                        ("grounding", grounding.grounding),
                        ("relevance", grounding.relevance),
                    )
                    if value is not None
                ]
            }
        return props


_BUILT_IN = _doc_default("built-in (docs/pricing.md)")


class GuardrailPricing(_Strict):
    """USD per 1,000 text units per guardrail policy; unset policies keep the built-in table."""

    content: Annotated[
        float | None,
        Field(
            ge=0,
            allow_inf_nan=False,
            description="content filters and prompt attack",
            json_schema_extra=_BUILT_IN,
        ),
    ] = None
    topics: Annotated[
        float | None,
        Field(ge=0, allow_inf_nan=False, description="denied topics", json_schema_extra=_BUILT_IN),
    ] = None
    words: Annotated[
        float | None,
        Field(ge=0, allow_inf_nan=False, description="word filters", json_schema_extra=_BUILT_IN),
    ] = None
    pii: Annotated[
        float | None,
        Field(
            ge=0,
            allow_inf_nan=False,
            description="sensitive information (PII types)",
            json_schema_extra=_BUILT_IN,
        ),
    ] = None
    regexes: Annotated[
        float | None,
        Field(
            ge=0,
            allow_inf_nan=False,
            description="sensitive information (regexes)",
            json_schema_extra=_BUILT_IN,
        ),
    ] = None
    contextual_grounding: Annotated[
        float | None,
        Field(
            ge=0, allow_inf_nan=False, description="contextual grounding check", json_schema_extra=_BUILT_IN
        ),
    ] = None
    automated_reasoning: Annotated[
        float | None,
        Field(
            ge=0, allow_inf_nan=False, description="automated reasoning checks", json_schema_extra=_BUILT_IN
        ),
    ] = None

    def rates(self) -> dict[str, float]:
        """The effective table: built-in rates with these overrides."""
        return {
            p: (getattr(self, p) if getattr(self, p) is not None else rate)
            for p, rate in DEFAULT_RATES.items()
        }


def guardrail_name(prefix: str, project: str) -> str:
    """The created guardrail's name: `<prefix>-<project>` (at most 16 + 1 + 32 of the allowed 50)."""
    return f"{prefix}-{project}"


def guardrail_settings(
    config: GuardrailConfig, pricing: GuardrailPricing, *, arn: str, version: str
) -> dict[str, Any]:
    """The function's `guardrail` settings (FunctionSettings.guardrail); `arn`/`version` may be tokens."""
    overrides = {p: r for p, r in pricing.rates().items() if r != DEFAULT_RATES[p]}
    return {
        "guardrail_arn": arn,
        "guardrail_version": version,
        "policies": list(config.paid_policies),
        **({"rate_overrides": overrides} if overrides else {}),
        **({"stream_mode": config.stream_processing_mode} if config.stream_processing_mode != "sync" else {}),
    }
