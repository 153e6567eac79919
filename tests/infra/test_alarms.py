"""Alarms: three Bedrock metrics per profile plus the proxy's errors, all to the project's topic."""

from __future__ import annotations

from infra_support import profile_logical_id, resources_of_type

SUPPORT = "claude-project-support-bot"
VARIANT = "abcdefghijklmnop-project-" + "a" * 32
CONDITIONS = {
    "throttles": "InvocationThrottles",
    "server-errors": "InvocationServerErrors",
    "client-errors": "InvocationClientErrors",
}


def _alarms(synth, stack_name):
    template = synth.template(stack_name)
    return template, {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    }


def _topic_ref(template):
    (topic_id,) = resources_of_type(template, "AWS::SNS::Topic")
    return {"Ref": topic_id}


def test_three_alarms_per_profile_on_its_model_id(example):
    template, alarms = _alarms(example, SUPPORT)
    project = next(p for p in example.platform.projects if p.name == "support-bot")
    assert len(alarms) == 3 * len(project.models) + 2  # + proxy errors, alert delivery (operations topic)
    for m in project.models:
        profile_id = profile_logical_id(template, m.profile_name)
        for suffix, metric in CONDITIONS.items():
            alarm = alarms[f"claude-support-bot-{m.alias}-{suffix}"]
            assert alarm["Namespace"] == "AWS/Bedrock"
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [
                {"Name": "ModelId", "Value": {"Fn::GetAtt": [profile_id, "InferenceProfileId"]}}
            ]
            assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
            assert alarm["TreatMissingData"] == "notBreaching"
            assert alarm["AlarmActions"] == [_topic_ref(template)]


def test_default_thresholds(example):
    _, alarms = _alarms(example, SUPPORT)
    assert alarms["claude-support-bot-claude-haiku-4-5-throttles"]["Threshold"] == 10
    assert alarms["claude-support-bot-claude-haiku-4-5-server-errors"]["Threshold"] == 5
    assert alarms["claude-support-bot-claude-haiku-4-5-client-errors"]["Threshold"] == 25


def test_configured_thresholds(variant):
    _, alarms = _alarms(variant, VARIANT)
    prefix = "abcdefghijklmnop-" + "a" * 32
    assert alarms[f"{prefix}-claude-opus-4-5-throttles"]["Threshold"] == 3
    assert alarms[f"{prefix}-claude-opus-4-5-server-errors"]["Threshold"] == 2
    assert alarms[f"{prefix}-claude-opus-4-5-client-errors"]["Threshold"] == 7
    assert alarms[f"{prefix}-proxy-errors"]["Threshold"] == 2


def test_descriptions_say_what_fired_where_and_what_to_do(example):
    _, alarms = _alarms(example, SUPPORT)
    description = alarms["claude-support-bot-claude-sonnet-4-5-throttles"]["AlarmDescription"]
    assert "project support-bot" in description
    assert "claude-sonnet-4-5" in description
    assert "claude-support-bot-sonnet-4-5" in description  # the profile
    assert "Service Quotas" in description  # what to do
    assert "unverified" in description  # the ModelId dimension is an assumption
    for alarm in alarms.values():
        assert len(alarm["AlarmDescription"]) <= 1024


def test_proxy_errors_alarm_counts_crashes_and_returned_platform_errors(example):
    template, alarms = _alarms(example, SUPPORT)
    (function_id,) = resources_of_type(template, "AWS::Lambda::Function")
    alarm = alarms["claude-support-bot-proxy-errors"]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    expression = next(q for q in alarm["Metrics"] if "Expression" in q)
    assert expression["ReturnData"] is True
    stats = {q["Id"]: q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q}
    assert set(stats) == {"crashes", "internal", "configuration"}
    for query_id in stats:
        assert f"FILL({query_id}, 0)" in expression["Expression"]
        assert queries[query_id]["ReturnData"] is False
    crashes = stats["crashes"]
    assert (crashes["Metric"]["Namespace"], crashes["Metric"]["MetricName"]) == ("AWS/Lambda", "Errors")
    assert crashes["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    for query_id, error_type in (("internal", "internal_error"), ("configuration", "configuration_error")):
        metric = stats[query_id]["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == ("ClaudePlatform", "Errors")
        assert sorted(metric["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "error_type", "Value": error_type},
            {"Name": "project", "Value": "support-bot"},
        ]
    assert all((s["Stat"], s["Period"]) == ("Sum", 300) for s in stats.values())
    assert alarm["Threshold"] == 5
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [_topic_ref(template)]
    assert "project support-bot" in alarm["AlarmDescription"]
