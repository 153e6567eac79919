"""Per-call traces through the real handler, real LiteLLM and its real OTel/Langfuse callbacks, to local
OTLP/HTTP and Langfuse ingestion stand-ins; secrets from Secrets Manager (moto)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import litellm
import pytest
from claude_proxy import handler, tracing
from claude_proxy.handler import lambda_handler
from litellm import utils as litellm_utils
from moto import mock_aws
from proxy_testkit import REGION, FakeContext, model_entry, profile_arn, project_settings, stdout_json_lines

from claude_platform import catalog
from claude_platform.catalog import Geography
from claude_platform.prices import ModelPrices, RateCard, TokenUsage, cost_usd
from devservers.bedrock_server import Reply, Usage
from devservers.otlp_server import LANGFUSE_TRACES_PATH, OtlpServer

SENTINEL = "SENTINEL-9f3a-prompt-text"
SYSTEM_SENTINEL = "SYSTEM-SENTINEL-2b7c"
PUBLIC_KEY = "pk-lf-test-0001"
SECRET_KEY = "sk-lf-test-secret-0001"
# Prices LiteLLM's map does not have: the trace must carry ours, not LiteLLM's lookup.
PRICES = ModelPrices(
    standard=RateCard(input=7.0, output=11.0, cache_write=13.0, cache_read=0.5),
    source="config:test",
)
USAGE = Usage(input_tokens=100, output_tokens=40, cache_read_input_tokens=1000, cache_write_input_tokens=10)
OUR_COST = cost_usd(PRICES, TokenUsage(100, 40, 1000, 10))


def event(**extra: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": f"hello {SENTINEL}"}],
        "system": SYSTEM_SENTINEL,
        "tags": {"feature": "summaries", "user": "u-42"},
        **extra,
    }


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test is a new container for tracing: no cached tracer; LiteLLM's globals restored after."""
    monkeypatch.setattr(handler, "_TRACING", {})
    saved = {name: list(getattr(litellm, name)) for name in tracing.CALLBACK_LISTS}
    saved_globals = (litellm.turn_off_message_logging, litellm_utils.executor)
    yield
    for name, value in saved.items():
        setattr(litellm, name, value)
    litellm.turn_off_message_logging, litellm_utils.executor = saved_globals


@pytest.fixture(scope="session")
def collector_session() -> Iterator[OtlpServer]:
    with OtlpServer(path="/v1/traces", required_headers={"x-api-key": "otlp-key-1"}) as server:
        yield server


@pytest.fixture
def collector(collector_session: OtlpServer) -> OtlpServer:
    collector_session.reset()
    return collector_session


@pytest.fixture(scope="session")
def langfuse_session() -> Iterator[OtlpServer]:
    with OtlpServer.langfuse(PUBLIC_KEY, SECRET_KEY) as server:
        yield server


@pytest.fixture
def langfuse(langfuse_session: OtlpServer) -> OtlpServer:
    langfuse_session.reset()
    return langfuse_session


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Secrets Manager (moto) with the Langfuse key and the OTLP headers; counts reads."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arns = {
            "langfuse": client.create_secret(Name="team/langfuse", SecretString=SECRET_KEY)["ARN"],
            "otlp": client.create_secret(
                Name="team/otlp", SecretString=json.dumps({"x-api-key": "otlp-key-1"})
            )["ARN"],
            "wrong": client.create_secret(Name="team/wrong", SecretString="sk-lf-wrong")["ARN"],
        }
        reads: list[str] = []
        real = tracing.read_secret

        def counting(arn: str) -> str:
            reads.append(arn)
            return real(arn)

        monkeypatch.setattr(tracing, "read_secret", counting)
        yield {"arns": arns, "reads": reads}


def settings_env(
    monkeypatch: pytest.MonkeyPatch, server_url: str, trace: dict[str, Any], **overrides: Any
) -> None:
    model = model_entry("claude-sonnet-4-5", Geography.US, prices=PRICES)
    doc = project_settings([model], tracing=trace, **overrides)
    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server_url)


