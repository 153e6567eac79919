"""Per-key caps and per-minute rate limits under concurrency, through the HTTPS app (uvicorn, the real
key store and authenticator) and the real handler in separate processes, against moto's DynamoDB
(LocalAwsServer) and the local Bedrock server: no cap or limit is passed, refused calls never reach
Bedrock, and no hold is left."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
import spend_race_worker
from claude_proxy.auth import KeyAuthenticator
from claude_proxy.web.runtime import gateway_from_environment
from proxy_testkit import REGION, model_entry, project_settings
from web_testkit import serve_app

from claude_platform.api_keys import ApiKeyStore, KeyLimits
from claude_platform.catalog import Geography
from claude_platform.ledger import LedgerTable, key_month_sk, period_of, to_micro
from claude_platform.prices import ModelPrices, worst_case_cost_usd
from devservers.aws_server import create_ledger_table
from devservers.bedrock_server import Reply, Usage

MODEL = "claude-haiku-4-5"
MAX_TOKENS = 50
BODY = {"model": MODEL, "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": "hello"}]}


def _input_bound() -> int:
    from claude_proxy.request import parse_request

    return parse_request({"messages": BODY["messages"], "max_tokens": MAX_TOKENS}).input_token_bound


class Project:
    """A ledger table with the project's keys, PROJECT_SETTINGS pointing at it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.table_name = f"limits-{uuid.uuid4().hex[:8]}"
        self.client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(self.client, self.table_name)
        self.ledger = LedgerTable(self.client, self.table_name)
        self.keys = ApiKeyStore(self.client, self.table_name)
        self.model = model_entry(MODEL, Geography.US)
        self._monkeypatch = monkeypatch

    def settings(self, cap_usd: float = 5.0, **spend: Any) -> dict[str, Any]:
        doc = project_settings(
            [self.model],
            spend={"enforcement": "hard", "cap_usd": cap_usd, "ledger_table": self.table_name, **spend},
            gateway={"keys_table": self.table_name},
        )
        self._monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))
        return doc

    @property
    def worst_usd(self) -> float:
        prices = ModelPrices.from_dict(self.model["prices"])
        return worst_case_cost_usd(prices, input_tokens=_input_bound(), max_output_tokens=MAX_TOKENS)

    def period(self) -> str:
        return period_of(datetime.now(UTC))

    def settled(self, timeout_s: float = 10.0):
        """The month once nothing is held (a worker thread may settle just after its answer)."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.ledger.month("alpha", self.period(), with_holds=True)
            if state.reserved_micro == 0 or time.monotonic() > deadline:
                return state
            time.sleep(0.05)


@pytest.fixture
def project(local_aws, server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    return Project(monkeypatch)


def _app(project: Project):
    authenticator = KeyAuthenticator(project="alpha", keys=project.keys, ttl_s=0.0)
    return serve_app(gateway_from_environment(authenticator))


def _race(url: str, key: str, threads: int, calls: int, body: dict[str, Any] = BODY) -> list[httpx.Response]:
    out: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def run() -> None:
        with httpx.Client(timeout=60) as http:
            start.wait()
            for _ in range(calls):
                response = http.post(f"{url}/v1/messages", json=body, headers={"x-api-key": key})
                with lock:
                    out.append(response)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return out


def _reached(server, key_name: str) -> int:
    return sum(r.body.get("requestMetadata", {}).get("api_key") == key_name for r in server.requests)


def test_threads_at_the_edge_of_a_small_key_cap_never_pass_it(project, server):
    project.settings(cap_usd=5.0)
    cap_usd = project.worst_usd * 3.5  # room for three worst cases at a time, more as they settle low
    alice, _ = project.keys.create(
        "alpha", "alice", now=datetime.now(UTC), limits=KeyLimits(to_micro(cap_usd))
    )
    bob, _ = project.keys.create("alpha", "bob", now=datetime.now(UTC))
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    with _app(project) as url:
        responses = _race(url, alice, threads=6, calls=6)
        kinds = Counter(r.status_code for r in responses)
        refusal = next(r.json() for r in responses if r.status_code == 402)
        again = httpx.post(f"{url}/v1/messages", json=BODY, headers={"x-api-key": bob}, timeout=30)
    # 529: the ledger did not answer in time on a loaded machine (budget_unavailable), nothing sent
    assert kinds[402] >= 1 and kinds[200] >= 3 and set(kinds) <= {200, 402, 529}
    message = refusal["error"]["message"]
    assert refusal["error"]["type"] == "billing_error" and "API key 'alice'" in message
    assert "monthly cap" in message and "reserved" in message and "resets at" in message
    assert again.status_code == 200  # another key of the project is not stopped by alice's cap

    state = project.settled()
    key = project.ledger.key_months("alpha", project.period())
    assert 0 < key["alice"].spent_micro <= to_micro(cap_usd)
    assert key["alice"].reserved_micro == 0 and key["alice"].requests == kinds[200]
    assert key["bob"].requests == 1
    assert state.open_reservations == () and state.reserved_micro == 0
    assert state.spent_micro == key["alice"].spent_micro + key["bob"].spent_micro
    assert _reached(server, "alice") == kinds[200]  # refused calls never reached Bedrock


def test_threads_at_a_project_requests_per_minute_limit(project, server):
    project.settings(requests_per_minute=5)
    alice, _ = project.keys.create("alpha", "alice", now=datetime.now(UTC))
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    with _app(project) as url:
        started = time.time()
        responses = _race(url, alice, threads=6, calls=3)
        took = time.time() - started
    assert took < 55  # all inside one minute: at most the limit may pass
    kinds = Counter(r.status_code for r in responses)
    # exactly the limit, unless the ledger did not answer in time on a loaded machine (529: its slot
    # may have been taken by a write whose answer was lost; a taken slot is never given back)
    assert set(kinds) <= {200, 429, 529} and kinds[200] <= 5 and kinds[200] + kinds[529] >= 5
    assert kinds[429] == 18 - kinds[200] - kinds[529]
    throttled = next(r for r in responses if r.status_code == 429)
    body = throttled.json()
    assert body["error"]["type"] == "rate_limit_error" and body["error"]["platform_error_type"] == "throttled"
    assert "requests_per_minute limit of 5" in body["error"]["message"]
    wait = int(throttled.headers["retry-after"])
    assert 1 <= wait <= 65 and body["error"]["retryable"] is True
    assert f"Retry in {wait} s" in body["error"]["message"]  # the ledger's wait, not a fixed default
    assert throttled.headers["x-should-retry"] == "true"
    assert _reached(server, "alice") == kinds[200]
    assert project.settled().open_reservations == ()


def test_tokens_per_minute_reserves_the_bound_and_gives_back_the_rest(project, server):
    bound = _input_bound() + MAX_TOKENS
    used = 10 + 20
    tpm = 2 * bound + bound // 2  # two bounds fit at once; settled calls leave room for more
    project.settings(tokens_per_minute=tpm)
    alice, _ = project.keys.create("alpha", "alice", now=datetime.now(UTC))
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    with _app(project) as url:
        responses = _race(url, alice, threads=4, calls=8)
    kinds = Counter(r.status_code for r in responses)
    admitted = kinds[200]
    # Never more than the limit: settled calls count their actual tokens, calls in flight their bound.
    assert admitted * used <= tpm
    assert admitted > 2  # more than the bounds alone would allow: the unused part went back
    assert kinds[429] == 32 - admitted - kinds[529] and set(kinds) <= {200, 429, 529}
    assert _reached(server, "alice") == admitted
    assert project.settled().open_reservations == ()


def test_a_key_rate_limit_applies_to_that_key_only(project, server):
    project.settings()
    alice, _ = project.keys.create(
        "alpha", "alice", now=datetime.now(UTC), limits=KeyLimits(requests_per_minute=2)
    )
    bob, _ = project.keys.create("alpha", "bob", now=datetime.now(UTC))
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    with _app(project) as url:
        alice_codes = Counter(r.status_code for r in _race(url, alice, threads=3, calls=2))
        bob_codes = Counter(r.status_code for r in _race(url, bob, threads=2, calls=2))
    assert alice_codes[200] <= 2 and alice_codes[200] + alice_codes[529] >= 2
    assert alice_codes[429] == 6 - alice_codes[200] - alice_codes[529]
    assert bob_codes[200] + bob_codes[529] == 4 and bob_codes[200] >= 1


def test_a_key_revoked_while_its_call_is_in_flight_still_settles(project, server):
    project.settings()
    alice, _ = project.keys.create("alpha", "alice", now=datetime.now(UTC), limits=KeyLimits(to_micro(1.0)))
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    server.enqueue(Reply.slow(1.5))
    with _app(project) as url:
        result: dict[str, httpx.Response] = {}
        call = threading.Thread(
            target=lambda: result.setdefault(
                "r", httpx.post(f"{url}/v1/messages", json=BODY, headers={"x-api-key": alice}, timeout=30)
            )
        )
        call.start()
        time.sleep(0.7)
        project.keys.revoke("alpha", "alice", now=datetime.now(UTC))
        call.join()
        after = httpx.post(f"{url}/v1/messages", json=BODY, headers={"x-api-key": alice}, timeout=30)
    assert result["r"].status_code == 200 and after.status_code == 401
    key = project.ledger.counter("alpha", project.period(), key_month_sk(project.period(), "alice"))
    assert key.requests == 1 and key.reserved_micro == 0 and key.spent_micro > 0
    assert project.settled().open_reservations == ()


def test_processes_through_the_handler_share_the_project_limit(project, server, local_aws):
    settings = project.settings(requests_per_minute=7)
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    env = {
        key: value for key, value in os.environ.items() if key.startswith(("AWS_", "POWERTOOLS_", "LITELLM_"))
    }
    env |= {
        "PROJECT_SETTINGS": json.dumps(settings),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
        **local_aws.endpoint_env(),
    }
    context = multiprocessing.get_context("spawn")
    started = time.time()
    with context.Pool(3) as pool:
        jobs = [pool.apply_async(spend_race_worker.run, (env, f"p{i}", 3, 4, 8_000)) for i in range(3)]
        outcomes = [o for job in jobs for o in job.get(timeout=240)]
    assert time.time() - started < 120
    kinds = Counter(o["error"] or "ok" for o in outcomes)
    calls_sent = {r.body.get("requestMetadata", {}).get("call") for r in server.requests}
    admitted = {o["id"] for o in outcomes if o["ok"]}
    throttled = [o for o in outcomes if o["error"] == "throttled"]
    assert len(outcomes) == 36 and 1 <= len(admitted) <= 7
    assert kinds["ok"] + kinds["throttled"] + kinds["budget_unavailable"] == 36
    assert all(o["retryable"] and o["retry_after_s"] >= 1 for o in throttled)
    assert "project 'alpha' is at its requests_per_minute limit of 7" in throttled[0]["message"]
    assert calls_sent == admitted  # refused calls never reached Bedrock
    assert project.settled().open_reservations == ()


def test_streams_and_the_openai_route_are_refused_with_429_before_bedrock(project, server):
    project.settings()
    alice, _ = project.keys.create(
        "alpha", "alice", now=datetime.now(UTC), limits=KeyLimits(requests_per_minute=1)
    )
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    headers = {"x-api-key": alice}
    with _app(project) as url:
        first = httpx.post(f"{url}/v1/messages", json=BODY | {"stream": True}, headers=headers, timeout=30)
        stream = httpx.post(f"{url}/v1/messages", json=BODY | {"stream": True}, headers=headers, timeout=30)
        openai = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": MODEL, "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {alice}"},
            timeout=30,
        )
    assert first.status_code == 200
    assert stream.status_code == 429 and stream.json()["error"]["type"] == "rate_limit_error"
    assert int(stream.headers["retry-after"]) >= 1
    assert openai.status_code == 429 and int(openai.headers["retry-after"]) >= 1
    assert "requests_per_minute limit of 1" in openai.json()["error"]["message"]
    assert _reached(server, "alice") == 1
    assert project.settled().open_reservations == ()
