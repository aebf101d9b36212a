"""Acceptance: a values override that breaks a production rule fails the prod gates with the rule id.

Each override is rendered by helm from values/prod.yaml plus the override. Where the values schema
already refuses the override (`latest`, a password literal), the render skips the schema, the way
`helm install --skip-schema-validation` or a hand-edited manifest would: the gates still catch it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from gates_helpers import rendered_with

from keelson import gates, valuesschema
from keelson.values import load

OVERRIDES = [
    pytest.param(
        "KEEL001",
        "app: {components: {backend: {image: {tag: latest}}}}",
        True,
        re.escape(
            'Deployment keelson/keelson-app-backend: container "backend": image tag "latest" is not pinned'
        ),
        id="latest",
    ),
    pytest.param(
        "KEEL012",
        "app: {componentDefaults: {pdb: {enabled: false}}}",
        False,
        re.escape(
            "Deployment keelson/keelson-app-backend: runs 3 replicas "
            "but no PodDisruptionBudget selects its pods"
        ),
        id="no-pdb",
    ),
    pytest.param(
        "KEEL025",
        "app: {components: {frontend: {securityContext: {privileged: true}}}}",
        False,
        re.escape('Deployment keelson/keelson-app-frontend: container "frontend": privileged is true'),
        id="privileged",
    ),
    pytest.param(
        "KEEL040",
        "app: {components: {backend: {env: [{name: DB_PASSWORD, value: hunter2}]}}}",
        True,
        # the index of the variable depends on the chart's own variables before it
        r"Deployment keelson/keelson-app-backend: spec\.template\.spec\.containers\[0\]\.env\[\d+\]\.value: "
        r'"DB_PASSWORD" holds a literal value',
        id="password-env",
    ),
]


@pytest.mark.parametrize(("rule", "overlay", "schema_refuses", "says"), OVERRIDES)  # says: a regex
def test_override_fails_the_prod_gates(rule: str, overlay: str, schema_refuses: bool, says: str) -> None:
    release = rendered_with("prod", overlay, skip_schema=schema_refuses)
    with pytest.raises(gates.GateError) as failure:
        gates.enforce("prod", release.objects, release.values)
    line = failure.value.message
    assert "\n" not in line
    assert re.match(rf"gates prod: {rule} {says} \(remediation: ", line), line
    assert "hunter2" not in line


@pytest.mark.parametrize(("rule", "overlay", "schema_refuses", "says"), OVERRIDES)
def test_schema_and_gates_agree(rule: str, overlay: str, schema_refuses: bool, says: str) -> None:
    """The schema refuses what it can see in values; the gates cover the rest (and the same again)."""
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "overlay.yaml"
        file.write_text(overlay, encoding="utf-8")
        findings = valuesschema.check(load("prod", [file]))
    assert bool(findings) == schema_refuses, [str(finding) for finding in findings]