def otlp(collector: OtlpServer, secrets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "otlp": {"endpoint": collector.url + "/v1/traces", "headers_secret_arn": secrets["arns"]["otlp"]},
        **extra,
    }


def langfuse_trace(langfuse: OtlpServer, secrets: dict[str, Any], key: str = "langfuse") -> dict[str, Any]:
    return {
        "langfuse": {
            "host": langfuse.url,
            "public_key": PUBLIC_KEY,
            "secret_key_secret_arn": secrets["arns"][key],
        }
    }


def by_trace(spans: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for span in spans:
        out.setdefault(span.trace_id, []).append(span)
    return out


def root_of(spans: list[Any]) -> Any:
    (root,) = [s for s in spans if s.name == tracing.ROOT_SPAN_NAME]
    assert root.parent_span_id == ""
    return root


def trace_metrics(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "TraceExportErrors" in line]


# --- OTLP -------------------------------------------------------------------------------------


def test_otlp_one_trace_per_call_with_our_cost_tokens_tags_and_profile(
    monkeypatch, server, collector, secrets, capsys
):
    settings_env(monkeypatch, server.url, otlp(collector, secrets))
    server.enqueue(Reply.ok(usage=USAGE), Reply.ok(usage=USAGE))
    responses = [lambda_handler(event(), FakeContext(aws_request_id=f"req-{i}")) for i in range(2)]
    assert all(r["ok"] for r in responses), responses
    assert responses[0]["cost_usd"] == pytest.approx(OUR_COST, rel=1e-12)

    traces = by_trace(collector.spans)
    assert len(traces) == 2  # one trace per call
    for i, spans in enumerate(traces.values()):
        root = root_of(spans)
        a = root.attributes
        assert a["claude_proxy.project"] == "alpha"
        assert a["claude_proxy.model"] == "claude-sonnet-4-5"
        assert a["claude_proxy.profile_arn"] == profile_arn()
        assert a["claude_proxy.request_id"] == f"req-{i}"
        assert a["claude_proxy.tag.feature"] == "summaries" and a["claude_proxy.tag.user"] == "u-42"
        assert (a["claude_proxy.input_tokens"], a["claude_proxy.output_tokens"]) == (100, 40)
        assert (a["claude_proxy.cache_read_input_tokens"], a["claude_proxy.cache_write_input_tokens"]) == (
            1000,
            10,
        )
        assert a["claude_proxy.cost_usd"] == pytest.approx(OUR_COST, rel=1e-12)
        assert a["claude_proxy.attempts"] == 1
        assert a["claude_proxy.latency_ms"] > 0
        assert root.status_code == 1
        assert root.resource["service.name"] == "claude-proxy"
        (generation,) = [s for s in spans if s is not root]  # LiteLLM's own span for the attempt
        assert generation.parent_span_id == root.span_id
        assert generation.attributes["gen_ai.cost.total_cost"] == pytest.approx(OUR_COST, rel=1e-12)
        assert generation.attributes["claude_proxy.attempt_cost_usd"] == pytest.approx(OUR_COST, rel=1e-12)
        assert "hidden_params" not in generation.attributes  # not on the allowlist (api base, headers)
        assert generation.attributes["gen_ai.usage.output_tokens"] == 40
    # The OTLP headers came from the secret (the collector answers 401 without them).
    assert [r.status for r in collector.requests] == [200, 200]
    metrics = trace_metrics(stdout_json_lines(capsys.readouterr().out))
    assert [m["TraceExportErrors"] for m in metrics] == [[0.0], [0.0]]


def test_retries_are_attempt_spans_of_one_trace(monkeypatch, server, collector, secrets):
    settings_env(monkeypatch, server.url, otlp(collector, secrets))
    server.enqueue(Reply.throttle(), Reply.ok(usage=USAGE))
    assert lambda_handler(event(), FakeContext())["ok"] is True
    (spans,) = by_trace(collector.spans).values()
    root = root_of(spans)
    assert root.attributes["claude_proxy.attempts"] == 2
    attempts = sorted((s for s in spans if s is not root), key=lambda s: s.start_ns)
    assert [s.parent_span_id for s in attempts] == [root.span_id] * 2
    assert attempts[0].status_code == 2 and attempts[0].attributes["error.type"] == "RateLimitError"
    assert attempts[1].status_code == 1


def test_a_failed_call_is_traced_with_its_error_type(monkeypatch, server, collector, secrets):
    settings_env(monkeypatch, server.url, otlp(collector, secrets))
    server.enqueue(Reply.error(400, message="bad input"))
    response = lambda_handler(event(), FakeContext())
    assert response["error"]["type"] == "invalid_request"
    root = root_of(collector.spans)
    assert root.attributes["claude_proxy.error_type"] == "invalid_request"
    assert root.attributes["claude_proxy.ok"] is False
    assert "claude_proxy.cost_usd" not in root.attributes
    assert (root.status_code, root.status_message) == (2, "invalid_request")


def test_a_request_rejected_before_the_model_is_traced_too(monkeypatch, server, collector, secrets):
    settings_env(monkeypatch, server.url, otlp(collector, secrets))
    response = lambda_handler(event(model="claude-opus-4-5"), FakeContext())
    assert response["error"]["type"] == "model_not_allowed"
    assert root_of(collector.spans).attributes["claude_proxy.error_type"] == "model_not_allowed"
    assert server.requests == []


def test_no_prompt_or_completion_text_without_log_prompts(monkeypatch, server, collector, secrets):
    settings_env(monkeypatch, server.url, otlp(collector, secrets))
    server.enqueue(Reply.ok(text="COMPLETION-SENTINEL-77", usage=USAGE), Reply.throttle())
    assert lambda_handler(event(), FakeContext())["ok"] is True
    assert lambda_handler(event(), FakeContext())["ok"] is True
    sent = b"".join(r.body for r in collector.requests)
    assert sent and len(collector.spans) >= 4
    for text in (SENTINEL, SYSTEM_SENTINEL, "COMPLETION-SENTINEL-77"):
        assert text.encode() not in sent


def test_prompt_and_completion_only_with_log_prompts(monkeypatch, server, collector, secrets):
    settings_env(monkeypatch, server.url, otlp(collector, secrets), log_prompts=True)
    server.enqueue(Reply.ok(text="COMPLETION-SENTINEL-77", usage=USAGE))
    assert lambda_handler(event(), FakeContext())["ok"] is True
    root = root_of(collector.spans)
    prompt = json.loads(root.attributes["claude_proxy.prompt"])
    assert prompt["system"] == SYSTEM_SENTINEL and SENTINEL in json.dumps(prompt["messages"])
    assert root.attributes["claude_proxy.completion"] == "COMPLETION-SENTINEL-77"


# --- Langfuse ---------------------------------------------------------------------------------


def test_langfuse_gets_one_trace_with_our_cost_and_the_caller_as_user(monkeypatch, server, langfuse, secrets):
    settings_env(monkeypatch, server.url, langfuse_trace(langfuse, secrets))
    server.enqueue(Reply.ok(usage=USAGE))
    assert lambda_handler(event(), FakeContext(aws_request_id="req-lf"))["ok"] is True
    (request,) = langfuse.requests
    assert (request.path, request.status) == (LANGFUSE_TRACES_PATH, 200)  # Basic auth with the secret key
    assert request.header("x-langfuse-ingestion-version") == "4"
    (spans,) = by_trace(langfuse.spans).values()
    root = root_of(spans)
    a = root.attributes
    assert a["langfuse.trace.name"] == "alpha/claude-sonnet-4-5"
    assert a["langfuse.trace.tags"] == [
        "project:alpha",
        "model:claude-sonnet-4-5",
        "feature:summaries",
        "user:u-42",
    ]
    assert a["user.id"] == "u-42"
    assert a["langfuse.trace.metadata.profile_arn"] == profile_arn()
    assert a["langfuse.trace.metadata.cost_usd"] == pytest.approx(OUR_COST, rel=1e-12)
    assert a["langfuse.trace.metadata.attempts"] == 1
    assert a["langfuse.trace.metadata.request_id"] == "req-lf"
    assert "langfuse.trace.input" not in a and "langfuse.trace.output" not in a
    (generation,) = [s for s in spans if s is not root]
    g = generation.attributes
    assert g["langfuse.observation.type"] == "generation"
    assert g["llm.cost.total"] == pytest.approx(OUR_COST, rel=1e-12)
    assert (g["llm.token_count.prompt"], g["llm.token_count.completion"]) == (1110, 40)
    assert SENTINEL.encode() not in request.body and SYSTEM_SENTINEL.encode() not in request.body


def test_langfuse_trace_io_only_with_log_prompts(monkeypatch, server, langfuse, secrets):
    settings_env(monkeypatch, server.url, langfuse_trace(langfuse, secrets), log_prompts=True)
    server.enqueue(Reply.ok(text="COMPLETION-SENTINEL-77", usage=USAGE))
    assert lambda_handler(event(), FakeContext())["ok"] is True
    root = root_of(langfuse.spans)
    assert SENTINEL in root.attributes["langfuse.trace.input"]
    assert root.attributes["langfuse.trace.output"] == "COMPLETION-SENTINEL-77"


def test_secret_is_read_once_per_container(monkeypatch, server, langfuse, secrets):
    settings_env(monkeypatch, server.url, langfuse_trace(langfuse, secrets))
    for _ in range(3):
        assert lambda_handler(event(), FakeContext())["ok"] is True
    assert secrets["reads"] == [secrets["arns"]["langfuse"]]
    assert len(by_trace(langfuse.spans)) == 3


# --- a backend that is wrong, down or slow never fails the call ---------------------------------


def test_rejected_export_logs_one_warning_and_a_metric(
    monkeypatch, server, langfuse, secrets, capsys, caplog
):
    settings_env(monkeypatch, server.url, langfuse_trace(langfuse, secrets, key="wrong"))
    assert lambda_handler(event(), FakeContext())["ok"] is True
    assert [r.status for r in langfuse.requests] == [401]
    lines = stdout_json_lines(capsys.readouterr().out)
    warnings = [line for line in lines if line.get("message") == "trace not sent"]
    assert len(warnings) == 1 and warnings[0]["trace_problem"] == "export_failed"
    assert "sk-lf" not in json.dumps(lines)  # no secret in logs
    assert trace_metrics(lines)[0]["TraceExportErrors"] == [1.0]
    # Nothing else warns: OpenTelemetry's exporter and LiteLLM stay quiet.
    assert [r.getMessage() for r in caplog.records if r.levelname in {"WARNING", "ERROR"}] == [
        "trace not sent"
    ]


def test_dead_backend_costs_at_most_the_timeout(monkeypatch, server, secrets, capsys, caplog):
    trace = {"otlp": {"endpoint": "http://127.0.0.1:9/v1/traces"}, "flush_timeout_ms": 400}
    settings_env(monkeypatch, server.url, trace)
    lambda_handler(event(), FakeContext())  # first call builds the pipeline
    capsys.readouterr()
    started = time.perf_counter()
    response = lambda_handler(event(), FakeContext())
    elapsed = time.perf_counter() - started
    assert response["ok"] is True
    assert elapsed < 0.4 + 0.6, elapsed
    lines = stdout_json_lines(capsys.readouterr().out)
    warnings = [line for line in lines if line.get("message") == "trace not sent"]
    assert len(warnings) == 1 and warnings[0]["trace_problem"] in {"export_failed", "timeout"}
    assert trace_metrics(lines)[0]["TraceExportErrors"] == [1.0]
    # The exporter's retries and failures are not logged on top of our one warning.
    noisy = [
        r
        for r in caplog.records
        if r.levelname in {"WARNING", "ERROR"} and r.name.startswith("opentelemetry")
    ]
    assert noisy == []


def test_slow_backend_costs_at_most_the_timeout(monkeypatch, server, collector, secrets, capsys):
    settings_env(monkeypatch, server.url, otlp(collector, secrets, flush_timeout_ms=300))
    assert lambda_handler(event(), FakeContext())["ok"] is True
    collector.delay_s = 5.0
    capsys.readouterr()
    started = time.perf_counter()
    response = lambda_handler(event(), FakeContext())
    elapsed = time.perf_counter() - started
    assert response["ok"] is True
    assert elapsed < 0.3 + 0.5, elapsed
    lines = stdout_json_lines(capsys.readouterr().out)
    (warning,) = [line for line in lines if line.get("message") == "trace not sent"]
    # The exporter's own timeout (the same bound) or the flush deadline, whichever fires first.
    assert warning["trace_problem"] in {"timeout", "export_failed"}
    assert warning["trace_flush_ms"] <= 300 + 150
    collector.delay_s = 0.0


def test_unreadable_secret_does_not_fail_calls_and_is_not_retried_per_call(
    monkeypatch, server, collector, secrets, capsys
):
    missing = secrets["arns"]["otlp"].replace("team/otlp", "team/missing")
    settings_env(
        monkeypatch,
        server.url,
        {"otlp": {"endpoint": collector.url + "/v1/traces", "headers_secret_arn": missing}},
    )
    for _ in range(3):
        assert lambda_handler(event(), FakeContext())["ok"] is True
    assert secrets["reads"] == [missing]  # retried only after tracing.SECRET_RETRY_S
    assert collector.requests == []
    lines = stdout_json_lines(capsys.readouterr().out)
    warnings = [line for line in lines if line.get("message") == "trace not sent"]
    assert len(warnings) == 3 and {w["trace_problem"] for w in warnings} == {"setup_failed"}
    assert "ResourceNotFoundException" in warnings[0]["trace_setup_error"]


# --- unit: secret formats ---------------------------------------------------------------------


def test_secret_formats():
    assert tracing._secret_field("sk-1", "secret_key") == "sk-1"
    assert tracing._secret_field('{"secret_key": "sk-2"}', "secret_key") == "sk-2"
    with pytest.raises(ValueError, match="secret_key"):
        tracing._secret_field('{"other": "x"}', "secret_key")
    assert tracing._secret_headers('{"a": "1", "b": "2"}') == {"a": "1", "b": "2"}
    assert tracing._secret_headers("a=1,b=x=y") == {"a": "1", "b": "x=y"}
    with pytest.raises(ValueError):
        tracing._secret_headers('{"a": 1}')


def test_catalog_price_differs_from_the_test_price():
    """Guards the cost tests: LiteLLM's own price for the model must not equal ours."""
    litellm_price = catalog.model_prices(catalog.resolve_model("claude-sonnet-4-5"), Geography.US)
    assert cost_usd(litellm_price, TokenUsage(100, 40, 1000, 10)) != pytest.approx(OUR_COST)


# --- privacy: no request text of any kind in any exported span without log_prompts -------------

MARKER = "ZQXmarker7731"  # fits every field, tool names included
MARKER_TOOL = f"lookup_{MARKER}"


def marked_event() -> dict[str, Any]:
    """A request with the marker in every field that carries caller text."""
    return {
        "system": [{"type": "text", "text": f"system {MARKER}"}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"user {MARKER}"},
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": f"doc {MARKER}"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"assistant {MARKER}"},
                    {
                        "type": "tool_use",
                        "id": f"tu_{MARKER}",
                        "name": MARKER_TOOL,
                        "input": {"q": f"in {MARKER}"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"tu_{MARKER}",
                        "content": [{"type": "text", "text": f"result {MARKER}"}],
                    },
                    {"type": "text", "text": f"again {MARKER}"},
                ],
            },
        ],
        "tools": [
            {
                "name": MARKER_TOOL,
                "description": f"describes {MARKER}",
                "input_schema": {
                    "type": "object",
                    "properties": {
                        f"p_{MARKER}": {"type": "string", "description": f"param {MARKER}", "enum": [MARKER]}
                    },
                },
            }
        ],
        "tool_choice": {"type": "tool", "name": MARKER_TOOL},
        "stop_sequences": [f"stop {MARKER}"],
        "max_tokens": 64,
        "tags": {"feature": "privacy"},
    }


