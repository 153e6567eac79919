"""The invocation event: validated strictly before anything reaches Bedrock."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from claude_proxy.errors import ErrorType, ProxyError

MAX_INPUT_CHARS = 1_000_000
MAX_TAGS = 16
FRAMING_TOKENS_PER_MESSAGE = 16  # role and turn markers, generously
MAX_TAG_KEY_CHARS = 256
MAX_TAG_VALUE_CHARS = 256
_TAG_CHARS = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,.\-]*$")
_MAX_REPORTED_ERRORS = 5
_UNION_TAGS = frozenset({"string", "blocks"})


class TextBlock(BaseModel):
    """A `{"type": "text", "text": ...}` content block."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: Literal["text"]
    text: str

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or whitespace only")
        return value


def _content_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "blocks"
    return None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


class Message(BaseModel):
    """One conversation turn."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    role: Literal["user", "assistant"]
    content: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[TextBlock], Field(min_length=1), Tag("blocks")],
        Discriminator(
            _content_kind,
            custom_error_type="content_type",
            custom_error_message="must be a non-empty string or a list of text blocks",
        ),
    ]

    @field_validator("content")
    @classmethod
    def _content_not_blank(cls, value: str | list[TextBlock]) -> str | list[TextBlock]:
        return _not_blank(value) if isinstance(value, str) else value

    @property
    def texts(self) -> list[str]:
        """The message's text pieces."""
        return [self.content] if isinstance(self.content, str) else [block.text for block in self.content]

    @property
    def text_chars(self) -> int:
        """Characters of text in this message."""
        return sum(len(text) for text in self.texts)


class ClaudeRequest(BaseModel):
    """What a caller may send."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    messages: list[Message] = Field(min_length=1)
    system: str | None = None
    model: str | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("system")
    @classmethod
    def _system_not_blank(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value)

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if len(tags) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags, got {len(tags)}")
        for key, value in tags.items():
            shown = key[:40] + ("..." if len(key) > 40 else "")
            if not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
                raise ValueError(f"key {shown!r} must be 1-{MAX_TAG_KEY_CHARS} characters")
            if len(value) > MAX_TAG_VALUE_CHARS:
                raise ValueError(f"value of {shown!r} must be at most {MAX_TAG_VALUE_CHARS} characters")
            if not _TAG_CHARS.match(key):
                raise ValueError(f"key {shown!r} has characters outside [a-zA-Z0-9 :_@$#=/+,.-]")
            if not _TAG_CHARS.match(value):
                raise ValueError(f"value of {shown!r} has characters outside [a-zA-Z0-9 :_@$#=/+,.-]")
        return tags

    @model_validator(mode="after")
    def _bounded(self) -> ClaudeRequest:
        if self.messages[0].role != "user":
            raise ValueError("messages[0].role: the conversation must start with a user message")
        if self.input_chars > MAX_INPUT_CHARS:
            raise ValueError(
                f"messages: input is {self.input_chars} characters (messages + system), "
                f"over the limit of {MAX_INPUT_CHARS}"
            )
        return self

    @property
    def input_chars(self) -> int:
        """Characters of prompt text (messages and system)."""
        return sum(m.text_chars for m in self.messages) + len(self.system or "")

    @property
    def input_token_bound(self) -> int:
        """An upper bound on the prompt's input tokens, for reserving worst-case spend.

        A byte-level BPE token covers at least one UTF-8 byte, so the text's bytes bound its tokens
        (characters do not: one CJK character or emoji can be several tokens); each message and the
        system prompt add a few framing tokens on top.
        """
        texts = [self.system or ""] + [t for m in self.messages for t in m.texts]
        return sum(len(t.encode("utf-8")) for t in texts) + FRAMING_TOKENS_PER_MESSAGE * (
            len(self.messages) + 1
        )


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:_MAX_REPORTED_ERRORS]:
        msg = str(err["msg"]).removeprefix("Value error, ")
        loc = _location(err["loc"])
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}" if loc and not msg.startswith(f"{loc}:") else msg)
    more = exc.error_count() - _MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def parse_request(event: Any) -> ClaudeRequest:
    """The validated request, or ProxyError(invalid_request) naming the offending field."""
    if not isinstance(event, dict):
        raise ProxyError(
            ErrorType.INVALID_REQUEST, f"event must be a JSON object, got {type(event).__name__}"
        )
    try:
        return ClaudeRequest.model_validate(event)
    except ValidationError as exc:
        raise ProxyError(ErrorType.INVALID_REQUEST, _describe(exc)) from None
