"""app.py on a bad projects file: problems on stderr, exit 1, no traceback, nothing written."""

from __future__ import annotations

import pytest

from tests.app_runner import run_app

BAD_CONFIG = """\
region: us-east-1
projects:
  - name: Bad_Name
    models: [claude-haiku-4-5]
    monthly_budget_usd: 0
    alert_emails: [not-an-email]
  - name: ok-project
    models: [claude-haiku-4-5]
    monthly_budget_usd: 10
    alert_thresholds: [50, 50]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BAD_CONFIG,
            [
                "4 problem(s), nothing was synthesized",
                "projects[0] (Bad_Name).name:",
                "projects[0] (Bad_Name).monthly_budget_usd:",
                "projects[0] (Bad_Name).alert_emails: [0] 'not-an-email' is not an email address",
                "projects[1] (ok-project).alert_thresholds: thresholds must be distinct",
            ],
        ),
        ("region: us-east-1\nprojects: [\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["(top level): expected a mapping"]),
    ],
    ids=["invalid-fields", "yaml-syntax", "not-a-mapping"],
)
def test_bad_config_exits_1_with_the_problems_and_writes_nothing(tmp_path, text, expected):
    config = tmp_path / "projects.yaml"
    config.write_text(text)
    outdir = tmp_path / "cdk.out"
    result = run_app(config, outdir)
    assert result.returncode == 1
    for line in expected:
        assert line in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not outdir.exists() or not any(outdir.iterdir())


def test_missing_config_file_is_reported(tmp_path):
    result = run_app(tmp_path / "nope.yaml", tmp_path / "cdk.out")
    assert result.returncode == 1
    assert "nope.yaml: cannot read the projects file" in result.stderr
    assert "-c config=PATH" in result.stderr
    assert "Traceback" not in result.stderr