def _everything_exported(server: OtlpServer) -> bytes:
    """Every byte sent to the backend, and every decoded span field as text (names, attributes, events)."""
    decoded = json.dumps(
        [
            {
                "name": s.name,
                "attributes": s.attributes,
                "events": getattr(s, "events", None),
                "status": s.status_message,
                "resource": s.resource,
            }
            for s in server.spans
        ],
        default=str,
    )
    return b"".join(r.body for r in server.requests) + decoded.encode()


@pytest.mark.parametrize("backend", ["otlp", "langfuse"])
def test_no_request_text_of_any_kind_leaves_in_a_trace_without_log_prompts(
    backend, monkeypatch, server, collector, langfuse, secrets
):
    target = collector if backend == "otlp" else langfuse
    trace = otlp(collector, secrets) if backend == "otlp" else langfuse_trace(langfuse, secrets)
    settings_env(monkeypatch, server.url, trace)
    server.enqueue(
        Reply.ok(text=f"completion {MARKER}", usage=USAGE),
        Reply.throttle(),
        Reply.error(400, message=f"bad {MARKER}"),
    )
    assert lambda_handler(marked_event(), FakeContext())["ok"] is True
    # The marker reached Bedrock in every field (so the test would see a leak).
    sent_to_bedrock = json.dumps(server.requests[0].body)
    assert sent_to_bedrock.count(MARKER) >= 12, sent_to_bedrock
    assert lambda_handler(marked_event(), FakeContext())["ok"] is False  # throttled, then a 400 echoing text
    exported = _everything_exported(target)
    assert len(target.spans) >= 4
    assert MARKER.encode() not in exported, [
        (s.name, k)
        for s in target.spans
        for k, v in s.attributes.items()
        if MARKER in json.dumps(v, default=str)
    ]


