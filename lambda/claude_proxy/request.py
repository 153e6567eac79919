"""The invocation event: the Anthropic Messages API request (as Claude on Bedrock supports it) plus `tags`.

Validated strictly before anything reaches Bedrock; an invalid request names the offending field.
Limits are Bedrock's and Lambda's (see docs/gateway.md): a synchronous Lambda payload is at most
6 MB, so inline images and documents share that; Converse takes up to 20 images of 3.75 MB each and
up to 5 documents of 4.5 MB each, and at most 4 cache points per request.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from claude_proxy.content_blocks import (
    STRICT,
    TOOL_NAME_PATTERN,
    Base64PdfSource,
    CacheControl,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    PlainTextSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    block_kind,
    not_blank,
)
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.json_limits import bounded_json, check_json

MAX_INPUT_CHARS = 1_000_000
MAX_TAGS = 16
FRAMING_TOKENS_PER_MESSAGE = 16  # role and turn markers, generously
FRAMING_TOKENS_PER_BLOCK = 8  # block delimiters (tool ids, document wrappers), generously
MAX_TAG_KEY_CHARS = 256
MAX_TAG_VALUE_CHARS = 256
LAMBDA_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024  # synchronous invoke, request and response each
MAX_IMAGES = 20  # Converse, per request
MAX_DOCUMENTS = 5  # Converse, per request
MAX_CACHE_POINTS = 4  # Bedrock and Anthropic: cache checkpoints per request
MAX_STOP_SEQUENCES = 2500  # Converse InferenceConfiguration.stopSequences
MAX_TOOLS = 256
MIN_THINKING_BUDGET = 1024  # Anthropic and Bedrock minimum
# Input-token bounds for blocks that are not tokenized from their bytes (see input_token_bound):
IMAGE_TOKEN_BOUND = 5_000  # (width x height) / 750 after Claude's resize: <= ~3.75 MP -> <= 5,000
# A PDF whose pages cannot be counted, on a model of unknown context window: the largest Claude
# context window on Bedrock (1M tokens) is the only upper bound.
DOCUMENT_PDF_TOKEN_BOUND = 1_000_000
TOOL_SYSTEM_PROMPT_TOKEN_BOUND = 1_000  # Anthropic's tool-use system prompt (documented <= ~530)
# Bedrock requestMetadata's pattern `[a-zA-Z0-9\s:_@$#=/+,.-]`, where `\s` is ASCII whitespace (a Java
# pattern): Python's `\s` would also let NBSP, U+3000 and U+2028 through, which Bedrock refuses.
_TAG_CHARS = re.compile(r"[a-zA-Z0-9 \t\n\x0b\f\r:_@$#=/+,.\-]*")
_MAX_REPORTED_ERRORS = 5

_USER_BLOCKS = (TextBlock, ImageBlock, DocumentBlock, ToolResultBlock)
_ASSISTANT_BLOCKS = (TextBlock, ToolUseBlock, ThinkingBlock, RedactedThinkingBlock)
# The order Converse receives a turn in (LiteLLM writes tool results, then content; thinking, text, tool calls).
_USER_ORDER = {ToolResultBlock: 0, TextBlock: 1, ImageBlock: 1, DocumentBlock: 1}
# Text and tool calls may interleave (Claude's own answers do); Converse then gets the texts first.
_ASSISTANT_ORDER = {ThinkingBlock: 0, RedactedThinkingBlock: 0, TextBlock: 1, ToolUseBlock: 1}


def _content_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "<string>"
    if isinstance(value, list):
        return "<blocks>"
    return None


class Message(BaseModel):
    """One conversation turn."""

    model_config = STRICT

    role: Literal["user", "assistant"]
    content: Annotated[
        Annotated[str, Tag("<string>")] | Annotated[list[ContentBlock], Field(min_length=1), Tag("<blocks>")],
        Discriminator(
            _content_kind,
            custom_error_type="content_type",
            custom_error_message="must be a non-empty string or a list of content blocks",
        ),
    ]

    @field_validator("content")
    @classmethod
    def _content_valid(cls, value: str | list[Any]) -> str | list[Any]:
        return not_blank(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _blocks_fit_role(self) -> Message:
        if isinstance(self.content, str):
            return self
        allowed = _USER_BLOCKS if self.role == "user" else _ASSISTANT_BLOCKS
        for i, block in enumerate(self.content):
            if not isinstance(block, allowed):
                names = ", ".join(sorted(b.model_fields["type"].annotation.__args__[0] for b in allowed))
                article = "an" if self.role == "assistant" else "a"
                raise ValueError(f"content[{i}]: {article} {self.role} message may hold only {names} blocks")
        order = _USER_ORDER if self.role == "user" else _ASSISTANT_ORDER
        ranks = [order[type(b)] for b in self.content]
        for i in range(1, len(ranks)):
            if ranks[i] < ranks[i - 1]:
                rule = (
                    "tool_result blocks come first in a user message"
                    if self.role == "user"
                    else "thinking blocks come first in an assistant message"
                )
                raise ValueError(f"content[{i}]: out of order ({rule})")
        return self

    @property
    def blocks(self) -> list[Any]:
        """The content as blocks (a string is one text block)."""
        if isinstance(self.content, str):
            return [TextBlock(type="text", text=self.content)]
        return list(self.content)

    @property
    def texts(self) -> list[str]:
        """The message's plain text pieces (text blocks only)."""
        return [b.text for b in self.blocks if isinstance(b, TextBlock)]

    @property
    def text_chars(self) -> int:
        """Characters of text in this message."""
        return sum(len(text) for text in self.texts)


