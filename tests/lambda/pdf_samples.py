"""Small PDFs built by hand for the page-count tests: classic xref tables and PDF 1.5 object streams."""

from __future__ import annotations

import zlib


def _assemble(bodies: list[bytes], *, trailer_extra: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        trailer_extra,
        xref,
    )
    return bytes(out)


def classic_pdf(pages: int, *, count: int | None = None, page_type: bytes = b"/Page") -> bytes:
    """A PDF with `pages` page objects in the file body; the page tree says `count` (default: pages)."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages if count is None else count),
    ]
    bodies += [b"<< /Type %s /Parent 2 0 R /MediaBox [0 0 612 792] >>" % page_type] * pages
    return _assemble(bodies)


def object_stream_pdf(
    pages: int,
    *,
    filter_name: bytes = b"/FlateDecode",
    inflated: bytes | None = None,
    truncate: bool = False,
    type_name: bytes = b"/ObjStm",
) -> bytes:
    """A PDF 1.5 file whose page tree and pages live only in one compressed object stream."""
    objects = [
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + i) for i in range(pages)), pages)
    ]
    objects += [b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] >>"] * pages
    header, body, offset = [], b"", 0
    for i, obj in enumerate(objects):
        header.append(b"%d %d" % (3 + i, offset))
        body += obj + b"\n"
        offset += len(obj) + 1
    first = b" ".join(header) + b"\n"
    raw = inflated if inflated is not None else first + body
    data = zlib.compress(raw)
    data = data[: len(data) // 2] if truncate else data
    stream = b"<< /Type %s /N %d /First %d /Filter %s /Length %d >>\nstream\n%s\nendstream" % (
        type_name,
        len(objects),
        len(first),
        filter_name,
        len(data),
        data,
    )
    return _assemble([b"<< /Type /Catalog /Pages 3 0 R >>", stream])


def encrypted_pdf() -> bytes:
    """A one-page PDF whose trailer names an encryption dictionary."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R >>",
        b"<< /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4 >>",
    ]
    return _assemble(bodies, trailer_extra=b"/Encrypt 4 0 R ")
