"""What every local HTTP stand-in shares: a threaded server on 127.0.0.1, one write per response
(TCP_NODELAY, so the server adds no delay of its own), tracked connections and a clean stop."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class StandInHandler(BaseHTTPRequestHandler):
    """Hands every GET and POST to the owning stand-in's `handle(handler)`; logs nothing."""

    protocol_version = "HTTP/1.1"
    server: OwnedServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the stand-in's recorded requests instead."""

    def do_POST(self) -> None:
        self.server.owner.handle(self)

    def do_GET(self) -> None:
        self.server.owner.handle(self)

    def write_all(self, data: bytes) -> bool:
        """Send a whole response in one write; a client that gave up (a timeout test) is fine.

        Returns whether the write went out.
        """
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True


class OwnedServer(ThreadingHTTPServer):
    """The socket server, pointing back at its stand-in."""

    daemon_threads = True
    allow_reuse_address = False
    owner: LocalHttpServer


class LocalHttpServer:
    """Lifecycle of a stand-in: bind an ephemeral port, serve in a thread, stop cleanly."""

    handler_class: type[StandInHandler] = StandInHandler
    thread_name = "local-http"

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: OwnedServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, handler: StandInHandler) -> None:
        """Answer one request (the stand-in's own behaviour)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind an ephemeral port and serve in a background thread."""
        if self._httpd is not None:
            return self
        httpd = OwnedServer((self._host, 0), self.handler_class)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and wait for the server thread."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (use as endpoint override)."""
        return f"http://{self._host}:{self.port}"

    @property
    def open_connections(self) -> list[socket.socket]:
        """Server-side sockets of connections currently open."""
        with self._lock:
            return list(self._sockets)

    def track(self, sock: socket.socket) -> None:
        """A connection opened."""
        with self._lock:
            self._sockets.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        """A connection closed."""
        with self._lock:
            self._sockets.discard(sock)
