"""A local AWS endpoint (moto) for DynamoDB and SNS that several processes can share.

Requests are applied one at a time (a lock around moto's WSGI app) while connections are served
concurrently, which gives the guarantee real DynamoDB gives per item: a conditional write is
checked and applied atomically. Point a process at it with AWS_ENDPOINT_URL_DYNAMODB /
AWS_ENDPOINT_URL_SNS (boto3's own endpoint resolution). Binds 127.0.0.1 on an ephemeral port.

    with LocalAwsServer() as aws:
        env = aws.endpoint_env()  # {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:PORT", ...}
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

DEFAULT_ACCOUNT = "123456789012"  # moto's account for requests with test credentials


class _Serialized:
    """WSGI middleware: one request inside moto at a time; the response is fully read under the lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            self.requests += 1
            return list(self._app(environ, start_response))


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """No access log on stderr."""


class LocalAwsServer:
    """moto's DynamoDB/SNS (and any other moto service) over HTTP on 127.0.0.1."""

    def __init__(self) -> None:
        self._app = _Serialized(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalAwsServer:
        """Bind and serve in a daemon thread."""
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalAwsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def requests(self) -> int:
        """Requests served so far (all services)."""
        return self._app.requests

    def endpoint_env(self) -> dict[str, str]:
        """Environment variables that send boto3's DynamoDB and SNS clients here."""
        return {"AWS_ENDPOINT_URL_DYNAMODB": self.url, "AWS_ENDPOINT_URL_SNS": self.url}


def sns_messages(topic_arn: str, *, region: str, account: str = DEFAULT_ACCOUNT) -> list[tuple[str, str]]:
    """(subject, message) of everything published to `topic_arn` on this process's moto backend."""
    from moto.sns.models import sns_backends

    topic = sns_backends[account][region].topics[topic_arn]
    return [(subject or "", message) for _id, message, subject, *_ in topic.sent_notifications]


def create_ledger_table(client: Any, table_name: str) -> None:
    """The ledger table as the platform stack defines it (pk/sk strings, on demand)."""
    client.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@contextlib.contextmanager
def aws_server_process(cwd: str | None = None) -> Iterator[str]:
    """This server in a process of its own (no GIL shared with the callers); yields its URL and stops
    it on exit (killed if kept-alive connections of many callers hold it open)."""
    import subprocess
    import sys

    aws = subprocess.Popen(
        [sys.executable, "-m", "devservers.aws_server"],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield aws.stdout.readline().strip() if aws.stdout else ""
    finally:
        if aws.stdin:
            aws.stdin.close()
        try:
            aws.wait(timeout=10)
        except subprocess.TimeoutExpired:
            aws.kill()
            aws.wait(timeout=10)


def main() -> None:
    """Serve in the foreground (its own process: no GIL shared with the callers); prints the URL."""
    import sys
    import time

    with LocalAwsServer() as server:
        print(server.url, flush=True)
        try:
            while sys.stdin.read(1):  # runs until stdin closes
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