@pytest.mark.parametrize("backend", ["otlp", "langfuse"])
def test_with_log_prompts_the_request_text_is_exported(
    backend, monkeypatch, server, collector, langfuse, secrets
):
    target = collector if backend == "otlp" else langfuse
    trace = otlp(collector, secrets) if backend == "otlp" else langfuse_trace(langfuse, secrets)
    settings_env(monkeypatch, server.url, trace, log_prompts=True)
    server.enqueue(Reply.ok(text=f"completion {MARKER}", usage=USAGE))
    assert lambda_handler(marked_event(), FakeContext())["ok"] is True
    assert MARKER.encode() in _everything_exported(target)


# --- how Langfuse reads our spans (its OTLP ingestion rules, see docs/tracing.md) ------------------

# langfuse/langfuse packages/shared/src/server/otel/ObservationTypeMapper.ts: mappers by priority.
LANGFUSE_TYPE_KEYS = (
    ("langfuse.observation.type", {"span": "span", "generation": "generation", "event": "event"}),
    ("openinference.span.kind", {"LLM": "generation", "CHAIN": "chain", "TOOL": "tool"}),
    (
        "gen_ai.operation.name",
        {"chat": "generation", "completion": "generation", "text_completion": "generation"},
    ),
)
# ... and the model-based fallback: any of these makes a span a generation.
LANGFUSE_MODEL_KEYS = (
    "langfuse.observation.model.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "model",
)


