"""Which resources a template change makes CloudFormation replace, and which of those cannot be.

CloudFormation replaces a resource when one of its create-only properties changes (or when a
create-only property refers to a resource that is itself replaced: its Ref/GetAtt value changes). A
replacement creates the new resource before deleting the old one, so a resource whose custom name
stays the same cannot be replaced: the update fails. Create-only properties come from the resource
provider schemas cfn-lint ships, not from a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

# The property that holds a resource's own name, for every resource type the app creates; None: the
# type has no name of its own (or CloudFormation generates it). A type missing here fails
# `custom_name_property`, so a new resource type must be classified before its changes are checked.
CUSTOM_NAME_PROPERTY: dict[str, str | None] = {
    "AWS::Bedrock::ApplicationInferenceProfile": "/properties/InferenceProfileName",
    "AWS::Bedrock::Guardrail": "/properties/Name",
    "AWS::Bedrock::GuardrailVersion": None,
    "AWS::Budgets::Budget": "/properties/Budget/BudgetName",
    "AWS::SNS::Topic": "/properties/TopicName",
    "AWS::CloudWatch::Alarm": "/properties/AlarmName",
    "AWS::CloudWatch::Dashboard": "/properties/DashboardName",
    "AWS::DynamoDB::Table": "/properties/TableName",
    "AWS::Lambda::Function": "/properties/FunctionName",
    "AWS::Lambda::Alias": "/properties/Name",
    "AWS::Logs::LogGroup": "/properties/LogGroupName",
    "AWS::KMS::Alias": "/properties/AliasName",
    "AWS::IAM::Role": "/properties/RoleName",
    "AWS::IAM::ManagedPolicy": "/properties/ManagedPolicyName",
    "AWS::Events::Rule": "/properties/Name",  # the schedules set none: CloudFormation generates it
    "AWS::KMS::Key": None,
    "AWS::Budgets::BudgetsAction": None,
    "AWS::SNS::TopicPolicy": None,
    "AWS::SNS::Subscription": None,
    "AWS::Lambda::Permission": None,
    "AWS::Lambda::Url": None,
    "AWS::Lambda::Version": None,
    "AWS::IAM::Policy": None,  # inline policy: its name is scoped to the role
}
# Names unique per account, not per region: two stacks of different regions must not share them.
ACCOUNT_WIDE_NAMES = {
    "AWS::Budgets::Budget",
    "AWS::CloudWatch::Dashboard",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
}


@cache
def create_only_properties(resource_type: str, region: str = "us-east-1") -> tuple[str, ...]:
    """JSON pointers (`/properties/...`) of the type's create-only properties, from its schema."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    return tuple(schema.get("createOnlyProperties", ()))


def custom_name_property(resource_type: str) -> str | None:
    """The pointer of the type's own name property (see CUSTOM_NAME_PROPERTY)."""
    if resource_type not in CUSTOM_NAME_PROPERTY:
        raise KeyError(
            f"{resource_type} is not classified in tests/infra/replacement.py CUSTOM_NAME_PROPERTY: "
            "add its name property (or None)"
        )
    return CUSTOM_NAME_PROPERTY[resource_type]


_MISSING = object()


def _at(resource: Mapping[str, Any], pointer: str) -> Any:
    """The value at a `/properties/A/B` pointer, or _MISSING."""
    node: Any = resource.get("Properties", {})
    for part in pointer.removeprefix("/properties/").split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _references(value: Any) -> Iterator[str]:
    """Logical ids a value refers to with Ref or Fn::GetAtt (also inside Fn::Sub strings' maps)."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, Mapping):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
            yield value["Ref"]
        elif set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            yield target[0] if isinstance(target, list) else str(target).split(".")[0]
        else:
            for item in value.values():
                yield from _references(item)


def custom_name(resource: Mapping[str, Any]) -> Any:
    """The resource's own name as written in the template, or None when it has none."""
    pointer = custom_name_property(resource["Type"])
    if pointer is None:
        return None
    value = _at(resource, pointer)
    return None if value is _MISSING else value


@dataclass(frozen=True)
class Problem:
    """One change CloudFormation cannot deploy."""

    stack: str
    logical_id: str
    resource_type: str
    name: Any
    why: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.resource_type}, name {self.name!r}): {self.why}"


def replaced_resources(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[str]]:
    """Logical id -> why, for every resource in both templates that an update replaces."""
    old, new = before.get("Resources", {}), after.get("Resources", {})
    replaced: dict[str, list[str]] = {}
    changed = True
    while changed:  # a replacement changes the Ref/GetAtt of whatever refers to it: to a fixpoint
        changed = False
        for logical_id, resource in new.items():
            previous = old.get(logical_id)
            if logical_id in replaced or previous is None or previous["Type"] != resource["Type"]:
                continue
            reasons = []
            for pointer in create_only_properties(resource["Type"]):
                was, now = _at(previous, pointer), _at(resource, pointer)
                if was != now:
                    reasons.append(f"create-only {pointer} changed")
                elif now is not _MISSING:
                    reasons += [
                        f"create-only {pointer} refers to replaced {ref}"
                        for ref in _references(now)
                        if ref in replaced
                    ]
            if reasons:
                replaced[logical_id] = reasons
                changed = True
    return replaced


def undeployable_changes(stack: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Problem]:
    """Updates of one stack that CloudFormation refuses: a replaced resource keeping its custom
    name, or a custom name moving to a new logical id (created before the old one is deleted)."""
    old, new = before.get("Resources", {}), after.get("Resources", {})
    problems = []
    for logical_id, reasons in replaced_resources(before, after).items():
        resource = new[logical_id]
        name = custom_name(resource)
        if name is not None and name == custom_name(old[logical_id]):
            problems.append(
                Problem(
                    stack,
                    logical_id,
                    resource["Type"],
                    name,
                    "replaced but keeps its name: " + "; ".join(reasons),
                )
            )
    old_names = {(r["Type"], repr(n)): lid for lid, r in old.items() if (n := custom_name(r)) is not None}
    for logical_id, resource in new.items():
        name = custom_name(resource)
        previous_id = old_names.get((resource["Type"], repr(name)))
        if (
            name is not None
            and previous_id is not None
            and previous_id != logical_id
            and previous_id not in new
        ):
            problems.append(
                Problem(stack, logical_id, resource["Type"], name, f"name moves from removed {previous_id}")
            )
    return problems


def account_wide_name_clashes(
    old_stack: str, before: Mapping[str, Any], new_stack: str, after: Mapping[str, Any]
) -> list[Problem]:
    """Account-wide names that a stack created in another region shares with the stack it replaces
    (the old stack still exists when the new one is created)."""
    taken = {
        (r["Type"], repr(n))
        for r in before.get("Resources", {}).values()
        if r["Type"] in ACCOUNT_WIDE_NAMES
        if (n := custom_name(r)) is not None
    }
    return [
        Problem(new_stack, logical_id, resource["Type"], name, f"account-wide name also used by {old_stack}")
        for logical_id, resource in after.get("Resources", {}).items()
        if resource["Type"] in ACCOUNT_WIDE_NAMES
        and (name := custom_name(resource)) is not None
        and (resource["Type"], repr(name)) in taken
    ]
