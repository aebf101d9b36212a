"""Acceptance: a values override that breaks a production rule fails the prod gates with the rule id.

Each override is rendered by helm from values/prod.yaml plus the override. Where the values schema
already refuses the override (a password literal), the render skips the schema, the way
`helm install --skip-schema-validation` would: the gates still catch it. An unpinned image in prod
the charts' own validation refuses at render, even without the schema; the gates still catch it in
a manifest edited after the render.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import yaml
from gates_helpers import Release, rendered_with

from keelson import gates, valuesschema
from keelson.errors import RenderError
from keelson.render import render
from keelson.values import load

OVERRIDES = [
    pytest.param(
        "KEEL001",
        "app: {components: {backend: {image: {tag: latest}}}}",
        "render",
        re.escape(
            'Deployment keelson/keelson-app-backend: container "backend": image tag "latest" is not pinned'
        ),
        id="latest",
    ),
    pytest.param(
        "KEEL012",
        "app: {componentDefaults: {pdb: {enabled: false}}}",
        "",
        re.escape(
            "Deployment keelson/keelson-app-backend: runs 3 replicas "
            "but no PodDisruptionBudget selects its pods"
        ),
        id="no-pdb",
    ),
    pytest.param(
        "KEEL025",
        "app: {components: {frontend: {securityContext: {privileged: true}}}}",
        "",
        re.escape('Deployment keelson/keelson-app-frontend: container "frontend": privileged is true'),
        id="privileged",
    ),
    pytest.param(
        "KEEL040",
        "app: {components: {backend: {env: [{name: DB_PASSWORD, value: hunter2}]}}}",
        "schema",
        # the index of the variable depends on the chart's own variables before it
        r"Deployment keelson/keelson-app-backend: spec\.template\.spec\.containers\[0\]\.env\[\d+\]\.value: "
        r'"DB_PASSWORD" holds a literal value',
        id="password-env",
    ),
]


def _hand_edited(overlay: str) -> Release:
    """prod rendered as it is, then the backend's image tag set as the overlay says, by hand."""
    release = rendered_with("prod", "")
    tag = yaml.safe_load(overlay)["app"]["components"]["backend"]["image"]["tag"]
    (backend,) = [
        o
        for o in release.objects
        if o["metadata"]["name"] == "keelson-app-backend" and o["kind"] == "Deployment"
    ]
    container = backend["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + f":{tag}"
    return release


@pytest.mark.parametrize(("rule", "overlay", "refused_by", "says"), OVERRIDES)  # says: a regex
def test_override_fails_the_prod_gates(rule: str, overlay: str, refused_by: str, says: str) -> None:
    if refused_by == "render":
        release = _hand_edited(overlay)
    else:
        release = rendered_with("prod", overlay, skip_schema=refused_by == "schema")
    with pytest.raises(gates.GateError) as failure:
        gates.enforce("prod", release.objects, release.values)
    line = failure.value.message
    assert "\n" not in line
    assert re.match(rf"gates prod: {rule} {says} \(remediation: ", line), line
    assert "hunter2" not in line


@pytest.mark.parametrize(("rule", "overlay", "refused_by", "says"), OVERRIDES)
def test_values_checks_and_gates_agree(rule: str, overlay: str, refused_by: str, says: str) -> None:
    """The schema refuses what it can see in one value, the charts' validation what compares values
    (or the env); the gates cover the rest, and the same again."""
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "overlay.yaml"
        file.write_text(overlay, encoding="utf-8")
        merged = load("prod", [file])
    findings = valuesschema.check(merged)
    assert bool(findings) == (refused_by == "schema"), [str(finding) for finding in findings]
    if refused_by == "render":
        with pytest.raises(RenderError, match=r"app\.components\.backend\.image\.tag: must be a semantic"):
            render(merged.user)
