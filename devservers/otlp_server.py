"""A local OTLP/HTTP trace collector and Langfuse OTLP ingestion stand-in (stdlib only).

Serves `POST <any path>` on 127.0.0.1 at an ephemeral port, records every request and decodes
OTLP/HTTP protobuf (`ExportTraceServiceRequest`, what OpenTelemetry's OTLPSpanExporter sends) into
`ReceivedSpan`s with a small protobuf wire-format reader, so tests and benchmarks need no protobuf
package. Behaviour is scriptable: an HTTP status, a delay (a slow backend), required headers (an
OTLP vendor's key) or Basic auth plus a fixed path (Langfuse's `/api/public/otel/v1/traces`).

    with OtlpServer(path="/v1/traces", required_headers={"x-api-key": "k"}) as collector:
        ... export to collector.url + "/v1/traces" ...
        assert collector.spans[0].attributes["claude_proxy.cost_usd"] == 0.0012
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devservers._http import LocalHttpServer, StandInHandler

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_RECORDED_REQUESTS = 10_000
MAX_DELAY_S = 30.0
LANGFUSE_TRACES_PATH = "/api/public/otel/v1/traces"


# --- protobuf wire format ---------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> dict[int, list[Any]]:
    """Field number -> raw values (int for varint/fixed, bytes for length-delimited)."""
    out: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value = data[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos : pos + length]
            pos += length
        elif wire == 5:
            value = data[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        out.setdefault(number, []).append(value)
    return out


def _str(raw: bytes) -> str:
    return raw.decode("utf-8")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _any_value(data: bytes) -> Any:
    f = _fields(data)
    if 1 in f:
        return _str(f[1][0])
    if 2 in f:
        return bool(f[2][0])
    if 3 in f:
        return _signed(f[3][0])
    if 4 in f:
        return struct.unpack("<d", f[4][0])[0]
    if 5 in f:
        return [_any_value(v) for v in _fields(f[5][0]).get(1, [])]
    if 6 in f:
        return _attributes(_fields(f[6][0]).get(1, []))
    if 7 in f:
        return bytes(f[7][0])
    return None


def _attributes(raw_kvs: list[bytes]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for raw in raw_kvs:
        kv = _fields(raw)
        key = _str(kv.get(1, [b""])[0])
        attrs[key] = _any_value(kv[2][0]) if 2 in kv else None
    return attrs


def _fixed64(raw: list[bytes]) -> int:
    return struct.unpack("<Q", raw[0])[0] if raw else 0


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector received it."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    events: list[dict[str, Any]]
    resource: dict[str, Any]
    scope: str

    @property
    def duration_ms(self) -> float:
        """End minus start, in milliseconds."""
        return (self.end_ns - self.start_ns) / 1e6


def decode_export_request(body: bytes) -> list[ReceivedSpan]:
    """Spans of an OTLP `ExportTraceServiceRequest` (protobuf)."""
    spans: list[ReceivedSpan] = []
    for raw_rs in _fields(body).get(1, []):
        rs = _fields(raw_rs)
        resource = _attributes(_fields(rs[1][0]).get(1, [])) if 1 in rs else {}
        for raw_ss in rs.get(2, []):
            ss = _fields(raw_ss)
            scope = _str(_fields(ss[1][0]).get(1, [b""])[0]) if 1 in ss else ""
            for raw_span in ss.get(2, []):
                s = _fields(raw_span)
                status = _fields(s[15][0]) if 15 in s else {}
                events = []
                for raw_event in s.get(11, []):
                    e = _fields(raw_event)
                    events.append(
                        {
                            "name": _str(e.get(2, [b""])[0]),
                            "attributes": _attributes(e.get(3, [])),
                        }
                    )
                spans.append(
                    ReceivedSpan(
                        trace_id=bytes(s.get(1, [b""])[0]).hex(),
                        span_id=bytes(s.get(2, [b""])[0]).hex(),
                        parent_span_id=bytes(s.get(4, [b""])[0]).hex(),
                        name=_str(s.get(5, [b""])[0]),
                        start_ns=_fixed64(s.get(7, [])),
                        end_ns=_fixed64(s.get(8, [])),
                        attributes=_attributes(s.get(9, [])),
                        status_code=int(status.get(3, [0])[0]),
                        status_message=_str(status.get(2, [b""])[0]),
                        events=events,
                        resource=resource,
                        scope=scope,
                    )
                )
    return spans


# --- server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """One export request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(repr=False)
    status: int
    spans: list[ReceivedSpan]

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class _Handler(StandInHandler):
    def reply(self, status: int, body: bytes, content_type: str) -> None:
        """Status, headers and body in one write."""
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        self.write_all(head + body)


class OtlpServer(LocalHttpServer):
    """Threaded local OTLP/HTTP collector; a context manager.

    `path`: the only path accepted (404 elsewhere); `basic_auth`: (user, password) required (401
    otherwise); `required_headers`: header values required (401 otherwise). `status` and `delay_s`
    script every answer (a failing or slow backend).
    """

    handler_class = _Handler
    thread_name = "otlp-server"

    def __init__(
        self,
        *,
        path: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        required_headers: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host)
        self.path = path
        self.basic_auth = basic_auth
        self.required_headers = dict(required_headers or {})
        self.status = 200
        self.delay_s = 0.0
        self._requests: deque[ReceivedRequest] = deque(maxlen=MAX_RECORDED_REQUESTS)

    @classmethod
    def langfuse(cls, public_key: str, secret_key: str) -> OtlpServer:
        """Langfuse's OTLP ingestion endpoint: Basic auth with the project's key pair."""
        return cls(path=LANGFUSE_TRACES_PATH, basic_auth=(public_key, secret_key))

    # scripting and inspection ----------------------------------------------------------------
    def reset(self) -> None:
        """Forget requests; answer 200 without delay again."""
        with self._lock:
            self._requests.clear()
            self.status = 200
            self.delay_s = 0.0

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Requests received so far (oldest first)."""
        with self._lock:
            return list(self._requests)

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Spans of every accepted request, in arrival order."""
        return [s for r in self.requests if r.status == 200 for s in r.spans]

    # internals -------------------------------------------------------------------------------
    def _authorized(self, headers: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        if self.basic_auth is not None:
            token = base64.b64encode(f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()).decode()
            if lowered.get("authorization") != f"Basic {token}":
                return False
        return all(lowered.get(k.lower()) == v for k, v in self.required_headers.items())

    def handle(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            h.close_connection = True
            h.reply(413, b'{"message":"too big"}', "application/json")
            return
        body = h.rfile.read(length) if length else b""
        headers = dict(h.headers.items())
        if (headers.get("Content-Encoding") or "").lower() == "gzip":
            body = gzip.decompress(body)
        path = h.path.split("?", 1)[0]
        status = self.status
        spans: list[ReceivedSpan] = []
        if h.command != "POST" or (self.path is not None and path != self.path):
            status = 404
        elif not self._authorized(headers):
            status = 401
        elif status == 200:
            try:
                spans = decode_export_request(body)
            except (ValueError, UnicodeDecodeError, struct.error, IndexError):
                status = 400
        with self._lock:
            self._requests.append(ReceivedRequest(h.command, path, headers, body, status, spans))
            delay = self.delay_s
        if delay > 0 and self._stopping.wait(min(delay, MAX_DELAY_S)):
            h.close_connection = True
            return
        # An empty ExportTraceServiceResponse is an empty protobuf message.
        payload = b"" if status == 200 else json.dumps({"message": f"status {status}"}).encode()
        h.reply(status, payload, "application/x-protobuf" if status == 200 else "application/json")
