"""Priming at init (no network, nothing cached) and the SnapStart hooks."""

from __future__ import annotations

import random
import socket

import pytest
from claude_proxy import snapstart
from claude_proxy.llm import LiteLLMClient
from litellm.llms.bedrock.base_aws_llm import BaseAWSLLM
from proxy_testkit import model_entry

from claude_platform.function_settings import ModelSettings


@pytest.fixture(scope="module")
def llm() -> LiteLLMClient:
    return LiteLLMClient()


def test_priming_runs_the_whole_call_path_without_the_network(llm, server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)

    def no_network(*args, **kwargs):
        raise AssertionError("priming opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = ModelSettings.model_validate(model_entry("claude-haiku-4-5"))
    seconds = snapstart.prime(llm, model)
    assert seconds > 0
    assert server.requests == []


def test_priming_leaves_no_credentials_or_connections_behind(llm):
    snapstart.prime(llm)
    assert BaseAWSLLM._shared_iam_cache.in_memory_cache.cache_dict == {}
    assert llm.http.client.is_closed is False  # healed on access: a fresh pool, not the primed one


def test_primed_result_is_parsed_like_a_real_answer(llm, monkeypatch):
    seen = {}
    original = llm.complete_offline

    def spy(call, canned):
        seen["call"] = call
        seen["result"] = original(call, canned)
        return seen["result"]

    monkeypatch.setattr(llm, "complete_offline", spy)
    snapstart.prime(llm)
    result = seen["result"]
    assert result.stop_reason == "end_turn"
    assert [b["type"] for b in result.content_blocks] == ["thinking", "text"]
    assert seen["call"].tools and seen["call"].thinking == {"type": "enabled", "budget_tokens": 1024}


def test_hooks_drop_credentials_close_connections_and_reseed(llm):
    registered = {}
    resets = []
    assert snapstart.register_hooks(
        llm,
        (
            lambda fn, *a: registered.__setitem__("before", (fn, a)),
            lambda fn, *a: registered.__setitem__("after", (fn, a)),
        ),
        resets=(lambda: resets.append(1),),
    )
    pool = llm.http.client
    BaseAWSLLM._shared_iam_cache.in_memory_cache.set_cache("creds", "stale")
    fn, args = registered["before"]
    fn(*args)
    assert pool.is_closed
    assert BaseAWSLLM._shared_iam_cache.in_memory_cache.get_cache("creds") is None

    random.seed(42)
    snapshot_state = random.getstate()
    BaseAWSLLM._shared_iam_cache.in_memory_cache.set_cache("creds", "stale")
    pool = llm.http.client
    fn, args = registered["after"]
    fn(*args)
    assert random.getstate() != snapshot_state
    assert pool.is_closed
    assert BaseAWSLLM._shared_iam_cache.in_memory_cache.get_cache("creds") is None
    assert resets == [1, 1]  # e.g. the spend ledger's cached boto3 clients, dropped by both hooks


def test_handler_drops_the_ledger_clients_in_its_hooks(monkeypatch):
    import claude_proxy.handler as handler

    calls = []
    monkeypatch.setattr(
        snapstart, "register_hooks", lambda llm, register=None, resets=(): calls.append(resets)
    )
    monkeypatch.setenv(snapstart.PRIME_ENV, "0")
    handler._init_snapstart()
    assert calls == [(handler.ledger_for.cache_clear,)]


def test_without_the_runtime_hooks_module_nothing_is_registered(llm):
    assert snapstart.register_hooks(llm) is False  # snapshot_restore_py exists only in Lambda


@pytest.mark.parametrize(
    ("environ", "primes"),
    [
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}, True),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"}, True),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}, False),
        ({}, False),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", "CLAUDE_PROXY_PRIME": "0"}, False),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "CLAUDE_PROXY_PRIME": "1"}, True),
    ],
)
def test_priming_by_default_only_where_init_runs_ahead_of_traffic(environ, primes):
    assert snapstart.should_prime(environ) is primes


def test_init_honours_the_switch(llm, monkeypatch):
    monkeypatch.setenv(snapstart.PRIME_ENV, "0")
    assert snapstart.init(llm) == {"primed_s": None, "hooks": False}
    monkeypatch.setenv(snapstart.PRIME_ENV, "1")
    assert snapstart.init(llm)["primed_s"] > 0


def test_priming_reaches_no_tracing_callback_now_or_later(llm, monkeypatch):
    """A traced project registers LiteLLM callbacks and a deferring logging pool: priming must bypass both."""
    import litellm
    from litellm import utils as litellm_utils
    from litellm.integrations.custom_logger import CustomLogger

    class Recorder(CustomLogger):
        def __init__(self):
            super().__init__()
            self.calls = []

        def log_pre_api_call(self, *args, **kwargs):
            self.calls.append("pre")

        def log_success_event(self, *args, **kwargs):
            self.calls.append("success")

    class DeferringExecutor:
        def __init__(self):
            self.tasks = []

        def submit(self, fn, *args, **kwargs):
            self.tasks.append(fn)

    recorder, executor = Recorder(), DeferringExecutor()
    monkeypatch.setattr(litellm, "callbacks", [recorder])
    monkeypatch.setattr(litellm, "success_callback", [recorder])
    monkeypatch.setattr(litellm_utils, "executor", executor)
    snapstart.prime(llm)
    assert recorder.calls == [] and executor.tasks == []
    assert litellm.callbacks == [recorder] and litellm.success_callback == [recorder]
    assert litellm_utils.executor is executor