def langfuse_type(attributes: dict[str, Any]) -> str:
    """The observation type Langfuse's ObservationTypeMapperRegistry gives a span."""
    for key, mapping in LANGFUSE_TYPE_KEYS:
        if attributes.get(key) not in (None, "") and attributes[key] in mapping:
            return mapping[attributes[key]]
    return "generation" if any(attributes.get(k) for k in LANGFUSE_MODEL_KEYS) else "span"


def langfuse_cost(attributes: dict[str, Any]) -> float | None:
    """OtelIngestionProcessor.extractCostDetails: cost_details, else gen_ai.usage.cost, else llm.cost.total."""
    if attributes.get("langfuse.observation.cost_details"):
        return float(json.loads(attributes["langfuse.observation.cost_details"])["total"])
    for key in ("gen_ai.usage.cost", "llm.cost.total"):
        if attributes.get(key) not in (None, ""):
            return float(attributes[key])
    return None


@pytest.fixture
def ledgered(local_aws) -> dict[str, Any]:
    """A ledger table on the local DynamoDB endpoint: PROJECT_SETTINGS `spend` that records charges."""
    import uuid

    from devservers.aws_server import create_ledger_table

    table = f"ledger-{uuid.uuid4().hex[:8]}"
    create_ledger_table(boto3.client("dynamodb", region_name=REGION), table)
    return {"enforcement": "soft", "cap_usd": 100.0, "ledger_table": table}