class Tool(BaseModel):
    """A client tool the model may call."""

    model_config = STRICT

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str | None = Field(default=None, min_length=1)
    input_schema: dict[str, Any]
    cache_control: CacheControl | None = None

    @field_validator("input_schema")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('must be a JSON schema with "type": "object"')
        return bounded_json(value)


class ToolChoiceAuto(BaseModel):
    """The model decides."""

    model_config = STRICT
    type: Literal["auto"]


class ToolChoiceAny(BaseModel):
    """The model must call some tool."""

    model_config = STRICT
    type: Literal["any"]


class ToolChoiceTool(BaseModel):
    """The model must call this tool."""

    model_config = STRICT
    type: Literal["tool"]
    name: str = Field(pattern=TOOL_NAME_PATTERN)


class ToolChoiceNone(BaseModel):
    """The model must not call tools."""

    model_config = STRICT
    type: Literal["none"]


ToolChoice = Annotated[
    Annotated[ToolChoiceAuto, Tag("<auto>")]
    | Annotated[ToolChoiceAny, Tag("<any>")]
    | Annotated[ToolChoiceTool, Tag("<tool>")]
    | Annotated[ToolChoiceNone, Tag("<none>")],
    Discriminator(
        block_kind,
        custom_error_type="tool_choice_type",
        custom_error_message="type must be one of auto, any, tool, none",
    ),
]


class ThinkingEnabled(BaseModel):
    """Extended thinking with a token budget (counted as output, within max_tokens)."""

    model_config = STRICT
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=MIN_THINKING_BUDGET)


class ThinkingDisabled(BaseModel):
    """No extended thinking."""

    model_config = STRICT
    type: Literal["disabled"]


class ThinkingAdaptive(BaseModel):
    """Adaptive thinking (newer models decide how much to think, within max_tokens)."""

    model_config = STRICT
    type: Literal["adaptive"]


Thinking = Annotated[
    Annotated[ThinkingEnabled, Tag("<enabled>")]
    | Annotated[ThinkingDisabled, Tag("<disabled>")]
    | Annotated[ThinkingAdaptive, Tag("<adaptive>")],
    Discriminator(
        block_kind,
        custom_error_type="thinking_type",
        custom_error_message="type must be one of enabled, disabled, adaptive",
    ),
]


def _system_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "<string>"
    if isinstance(value, list):
        return "<blocks>"
    return None


