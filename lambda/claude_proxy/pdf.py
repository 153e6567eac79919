"""A PDF's page count, standard library only, for bounding what a document can cost.

Claude sees each PDF page as its extracted text plus an image of the page, so a page count bounds
a document's input tokens (docs/pricing.md, "PDF documents"). The count is conservative: it is the
larger of the page objects found (`/Type /Page`, also inside compressed object streams) and the
largest `/Count` of the page tree, so deleted or unused pages only make it larger. When the pages
cannot be counted (encrypted, an object stream that cannot be decompressed, no page found) the
answer is None and the caller falls back to the model's context window.
"""

from __future__ import annotations

import re
import zlib

MAX_INFLATED_BYTES = 64 * 1024 * 1024  # decompressed object streams, all together (zip bombs)

_WS = rb"(?:[\x00\t\n\f\r ]|%[^\r\n]*[\r\n])*"  # PDF white space and comments
_PAGE = re.compile(rb"/Type" + _WS + rb"/Page(?![A-Za-z0-9_.#+-])")
_COUNT = re.compile(rb"/Count" + _WS + rb"(\d{1,9})(?![\d.])")
_PAGES = re.compile(rb"/Type" + _WS + rb"/Pages(?![A-Za-z0-9_.#+-])")
_OBJSTM = re.compile(rb"/Type" + _WS + rb"/ObjStm(?![A-Za-z0-9_.#+-])")
_STREAM = re.compile(rb"stream\r?\n")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_ENCRYPT = re.compile(rb"/Encrypt" + _WS + rb"(?:\d|<<)")


def _unescape_names(data: bytes) -> bytes:
    """`/P#61ge` is `/Page`: decode name escapes (elsewhere they only add matches, never hide one)."""
    if b"#" not in data:
        return data
    return _NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), data)


def _object_streams(data: bytes) -> list[bytes] | None:
    """The decompressed object streams (PDF 1.5+ keeps page objects there), or None if one can't be read.

    Only a single FlateDecode filter without a predictor is read; the stream must end (zlib's end
    of stream) within the file, so a truncated or padded stream cannot hide pages.
    """
    out: list[bytes] = []
    budget = MAX_INFLATED_BYTES
    view = memoryview(data)
    for match in _OBJSTM.finditer(data):
        start = data.rfind(b"obj", 0, match.start())
        stream = _STREAM.search(data, match.end())
        if start < 0 or stream is None:
            return None
        header = data[start : stream.start()]
        if b"/FlateDecode" not in header or b"/Predictor" in header or header.count(b"/Filter") != 1:
            return None
        if re.search(rb"/Filter" + _WS + rb"\[[^\]]*/[A-Za-z]+[^\]]*/[A-Za-z]", header):
            return None  # a filter chain
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(view[stream.end() :], budget + 1)
        except zlib.error:
            return None
        budget -= len(inflated)
        if budget < 0 or not inflater.eof:
            return None
        out.append(inflated)
    return out


def page_count(data: bytes) -> int | None:
    """Pages in the PDF `data`, counted conservatively (never fewer than it has), or None if unknown."""
    names = _unescape_names(data)
    if _ENCRYPT.search(names):
        return None
    if len(_OBJSTM.findall(names)) != len(_OBJSTM.findall(data)):
        return None  # an object stream named with escapes: not read, so its pages could hide
    streams = _object_streams(data)
    if streams is None:
        return None
    pages = 0
    tree_count = 0
    has_tree = False
    for part in (names, *(_unescape_names(s) for s in streams)):
        pages += len(_PAGE.findall(part))
        has_tree = has_tree or _PAGES.search(part) is not None
        tree_count = max([tree_count, *(int(n) for n in _COUNT.findall(part))])
    if pages == 0 and not (has_tree and tree_count > 0):
        return None
    return max(pages, tree_count)
