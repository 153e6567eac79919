"""Content blocks of a Messages API request (text, image, document, tool use and result, thinking),
validated strictly: each names the offending field and bounds what it decodes."""

from __future__ import annotations

import base64
import binascii
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from claude_proxy.json_limits import bounded_json
from claude_proxy.pdf import page_count

MAX_IMAGE_BYTES = 3_750_000  # Converse, per image (decoded)
MAX_DOCUMENT_BYTES = 4_500_000  # Converse, per document (decoded)
# A PDF page reaches Claude as its extracted text plus an image of the page (Anthropic, "PDF support":
# text "typically 1,500-3,000 tokens per page", the page image priced like any image, at most 4,784
# tokens at the largest native resolution, Claude Opus 4.7 and later; 1,568 for earlier models).
# The text figure is a typical one, not a limit, so it is doubled here; docs/pricing.md.
PDF_PAGE_TEXT_TOKEN_BOUND = 6_000
PDF_PAGE_IMAGE_TOKEN_BOUND = 4_784
PDF_PAGE_TOKEN_BOUND = PDF_PAGE_TEXT_TOKEN_BOUND + PDF_PAGE_IMAGE_TOKEN_BOUND
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_TOOL_USE_ID = r"^[a-zA-Z0-9_-]{1,64}$"  # Converse toolUseId

STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


def _decoded_size(data: str, limit: int, what: str) -> int:
    """Bytes of a base64 string, checked against `limit` before and after decoding."""
    if len(data) * 3 // 4 > limit + 2:
        raise ValueError(f"{what} is over Bedrock's limit of {limit} bytes")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (standard alphabet, padded)") from None
    if not raw:
        raise ValueError("must not be empty")
    if len(raw) > limit:
        raise ValueError(f"{what} is {len(raw)} bytes, over Bedrock's limit of {limit}")
    return len(raw)


def block_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else None
    return f"<{kind}>" if isinstance(kind, str) else None


class CacheControl(BaseModel):
    """`{"type": "ephemeral", "ttl": "5m" | "1h"}`: a cache point after this block."""

    model_config = STRICT

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None

    @property
    def effective_ttl(self) -> str:
        """The TTL Bedrock applies (5 minutes unless 1h is asked for)."""
        return self.ttl or "5m"


class TextBlock(BaseModel):
    """A `{"type": "text", "text": ...}` content block."""

    model_config = STRICT

    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        return not_blank(value)


class Base64ImageSource(BaseModel):
    """Inline image bytes."""

    model_config = STRICT

    type: Literal["base64"]
    media_type: Literal["image/png", "image/jpeg", "image/gif", "image/webp"]
    data: str

    @field_validator("data")
    @classmethod
    def _image_data(cls, value: str) -> str:
        _decoded_size(value, MAX_IMAGE_BYTES, "image")
        return value


class ImageBlock(BaseModel):
    """`{"type": "image", "source": {"type": "base64", "media_type": ..., "data": ...}}`."""

    model_config = STRICT

    type: Literal["image"]
    source: Base64ImageSource
    cache_control: CacheControl | None = None


class Base64PdfSource(BaseModel):
    """Inline PDF bytes."""

    model_config = STRICT

    type: Literal["base64"]
    media_type: Literal["application/pdf"]
    data: str

    @field_validator("data")
    @classmethod
    def _pdf_data(cls, value: str) -> str:
        _decoded_size(value, MAX_DOCUMENT_BYTES, "document")
        if not base64.b64decode(value)[:5] == b"%PDF-":
            raise ValueError("is not a PDF (no %PDF- header)")
        return value

    @cached_property
    def pages(self) -> int | None:
        """The PDF's page count, conservatively (claude_proxy.pdf), or None if it cannot be counted."""
        return page_count(base64.b64decode(self.data))

    @property
    def token_bound(self) -> int | None:
        """Input tokens this PDF can cost at most (pages x PDF_PAGE_TOKEN_BOUND), or None if unknown."""
        return None if self.pages is None else self.pages * PDF_PAGE_TOKEN_BOUND


class PlainTextSource(BaseModel):
    """A plain-text document."""

    model_config = STRICT

    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: str

    @field_validator("data")
    @classmethod
    def _text_data(cls, value: str) -> str:
        not_blank(value)
        size = len(value.encode("utf-8"))
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(f"document is {size} bytes, over Bedrock's limit of {MAX_DOCUMENT_BYTES}")
        return value


class DocumentBlock(BaseModel):
    """`{"type": "document", "source": <base64 PDF | plain text>}`."""

    model_config = STRICT

    type: Literal["document"]
    source: Annotated[
        Annotated[Base64PdfSource, Tag("<base64>")] | Annotated[PlainTextSource, Tag("<text>")],
        Discriminator(block_kind),
    ]
    cache_control: CacheControl | None = None

    @property
    def data_bytes(self) -> int:
        """Decoded size of the document."""
        if isinstance(self.source, PlainTextSource):
            return len(self.source.data.encode("utf-8"))
        return len(base64.b64decode(self.source.data))


class ToolUseBlock(BaseModel):
    """An assistant's tool call, sent back unchanged in the next turn."""

    model_config = STRICT

    type: Literal["tool_use"]
    id: str = Field(pattern=_TOOL_USE_ID)
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    input: dict[str, Any]

    @field_validator("input")
    @classmethod
    def _input_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        return bounded_json(value)


ToolResultContent = Annotated[
    Annotated[TextBlock, Tag("<text>")] | Annotated[ImageBlock, Tag("<image>")],
    Discriminator(block_kind),
]


def _result_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "<string>"
    if isinstance(value, list):
        return "<blocks>"
    return None


class ToolResultBlock(BaseModel):
    """The caller's answer to a tool call: text or text/image blocks; `is_error` marks a failure."""

    model_config = STRICT

    type: Literal["tool_result"]
    tool_use_id: str = Field(pattern=_TOOL_USE_ID)
    content: (
        Annotated[
            Annotated[str, Tag("<string>")]
            | Annotated[list[ToolResultContent], Field(min_length=1), Tag("<blocks>")],
            Discriminator(
                _result_kind,
                custom_error_type="content_type",
                custom_error_message="must be a string or a list of text/image blocks",
            ),
        ]
        | None
    ) = None
    is_error: bool = False
    cache_control: CacheControl | None = None


class ThinkingBlock(BaseModel):
    """Extended thinking from an earlier answer, with the signature Bedrock checks."""

    model_config = STRICT

    type: Literal["thinking"]
    thinking: str
    signature: str = Field(min_length=1)


class RedactedThinkingBlock(BaseModel):
    """Encrypted thinking from an earlier answer."""

    model_config = STRICT

    type: Literal["redacted_thinking"]
    data: str = Field(min_length=1)


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("<text>")]
    | Annotated[ImageBlock, Tag("<image>")]
    | Annotated[DocumentBlock, Tag("<document>")]
    | Annotated[ToolUseBlock, Tag("<tool_use>")]
    | Annotated[ToolResultBlock, Tag("<tool_result>")]
    | Annotated[ThinkingBlock, Tag("<thinking>")]
    | Annotated[RedactedThinkingBlock, Tag("<redacted_thinking>")],
    Discriminator(
        block_kind,
        custom_error_type="block_type",
        custom_error_message=(
            "type must be one of text, image, document, tool_use, tool_result, thinking, redacted_thinking"
        ),
    ),
]
