"""One process of the spend race: the real handler, called from several threads until the cap refuses.

Started with multiprocessing's spawn method by test_spend_race.py; everything it needs comes in
`env` (PROJECT_SETTINGS, endpoints, credentials), set before the handler is imported.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


class _Context:
    def __init__(self, request_id: str, remaining_ms: int) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def run(
    env: dict[str, str], name: str, threads: int, max_calls: int, remaining_ms: int
) -> list[dict[str, Any]]:
    """Outcomes of every call this process made: id, ok, error type, cost."""
    os.environ.update(env)
    from claude_proxy.handler import lambda_handler

    outcomes: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def caller(index: int) -> None:
        start.wait()
        refusals_in_a_row = 0
        for n in range(max_calls):
            call_id = f"{name}-{index}-{n}"
            event = {
                "messages": [{"role": "user", "content": "hello"}],
                "max_tokens": 50,
                "tags": {"call": call_id},
            }
            response = lambda_handler(event, _Context(call_id, remaining_ms))
            error = (response.get("error") or {}).get("type")
            with lock:
                outcomes.append(
                    {
                        "id": call_id,
                        "ok": response["ok"],
                        "error": error,
                        "message": (response.get("error") or {}).get("message", ""),
                        "retryable": (response.get("error") or {}).get("retryable"),
                        "retry_after_s": (response.get("error") or {}).get("retry_after_s"),
                        "cost_usd": response.get("cost_usd"),
                    }
                )
            refusals_in_a_row = refusals_in_a_row + 1 if error == "budget_exceeded" else 0
            if refusals_in_a_row >= 2:
                return

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes
