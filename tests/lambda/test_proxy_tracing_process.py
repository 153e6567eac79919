"""Tracing in a fresh process, as a Lambda container has it: what the cold path imports with tracing off
and on, and the X-Ray subsegments Powertools Tracer sends to the daemon address (a local UDP socket)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from proxy_testkit import REGION, project_settings

from devservers.otlp_server import OtlpServer

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
TRACING_MODULES = ("opentelemetry", "aws_xray_sdk", "claude_proxy.tracing", "claude_proxy.xray")

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{lambda_dir!r}, {root!r}]

    class Context:
        aws_request_id = "req-process"
        def get_remaining_time_in_millis(self):
            return 30_000

    from claude_proxy.handler import lambda_handler
    def loaded():
        return sorted(m for m in sys.modules if m.startswith({prefixes!r}))
    at_init = loaded()
    response = lambda_handler({{"messages": [{{"role": "user", "content": "hi"}}]}}, Context())
    print("RESULT " + json.dumps({{"ok": response["ok"], "at_init": at_init, "after_call": loaded()}}))
    """
)


def run_handler(env_extra: dict[str, str]) -> dict[str, Any]:
    code = CHILD.format(lambda_dir=str(ROOT / "lambda"), root=str(ROOT), prefixes=TRACING_MODULES)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_X_AMZN", "LAMBDA_TASK_ROOT"))}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        **env_extra,
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_tracing_off_loads_none_of_it(server):
    result = run_handler(
        {"PROJECT_SETTINGS": json.dumps(project_settings()), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url}
    )
    assert result["ok"] is True
    assert result["at_init"] == [] and result["after_call"] == []


def test_a_traced_project_loads_tracing_at_init_not_in_the_first_call(server):
    with OtlpServer(path="/v1/traces") as collector:
        settings = project_settings(tracing={"otlp": {"endpoint": collector.url + "/v1/traces"}})
        result = run_handler(
            {"PROJECT_SETTINGS": json.dumps(settings), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url}
        )
        assert result["ok"] is True
        assert "claude_proxy.tracing" in result["at_init"]
        assert "opentelemetry.sdk.trace" in result["at_init"]
        assert "aws_xray_sdk" not in result["after_call"]  # X-Ray is its own switch
        assert len({s.trace_id for s in collector.spans}) == 1


def test_xray_subsegments_show_ledger_bedrock_and_trace_flush(server):
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(2.0)
    try:
        with OtlpServer(path="/v1/traces") as collector:
            tracing = {"otlp": {"endpoint": collector.url + "/v1/traces"}, "xray": True}
            result = run_handler(
                {
                    "PROJECT_SETTINGS": json.dumps(project_settings(tracing=tracing)),
                    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
                    # What Lambda sets for a function with active tracing.
                    "LAMBDA_TASK_ROOT": str(ROOT),
                    "AWS_LAMBDA_FUNCTION_NAME": "claude-alpha-proxy",
                    "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent={PARENT};Sampled=1",
                    "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
                }
            )
        assert result["ok"] is True
        assert "aws_xray_sdk" in result["at_init"]
        segments = []
        for _ in range(20):
            try:
                data, _ = daemon.recvfrom(65535)
            except TimeoutError:
                break
            header, body = data.split(b"\n", 1)
            assert json.loads(header) == {"format": "json", "version": 1}
            segments.append(json.loads(body))
    finally:
        daemon.close()
    by_name = {s["name"]: s for s in segments}
    assert {"invoke", "bedrock", "ledger.reserve", "ledger.settle", "trace_flush"} <= set(by_name)
    assert {s["trace_id"] for s in segments} == {TRACE_ROOT}
    invoke = by_name["invoke"]
    assert invoke["parent_id"] == PARENT
    assert invoke["annotations"] == {"project": "alpha", "model": "claude-sonnet-4-5", "ok": True}
    assert invoke["metadata"]["claude_proxy"]["attempts"] == 1
    for child in ("bedrock", "ledger.reserve", "ledger.settle"):
        assert by_name[child]["parent_id"] == invoke["id"]
        assert invoke["start_time"] <= by_name[child]["start_time"] <= by_name[child]["end_time"]
    assert by_name["trace_flush"]["parent_id"] == PARENT
