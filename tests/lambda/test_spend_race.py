"""Many processes race at the edge of a small hard cap: the real handler, real LiteLLM, DynamoDB (moto).

Separate processes (not only threads) share one local DynamoDB/SNS endpoint and one local Bedrock
server, with throttles, server errors, rejected requests and timeouts mixed in.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter

import boto3
import spend_race_worker
from proxy_testkit import REGION, model_entry, project_settings

from claude_platform.catalog import Geography
from claude_platform.ledger import LedgerTable, period_of, to_micro
from claude_platform.prices import ModelPrices, worst_case_cost_usd
from devservers.aws_server import create_ledger_table, sns_messages
from devservers.bedrock_server import Reply, Usage

PROCESSES = 3
THREADS = 4
CAP_USD = 0.004
THRESHOLDS = (25.0, 50.0, 75.0, 100.0)


def test_concurrent_processes_never_push_recorded_spend_past_the_cap(server, local_aws):
    from datetime import UTC, datetime

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_ledger_table(dynamodb, "race-ledger")
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="race-alerts")["TopicArn"]
    model = model_entry("claude-haiku-4-5", Geography.US)
    settings = project_settings(
        [model],
        spend={
            "enforcement": "hard",
            "cap_usd": CAP_USD,
            "alert_thresholds": list(THRESHOLDS),
            "ledger_table": "race-ledger",
            "alert_topic_arn": topic,
        },
    )
    server.reset(usage=Usage(input_tokens=10, output_tokens=20))
    server.enqueue(
        *[Reply.throttle()] * 4,
        Reply.server_error(500),  # outcome unknown: charged as estimated, then retried
        Reply.error(400),
        Reply.slow(9.0),  # longer than the 7 s the attempt gets: charged as estimated
        Reply.server_error(500),
        *[Reply.throttle()] * 2,
    )
    env = {
        key: value for key, value in os.environ.items() if key.startswith(("AWS_", "POWERTOOLS_", "LITELLM_"))
    }
    env |= {
        "PROJECT_SETTINGS": json.dumps(settings),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
        **local_aws.endpoint_env(),
    }
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        jobs = [
            pool.apply_async(spend_race_worker.run, (env, f"p{i}", THREADS, 60, 8_000))
            for i in range(PROCESSES)
        ]
        outcomes = [o for job in jobs for o in job.get(timeout=240)]

    # A hold whose settle found no time left (an attempt that overran on a loaded machine, as a
    # function killed at its timeout would) is never dropped: the stale-hold rule charges it as
    # estimated. Apply the rule now, as a later reservation would.
    table = LedgerTable(dynamodb, "race-ledger")
    now = datetime.now(UTC)
    stale = table.charge_stale_reservations(
        project="alpha",
        period=period_of(now),
        older_than_epoch=int(now.timestamp()) + 1,
        now_epoch=int(now.timestamp()),
    )
    stale_ids = {h.request_id for h in stale}
    state = table.month("alpha", period_of(now), with_holds=True)
    cap_micro = to_micro(CAP_USD)
    kinds = Counter(o["error"] or "ok" for o in outcomes)
    assert kinds["budget_exceeded"] >= PROCESSES * THREADS  # every caller was stopped by the cap
    assert kinds["timeout"] >= 1
    assert sum(o["message"].startswith("Bedrock rejected the request") for o in outcomes) == 1

    # Recorded spend never passes the cap; nothing is left reserved.
    assert 0 < state.spent_micro <= cap_micro
    assert state.reserved_micro == 0 and state.committed_micro == state.spent_micro
    assert state.open_reservations == ()

    # Spend is exactly the served calls' costs plus the worst case of each unknown outcome.
    served = [o for o in outcomes if o["ok"] and o["id"] not in stale_ids]
    worst = worst_case_cost_usd(
        ModelPrices.from_dict(model["prices"]), input_tokens=_input_bound(), max_output_tokens=50
    )
    assert state.estimated_requests >= 3  # two 500s and one timeout
    assert state.estimated_micro == state.estimated_requests * to_micro(worst)
    assert state.spent_micro - state.estimated_micro == sum(to_micro(o["cost_usd"]) for o in served)
    assert state.requests == len(served) + state.estimated_requests
    # A refusal is a budget_exceeded answer, or a retry after an unknown outcome that the cap refused
    # (the answer then carries the attempt's own error, saying the retry was not sent).
    retries_refused = sum("not retried:" in o["message"] for o in outcomes)
    # The refusal counter is a statistic (an ADD, retried by the ledger after a timeout): under load a
    # retried write can count one refusal twice; it never misses one.
    assert state.refusals >= kinds["budget_exceeded"] + retries_refused

    # Refused calls never reached Bedrock.
    reached = {r.body.get("requestMetadata", {}).get("call") for r in server.requests}
    refused = {o["id"] for o in outcomes if o["error"] == "budget_exceeded"}
    assert refused and not refused & reached
    assert {o["id"] for o in served} <= reached

    # Each crossed threshold alerted exactly once; under hard the calls are refused before spend
    # reaches 100%, so the 100% claim is the one "cap reached" message (or the 100% alert if spend
    # landed exactly on the cap).
    subjects = Counter(subject for subject, _ in sns_messages(topic, region=REGION))
    crossed = [t for t in THRESHOLDS if t < 100 and state.spent_micro * 100 >= t * cap_micro]
    cap_messages = [s for s in subjects if "cap reached, calls are refused until" in s or "passed 100%" in s]
    assert len(cap_messages) == 1 and subjects[cap_messages[0]] == 1
    assert subjects - Counter(cap_messages) == Counter(
        f"Claude spend: alpha passed {t:g}% of its {state.period} cap" for t in crossed
    )
    assert len(crossed) >= 2


def _input_bound() -> int:
    from claude_proxy.request import parse_request

    return parse_request(
        {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 50}
    ).input_token_bound