def logged(capsys, message: str) -> dict[str, Any]:
    """The function's one log line with `message` (what it charged, independent of the trace)."""
    (line,) = [x for x in stdout_json_lines(capsys.readouterr().out) if x.get("message") == message]
    return line


def served_charge(capsys) -> float:
    """What the ledger charged for the call, from the function's own log line (not from the trace)."""
    line = logged(capsys, "claude request served")
    return line["cost_usd"] + line.get("estimated_charge_usd", 0.0)


@pytest.mark.parametrize(
    "replies",
    [
        pytest.param([Reply.ok(usage=USAGE)], id="one-attempt"),
        pytest.param([Reply.throttle(), Reply.ok(usage=USAGE)], id="throttled-then-ok"),
        pytest.param(
            [Reply.error(500, error_type="InternalServerException"), Reply.ok(usage=USAGE)],
            id="outcome-unknown-then-ok",
        ),
    ],
)
def test_langfuse_sees_one_generation_per_attempt_whose_costs_sum_to_what_we_charged(
    replies, monkeypatch, server, langfuse, secrets, ledgered, capsys
):
    settings_env(monkeypatch, server.url, langfuse_trace(langfuse, secrets), spend=ledgered)
    server.enqueue(*replies)
    # Time enough for a retry after an unknown outcome (a retry must be able to finish).
    response = lambda_handler(event(max_tokens=64), FakeContext(remaining_ms=600_000))
    assert response["ok"] is True
    charged = served_charge(capsys)
    (spans,) = by_trace(langfuse.spans).values()
    root = root_of(spans)
    assert langfuse_type(root.attributes) == "span" and langfuse_cost(root.attributes) is None
    assert not any(k in root.attributes for k in LANGFUSE_MODEL_KEYS)  # Langfuse would price it
    generations = [s for s in spans if langfuse_type(s.attributes) == "generation"]
    assert (
        len(generations) == len(replies) == len(spans) - 1 == response["attempts"]
        if "attempts" in response
        else True
    )
    assert sum(langfuse_cost(g.attributes) for g in generations) == pytest.approx(charged, rel=1e-12)
    last = max(generations, key=lambda g: g.start_ns)
    assert langfuse_cost(last.attributes) == pytest.approx(response["cost_usd"], rel=1e-12)
    if len(replies) == 2:
        first = min(generations, key=lambda g: g.start_ns)
        unknown = replies[0].error_type == "InternalServerException"
        assert first.attributes["claude_proxy.attempt_estimated"] is unknown
        assert (langfuse_cost(first.attributes) > 0) is unknown  # its worst case, or nothing charged


