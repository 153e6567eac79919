"""Generate a projects file with N projects (benchmarks and the large-config test)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from claude_platform.config_model import DEFAULT_MAX_CONCURRENCY

GEOGRAPHY_MODELS = (
    ("us", ["claude-sonnet-4-5", "claude-haiku-4-5"]),
    ("global", ["claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"]),
    ("eu", ["claude-sonnet-4-6"]),
)


def large_config(count: int, *, region: str = "us-east-1", eu_region: str | None = None) -> dict[str, Any]:
    """A valid config of `count` projects cycling through geographies, models and options.

    With `eu_region`, every third project (geography `eu`) deploys there; without it, those projects
    use `us` unless `region` is in the EU.
    """
    projects = []
    for i in range(count):
        geography, models = GEOGRAPHY_MODELS[i % len(GEOGRAPHY_MODELS)]
        own_region: dict[str, str] = {}
        if geography == "eu" and eu_region:
            own_region = {"region": eu_region}
        elif geography == "eu" and not region.startswith("eu-"):
            geography, models = "us", ["claude-sonnet-4-6", "claude-haiku-4-5"]
        projects.append(
            {
                "name": f"project-{i:04d}",
                **own_region,
                "geography": geography,
                "models": models,
                "monthly_budget_usd": 100 + 10 * i,
                "alert_emails": [f"team-{i}@example.com"],
                "tags": {"cost-center": f"CC-{1000 + i}", "owner": f"team-{i % 17}"},
                "invokers": [f"arn:aws:iam::111122223333:role/app-{i}"],
            }
        )
    # Every project reserves the default concurrency (DEFAULT_MAX_CONCURRENCY): a platform this
    # large runs with a raised Lambda quota, declared so the region's sum check passes.
    quota = max(1000, count * DEFAULT_MAX_CONCURRENCY + 100)
    return {
        "region": region,
        "cost_allocation_tag_key": "project",
        "lambda_concurrency_quota": quota,
        "projects": projects,
    }


def main() -> int:
    """Write a config with N projects to stdout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("--eu-region", help="deploy the eu-geography projects to this region")
    args = parser.parse_args()
    yaml.safe_dump(large_config(args.count, eu_region=args.eu_region), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
