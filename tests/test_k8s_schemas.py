"""The Kubernetes schemas laid out by scripts/k8s_schemas.py: each kind's file stands alone."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from keelson.project import KUBE_VERSIONS

if TYPE_CHECKING:
    from keelson.project import Project

KINDS = ("deployment-apps-v1", "statefulset-apps-v1", "configmap-v1", "networkpolicy-networking-v1")


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_reference_of_a_kind_resolves_inside_its_own_file(
    repo: Project, version: str, kind: str
) -> None:
    text = (repo.k8s_schemas / f"v{version}-standalone-strict" / f"{kind}.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    references = set(re.findall(r'"\$ref":"([^"]*)"', text))
    assert references, "a kind without references would not need this layout"
    assert {ref.removeprefix("#/$defs/") for ref in references} <= set(schema["$defs"])
    assert '"description":"' not in text
