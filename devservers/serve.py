"""`make serve`: the project's HTTPS endpoint app, run locally for one project of the config.

Configured as the deployed gateway function is: PROJECT_SETTINGS from
`claude_platform.config.runtime_settings` (the one settings contract), the region's ledger table and
alert topic by their names (`claude_platform.naming`), and the project's application inference
profiles found by name in the account (`bedrock:ListInferenceProfiles`), all through boto3's usual
credential chain and `AWS_ENDPOINT_URL_*` variables, the same ones the function honours. Then the
same ASGI app (`claude_proxy.web.app`, `gateway_from_environment`) under uvicorn.

With `--stand-ins` no AWS account is needed: profile ARNs of the right shape are made up (the local
Bedrock server accepts any) and the account id comes from STS at `AWS_ENDPOINT_URL_STS` (moto).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAND_IN_ACCOUNT = "000000000000"


class ServeError(Exception):
    """The project cannot be served (one line says why)."""


def _platform(config_path: Path) -> Any:
    from claude_platform.config import ConfigError, load_config

    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServeError(f"{config_path}: cannot read the projects file ({exc.strerror or exc})") from None
    try:
        return load_config(raw, source=str(config_path))
    except ConfigError as exc:
        raise ServeError(f"{config_path}: " + "; ".join(exc.problems)) from None


def profile_arns(bedrock: Any, prefix: str, project: Any) -> dict[str, str]:
    """Each project model's application inference profile ARN, found by its name; ServeError if missing."""
    from claude_platform.naming import inference_profile_name

    wanted = {
        inference_profile_name(prefix, project.name, m.model, m.geography): m.alias for m in project.models
    }
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {"typeEquals": "APPLICATION", "maxResults": 1000}
    while True:
        page = bedrock.list_inference_profiles(**kwargs)
        for summary in page.get("inferenceProfileSummaries", []):
            alias = wanted.get(summary.get("inferenceProfileName", ""))
            if alias:
                found[alias] = summary["inferenceProfileArn"]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    missing = [name for name, alias in wanted.items() if alias not in found]
    if missing:
        raise ServeError(
            f"{project.name}: no application inference profile named {', '.join(missing)} (deploy first)"
        )
    return found


def stand_in_arns(project: Any, account: str) -> dict[str, str]:
    """Made-up profile ARNs for the local Bedrock server."""
    return {
        m.alias: f"arn:aws:bedrock:{project.region}:{account}:application-inference-profile/local{i}"
        for i, m in enumerate(project.models)
    }


def project_environment(
    config_path: Path, project_name: str, *, stand_ins: bool, session: Any = None
) -> dict[str, str]:
    """PROJECT_SETTINGS and AWS_REGION for the project, as the stack writes them for its function."""
    import boto3

    from claude_platform.config import runtime_settings
    from claude_platform.naming import alert_topic_name, ledger_table_name

    platform = _platform(config_path)
    projects = {p.name: p for p in platform.projects}
    if project_name not in projects:
        raise ServeError(f"PROJECT={project_name}: not in {config_path} (known: {', '.join(projects)})")
    project = projects[project_name]
    if not project.config.gateway.enabled:
        raise ServeError(
            f"PROJECT={project_name}: has no HTTPS endpoint (set `gateway: {{enabled: true}}` in the config)"
        )
    prefix = platform.config.name_prefix
    session = session or boto3.session.Session()
    account = session.client("sts", region_name=project.region).get_caller_identity()["Account"]
    if stand_ins:
        arns = stand_in_arns(project, account)
    else:
        arns = profile_arns(session.client("bedrock", region_name=project.region), prefix, project)
    topic = f"arn:aws:sns:{project.region}:{account}:{alert_topic_name(prefix, project.name)}"
    settings = runtime_settings(project, arns, ledger_table=ledger_table_name(prefix), alert_topic_arn=topic)
    return {"PROJECT_SETTINGS": json.dumps(settings, separators=(",", ":")), "AWS_REGION": project.region}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Serve one project until interrupted; 1 with one line on stderr when it cannot."""
    parser = argparse.ArgumentParser(prog="make serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--config", default="projects.yaml")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--stand-ins", action="store_true", help="made-up profile ARNs (local Bedrock server)"
    )
    args = parser.parse_args(argv)
    for path in (ROOT / "lambda", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        os.environ.update(project_environment(Path(args.config), args.project, stand_ins=args.stand_ins))
    except ServeError as exc:
        print(f"make serve: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # AWS credentials, network: one line, no traceback
        print(f"make serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    import uvicorn
    from claude_proxy.web.app import create_app
    from claude_proxy.web.runtime import gateway_from_environment

    print(f"make serve: {args.project} on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(create_app(gateway_from_environment), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
