"""Log groups that may hold prompt text (`log_prompts: true`) are encrypted with the project's own
customer-managed key, which CloudWatch Logs may use for those log groups only."""

from __future__ import annotations

from infra_support import render, resources_of_type

VARIANT = "abcdefghijklmnop-project-" + "a" * 32


def test_log_prompts_project_log_group_uses_its_own_key_limited_to_its_log_groups(variant):
    template = variant.template(VARIANT)
    ((key_id, key),) = resources_of_type(template, "AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    (log_group,) = resources_of_type(template, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    logs = statements["AllowCloudWatchLogsForTheProjectsLogGroupsOnly"]
    assert logs["Principal"] == {"Service": "logs.ca-central-1.amazonaws.com"}
    assert logs["Resource"] == "*"
    assert sorted(logs["Action"]) == [
        "kms:Decrypt*",
        "kms:Describe*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]
    name = log_group["Properties"]["LogGroupName"]
    assert render(logs["Condition"]) == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": [
                f"arn:${{AWS::Partition}}:logs:ca-central-1:123456789012:log-group:{name}"
            ]
        }
    }
    # Besides the logs service, only the account's own administration statement (CDK default).
    assert set(statements) == {"AllowCloudWatchLogsForTheProjectsLogGroupsOnly", None}


def test_projects_without_log_prompts_have_no_logs_key(example):
    for _, stack in example.project_stacks():
        template = example.template(stack.stack_name)
        assert resources_of_type(template, "AWS::KMS::Key") == {}
        for log_group in resources_of_type(template, "AWS::Logs::LogGroup").values():
            assert "KmsKeyId" not in log_group["Properties"]
