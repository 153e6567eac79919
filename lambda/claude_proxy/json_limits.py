"""Bounds on the raw request JSON: nesting depth, text that is valid Unicode, size of free-form JSON.

Free-form JSON (tool input_schema, tool_use input) is copied recursively on its way to Bedrock
(LiteLLM deep-copies the request; Python's recursion limit breaks near 300 levels, before anything
is sent): the whole event is bounded in nesting depth, and each free-form value in its JSON size.
A lone surrogate (JSON's `\\ud800`) is valid JSON but cannot be encoded to be sent.
"""

from __future__ import annotations

import json
from typing import Any

from claude_proxy.errors import ErrorType, ProxyError

MAX_JSON_DEPTH = 64
MAX_FREE_JSON_BYTES = 1_000_000


def bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """A free-form JSON object no larger than MAX_FREE_JSON_BYTES (UTF-8, compact)."""
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_FREE_JSON_BYTES:
        raise ValueError(f"is {size} bytes of JSON, over the limit of {MAX_FREE_JSON_BYTES}")
    return value


def _valid_unicode(text: str) -> bool:
    """Whether `text` encodes as UTF-8 (JSON's `\\ud800` decodes to a lone surrogate, which does not)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_path(path: tuple[int | str, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part[:40].encode("utf-8", "backslashreplace").decode("utf-8")
            out += f".{name}" if out else name
    return out or "event"


def check_json(event: Any) -> None:
    """Refuse, naming the field, JSON nested deeper than MAX_JSON_DEPTH and text that is not valid
    Unicode (a lone surrogate is valid JSON but cannot be sent). Iterative: no recursion limit."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(event, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not _valid_unicode(value):
                raise ProxyError(
                    ErrorType.INVALID_REQUEST,
                    f"{_json_path(path)}: text is not valid Unicode (a lone surrogate such as \\ud800)",
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if len(path) >= MAX_JSON_DEPTH:
            raise ProxyError(
                ErrorType.INVALID_REQUEST,
                f"{_json_path(path)}: JSON nested deeper than {MAX_JSON_DEPTH} levels",
            )
        if isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
            continue
        for key, item in value.items():
            if isinstance(key, str) and not _valid_unicode(key):
                raise ProxyError(
                    ErrorType.INVALID_REQUEST,
                    f"{_json_path(path)}: a key is not valid Unicode (a lone surrogate such as \\ud800)",
                )
            stack.append((item, (*path, key)))