class ClaudeRequest(BaseModel):
    """What a caller may send: the Messages API fields Claude on Bedrock supports, plus `tags`."""

    model_config = STRICT

    messages: list[Message] = Field(min_length=1)
    system: (
        Annotated[
            Annotated[str, Tag("<string>")]
            | Annotated[list[TextBlock], Field(min_length=1), Tag("<blocks>")],
            Discriminator(
                _system_kind,
                custom_error_type="system_type",
                custom_error_message="must be a non-empty string or a list of text blocks",
            ),
        ]
        | None
    ) = None
    model: str | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    stop_sequences: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, max_length=MAX_STOP_SEQUENCES
    )
    tools: list[Tool] | None = Field(default=None, min_length=1, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("system")
    @classmethod
    def _system_not_blank(cls, value: str | list[TextBlock] | None) -> str | list[TextBlock] | None:
        return not_blank(value) if isinstance(value, str) else value

    @field_validator("stop_sequences")
    @classmethod
    def _stops_not_blank(cls, value: list[str] | None) -> list[str] | None:
        for i, stop in enumerate(value or []):
            if not stop.strip():
                raise ValueError(f"[{i}] must not be whitespace only")
        return value

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
            if not _TAG_CHARS.fullmatch(key):
                raise ValueError(
                    f"key {shown!r} has characters outside [a-zA-Z0-9:_@$#=/+,.-] and ASCII whitespace"
                )
            if not _TAG_CHARS.fullmatch(value):
                raise ValueError(
                    f"value of {shown!r} has characters outside [a-zA-Z0-9:_@$#=/+,.-] and ASCII whitespace"
                )
        return tags

    @model_validator(mode="after")
    def _consistent(self) -> ClaudeRequest:
        if self.messages[0].role != "user":
            raise ValueError("messages[0].role: the conversation must start with a user message")
        if self.input_chars > MAX_INPUT_CHARS:
            raise ValueError(
                f"messages: input is {self.input_chars} characters (messages + system), "
                f"over the limit of {MAX_INPUT_CHARS}"
            )
        self._check_media_limits()
        self._check_tools()
        self._check_cache_points()
        self._check_thinking()
        return self

    def _check_media_limits(self) -> None:
        images = [b for m in self.messages for b in _all_blocks(m) if isinstance(b, ImageBlock)]
        documents = [b for m in self.messages for b in m.blocks if isinstance(b, DocumentBlock)]
        if len(images) > MAX_IMAGES:
            raise ValueError(f"messages: {len(images)} images, over Bedrock's limit of {MAX_IMAGES}")
        if len(documents) > MAX_DOCUMENTS:
            raise ValueError(f"messages: {len(documents)} documents, over Bedrock's limit of {MAX_DOCUMENTS}")

    def _check_tools(self) -> None:
        names = [t.name for t in self.tools or []]
        if len(set(names)) != len(names):
            raise ValueError("tools: tool names must be unique")
        choice = self.tool_choice
        if choice is not None and not self.tools:
            raise ValueError("tool_choice: requires tools")
        if isinstance(choice, ToolChoiceTool) and choice.name not in names:
            raise ValueError(f"tool_choice.name: {choice.name!r} is not one of the tools")
        if isinstance(choice, ToolChoiceNone) and self.has_tool_blocks:
            raise ValueError(
                "tool_choice: 'none' cannot be combined with tool_use/tool_result blocks in the "
                "conversation on Bedrock Converse (it has no 'none' choice; the function drops the "
                "tool definitions instead, which needs a conversation without tool blocks)"
            )
        uses = [b.id for m in self.messages for b in m.blocks if isinstance(b, ToolUseBlock)]
        if uses and not self.tools:
            raise ValueError("tools: the conversation has tool_use blocks, so the tools must be sent too")
        for i, m in enumerate(self.messages):
            for j, b in enumerate(m.blocks):
                if isinstance(b, ToolUseBlock) and b.name not in names:
                    raise ValueError(
                        f"messages[{i}].content[{j}].name: tool {b.name!r} is not one of the tools"
                    )
                if isinstance(b, ToolResultBlock) and b.tool_use_id not in uses:
                    raise ValueError(
                        f"messages[{i}].content[{j}].tool_use_id: {b.tool_use_id!r} answers no tool_use block"
                    )

    def _check_cache_points(self) -> None:
        ttls = [c.effective_ttl for c in self.cache_controls]
        if len(ttls) > MAX_CACHE_POINTS:
            raise ValueError(
                f"cache_control: {len(ttls)} cache points, over Bedrock's limit of {MAX_CACHE_POINTS}"
            )
        if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
            raise ValueError(
                "cache_control: a 1h cache point must not follow a 5m one (tools, then system, then messages)"
            )

    def _check_thinking(self) -> None:
        thinking = self.thinking
        if not isinstance(thinking, ThinkingEnabled | ThinkingAdaptive):
            return
        budget = thinking.budget_tokens if isinstance(thinking, ThinkingEnabled) else None
        if budget is not None and self.max_tokens is not None and budget >= self.max_tokens:
            raise ValueError(
                f"thinking.budget_tokens: {thinking.budget_tokens} must be less than max_tokens "
                f"({self.max_tokens}): thinking tokens are output tokens within max_tokens"
            )
        if self.temperature is not None and self.temperature != 1.0:
            raise ValueError("temperature: must be unset or 1 with thinking enabled")
        if self.top_k is not None:
            raise ValueError("top_k: must be unset with thinking enabled")
        if self.top_p is not None and self.top_p < 0.95:
            raise ValueError("top_p: must be unset or between 0.95 and 1 with thinking enabled")
        if isinstance(self.tool_choice, ToolChoiceAny | ToolChoiceTool):
            raise ValueError("tool_choice: only auto or none may be combined with thinking")

    # --- derived ------------------------------------------------------------------------------

    @property
    def system_blocks(self) -> list[TextBlock]:
        """The system prompt as text blocks (empty if none)."""
        if self.system is None:
            return []
        if isinstance(self.system, str):
            return [TextBlock(type="text", text=self.system)]
        return list(self.system)

    @property
    def has_tool_blocks(self) -> bool:
        """Whether any message holds tool_use or tool_result blocks."""
        return any(isinstance(b, ToolUseBlock | ToolResultBlock) for m in self.messages for b in m.blocks)

    @property
    def thinking_enabled(self) -> bool:
        """Whether extended or adaptive thinking is on."""
        return isinstance(self.thinking, ThinkingEnabled | ThinkingAdaptive)

    @property
    def sampling_params(self) -> list[str]:
        """Names of the sampling parameters set (temperature, top_p, top_k)."""
        return [name for name in ("temperature", "top_p", "top_k") if getattr(self, name) is not None]

    @property
    def cache_controls(self) -> list[CacheControl]:
        """Cache points in Bedrock's order: tools, system, messages."""
        out = [t.cache_control for t in self.tools or [] if t.cache_control]
        out += [b.cache_control for b in self.system_blocks if b.cache_control]
        for m in self.messages:
            for b in _all_blocks(m):
                control = getattr(b, "cache_control", None)
                if control is not None:
                    out.append(control)
        return out

    @property
    def input_chars(self) -> int:
        """Characters of prompt text (text blocks of messages and system)."""
        return sum(m.text_chars for m in self.messages) + sum(len(b.text) for b in self.system_blocks)

    @cached_property
    def input_token_bound(self) -> int:
        """An upper bound on the prompt's input tokens, for reserving worst-case spend.

        A byte-level BPE token covers at least one UTF-8 byte, so text's bytes bound its tokens
        (characters do not: one CJK character or emoji can be several tokens). Text that reaches the
        model as text is counted by its bytes: text blocks, plain-text documents, tool results, tool
        calls and tool definitions as JSON, earlier thinking. Images cost (width x height) / 750
        tokens after Claude's resize, at most IMAGE_TOKEN_BOUND each. A PDF has no byte bound (its
        text is compressed, its pages are also seen as images): it counts as its pages times
        PDF_PAGE_TOKEN_BOUND, or the largest context window when its pages cannot be counted (see
        input_token_bound_for, which also bounds PDFs by the model's context window). Each message,
        block and the system prompt add framing tokens, tools Anthropic's tool-use system prompt.
        """
        total = FRAMING_TOKENS_PER_MESSAGE * (len(self.messages) + 1)
        total += sum(_utf8(b.text) + FRAMING_TOKENS_PER_BLOCK for b in self.system_blocks)
        for m in self.messages:
            total += sum(_block_token_bound(b) for b in m.blocks)
        if self.tools:
            total += TOOL_SYSTEM_PROMPT_TOKEN_BOUND
            total += sum(_utf8(_json(t.model_dump(exclude={"cache_control"}))) for t in self.tools)
        return total

    def input_token_bound_for(self, context_window: int | None) -> int:
        """input_token_bound on a model whose context window is `context_window` tokens (None: unknown).

        Bedrock refuses (unbilled) a prompt over the window, so the PDFs together, each bounded by its
        pages, never count for more than the window; one whose pages cannot be counted counts as the
        window. Other content keeps its own bound.
        """
        pdfs = _pdfs(self)
        if not pdfs or context_window is None:
            return self.input_token_bound
        own = [DOCUMENT_PDF_TOKEN_BOUND if p.token_bound is None else p.token_bound for p in pdfs]
        bounded = [
            context_window if p.token_bound is None else min(p.token_bound, context_window) for p in pdfs
        ]
        return self.input_token_bound - sum(own) + min(sum(bounded), context_window)


def _pdfs(request: ClaudeRequest) -> list[Base64PdfSource]:
    return [
        b.source
        for m in request.messages
        for b in m.blocks
        if isinstance(b, DocumentBlock) and isinstance(b.source, Base64PdfSource)
    ]


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _all_blocks(message: Message) -> list[Any]:
    """A message's blocks, with the blocks nested in tool results."""
    out: list[Any] = []
    for b in message.blocks:
        out.append(b)
        if isinstance(b, ToolResultBlock) and isinstance(b.content, list):
            out.extend(b.content)
    return out


def _block_token_bound(block: Any) -> int:
    framing = FRAMING_TOKENS_PER_BLOCK
    if isinstance(block, TextBlock):
        return _utf8(block.text) + framing
    if isinstance(block, ImageBlock):
        return IMAGE_TOKEN_BOUND + framing
    if isinstance(block, DocumentBlock):
        if isinstance(block.source, PlainTextSource):
            return _utf8(block.source.data) + framing
        bound = block.source.token_bound
        return (DOCUMENT_PDF_TOKEN_BOUND if bound is None else bound) + framing
    if isinstance(block, ToolUseBlock):
        return _utf8(block.id) + _utf8(block.name) + _utf8(_json(block.input)) + framing
    if isinstance(block, ToolResultBlock):
        inner = 0
        if isinstance(block.content, str):
            inner = _utf8(block.content)
        elif block.content is not None:
            inner = sum(_block_token_bound(b) for b in block.content)
        return _utf8(block.tool_use_id) + inner + framing
    if isinstance(block, ThinkingBlock):
        return _utf8(block.thinking) + _utf8(block.signature) + framing
    if isinstance(block, RedactedThinkingBlock):
        return _utf8(block.data) + framing
    raise TypeError(f"unknown block {type(block).__name__}")  # pragma: no cover


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part.startswith("<") or part.startswith("function-")):
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
        if loc and msg.startswith("content[") and loc.endswith("]"):
            loc, msg = f"{loc}.{msg.split(':', 1)[0]}", msg.split(": ", 1)[1]
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
    check_json(event)
    try:
        return ClaudeRequest.model_validate(event)
    except ValidationError as exc:
        raise ProxyError(ErrorType.INVALID_REQUEST, _describe(exc)) from None
