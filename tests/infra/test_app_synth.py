"""app.py on the example config: synthesizes every stack and prints the per-project summary."""

from __future__ import annotations

from tests.app_runner import run_app


def test_app_synthesizes_the_example_and_prints_a_summary_on_stderr(tmp_path):
    result = run_app("projects.yaml", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # stdout stays clean for `cdk synth`
    summary = result.stderr
    assert (
        "projects.yaml: 4 project(s) in us-east-1 (3), eu-west-1 (1), account from deploy credentials; "
        "6 stacks (shared: claude-platform, claude-platform-eu-west-1)"
    ) in summary
    assert "- support-bot: stack claude-project-support-bot in us-east-1; budget 500 USD/month" in summary
    assert "- eu-assistant: stack claude-project-eu-assistant in eu-west-1; budget 300 USD/month" in summary
    assert "claude-eu-assistant-haiku-4-5-eu -> eu.anthropic.claude-haiku-4-5-20251001-v1:0" in summary
    assert "alerts at 25/50/75/90/100% actual + 100% forecast, 2 alert email(s)" in summary
    assert (
        "claude-support-bot-sonnet-4-5-us -> us.anthropic.claude-sonnet-4-5-20250929-v1:0: "
        "3.3/16.5 USD per 1M input/output tokens, above 200k prompt tokens 6.6/24.75 "
        "(litellm:us.anthropic.claude-sonnet-4-5-20250929-v1:0)"
    ) in summary
    assert "(config:anthropic.claude-3-haiku-20240307-v1:0)" in summary
    assert (
        "before the first deploy: npx cdk bootstrap aws://<account>/us-east-1 aws://<account>/eu-west-1"
    ) in summary
    assert "Traceback" not in summary
    templates = sorted(p.name for p in tmp_path.glob("*.template.json"))
    assert templates == [
        "claude-platform-eu-west-1.template.json",
        "claude-platform.template.json",
        "claude-project-data-science.template.json",
        "claude-project-eu-assistant.template.json",
        "claude-project-legacy-summarizer.template.json",
        "claude-project-support-bot.template.json",
    ]
