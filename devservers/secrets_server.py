"""A local Secrets Manager stand-in for GetSecretValue (stdlib only), for processes moto cannot reach.

boto3 talks to it with `AWS_ENDPOINT_URL_SECRETS_MANAGER=<url>`: the AWS JSON 1.1 protocol,
`X-Amz-Target: secretsmanager.GetSecretValue`. Serves 127.0.0.1 at an ephemeral port; counts reads.

    with SecretsServer({"arn:aws:secretsmanager:...:secret:x-AbC123": "sk-..."}) as secrets:
        env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = secrets.url
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY_BYTES = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
        body = json.loads(self.rfile.read(length) or b"{}")
        owner = self.server.owner
        target = self.headers.get("X-Amz-Target", "")
        secret_id = str(body.get("SecretId", ""))
        if target != "secretsmanager.GetSecretValue":
            status, reply = 400, {"__type": "InvalidRequestException", "message": f"unsupported {target}"}
        elif secret_id not in owner.secrets:
            status, reply = 400, {"__type": "ResourceNotFoundException", "message": "secret not found"}
        else:
            with owner.lock:
                owner.reads[secret_id] += 1
            status = 200
            reply = {
                "ARN": secret_id,
                "Name": secret_id.rsplit(":", maxsplit=1)[-1],
                "SecretString": owner.secrets[secret_id],
            }
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: SecretsServer


class SecretsServer:
    """Threaded GetSecretValue server; a context manager. `reads` counts reads per secret ARN."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = dict(secrets)
        self.reads: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SecretsServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="secrets-server", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """Base URL."""
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"
