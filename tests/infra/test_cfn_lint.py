"""cfn-lint over every synthesized template: no errors, no warnings."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint_file

# Known false positives, each with its reason:
IGNORED = {
    # W3005 "dependency already enforced by GetAtt": aws_lambda.Function always adds DependsOn on
    # its role (so the role's policies exist before the function does); redundant, harmless.
    "W3005",
}


def _templates(synth):
    return sorted(synth.outdir.glob("*.template.json"))


@pytest.mark.parametrize("which", ["example", "variant"])
def test_templates_pass_cfn_lint(which, request):
    synth = request.getfixturevalue(which)
    templates = _templates(synth)
    assert len(templates) == len(synth.stacks)
    problems = []
    for path in templates:
        region = synth.stacks[path.name.removesuffix(".template.json")].region  # each in its own region
        matches = lint_file(path, config=ManualArgs(regions=[region], ignore_checks=sorted(IGNORED)))
        problems += [f"{path.name}: {m}" for m in matches]
    assert problems == []