def test_an_estimated_attempt_of_a_failed_call_carries_its_charged_worst_case(
    monkeypatch, server, langfuse, secrets, ledgered, capsys
):
    settings_env(monkeypatch, server.url, langfuse_trace(langfuse, secrets), spend=ledgered)
    # Throttled (nothing billed), then a model error (424: the worst case stays, estimated).
    server.enqueue(Reply.throttle(), Reply.error(424, message="The model failed to process the request."))
    response = lambda_handler(event(), FakeContext())
    assert response["ok"] is False
    line = logged(capsys, "claude request failed")
    (spans,) = by_trace(langfuse.spans).values()
    generations = sorted(
        (s for s in spans if langfuse_type(s.attributes) == "generation"), key=lambda s: s.start_ns
    )
    assert len(generations) == 2
    assert [langfuse_cost(g.attributes) for g in generations] == [
        0.0,
        pytest.approx(line["estimated_charge_usd"]),
    ]
    assert line["estimated_charge_usd"] > 0
    assert root_of(spans).attributes["claude_proxy.estimated_charge_usd"] == pytest.approx(
        line["estimated_charge_usd"]
    )


# --- unit: the allowlist and the per-attempt charges -------------------------------------------


def test_the_allowlist_drops_any_key_it_does_not_name_and_messages_from_statuses_and_events():
    from claude_proxy.trace_privacy import allowed, exported_span
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status, StatusCode

    for key in (
        "llm.invocation_parameters",
        "llm.tools.0.description",
        "llm.input_messages.0.message.content",
        "gen_ai.prompt",
        "gen_ai.tool.definitions",  # a key a later LiteLLM might add: dropped unless named
        "langfuse.observation.input",
        "claude_proxy.prompt",
        "error.message",
        "error.stack_trace",
        "metadata",
    ):
        assert not allowed(key), key
    for key in ("claude_proxy.cost_usd", "claude_proxy.tag.feature", "llm.cost.total", "gen_ai.usage.cost"):
        assert allowed(key), key
    span = ReadableSpan(
        name="litellm_request",
        attributes={"error.type": "BadRequestError", "error.message": f"bad {MARKER}"},
        events=[
            Event("exception", {"exception.type": "X", "exception.message": MARKER}),
            Event("log", {"m": MARKER}),
        ],
        status=Status(StatusCode.ERROR, f"litellm.BadRequestError: {MARKER}"),
    )
    out = exported_span(span, log_prompts=False)
    assert out.attributes == {"error.type": "BadRequestError"}
    assert [(e.name, dict(e.attributes)) for e in out.events] == [("exception", {"exception.type": "X"})]
    assert out.status.description == "BadRequestError"
    assert exported_span(span, log_prompts=True) is span


def test_attempt_charges_sum_to_the_call_charge_even_without_a_record_per_attempt():
    from claude_proxy.core import InvokeResult
    from claude_proxy.tracing import attempt_charges

    recorded = InvokeResult(
        project="p",
        model="m",
        attempts=3,
        latency_ms=1,
        cost_usd=0.2,
        estimated_charge_usd=1.5,
        attempt_charges_usd=(0.0, 1.5, 0.2),
    )
    assert attempt_charges(recorded, 3) == [(0.0, False), (1.5, True), (0.2, False)]
    unrecorded = InvokeResult(
        project="p", model="m", attempts=2, latency_ms=1, cost_usd=0.2, estimated_charge_usd=1.5
    )
    charges = attempt_charges(unrecorded, 2)
    assert sum(c for c, _ in charges) == pytest.approx(1.7) and charges[-1][1] is True
    assert attempt_charges(unrecorded, 0) == []
