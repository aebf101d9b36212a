"""Shared by the gates tests: the real render of each environment, spoiled copies, and lookups."""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson import gates
from keelson.project import NAMESPACE, OPTIONAL_APIS, RELEASE, project
from keelson.render import Rendered, charts_lock, prepare_dependencies, render
from keelson.values import load
from keelson.yamlio import parse_all

if TYPE_CHECKING:
    from keelson.models import Object


@dataclass
class Release:
    """One environment's rendered objects and merged values (a private copy: mutate freely)."""

    env: str
    objects: list[Object]
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)  # the render's template of each object

    def run(self) -> gates.GateReport:
        return gates.run(self.env, self.objects, self.values, sources=self.sources)

    def get(self, kind: str, name: str) -> Object:
        for obj in self.objects:
            if obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
                return obj
        raise AssertionError(f"{kind} {name} is not in the {self.env} render")

    def pod(self, name: str, kind: str = "Deployment") -> dict[str, Any]:
        spec: dict[str, Any] = self.get(kind, name)["spec"]["template"]["spec"]
        return spec

    def container(self, name: str, kind: str = "Deployment") -> dict[str, Any]:
        first: dict[str, Any] = self.pod(name, kind)["containers"][0]
        return first


@cache
def _real(env: str) -> tuple[Rendered, dict[str, Any]]:
    merged = load(env)
    return render(merged.user, api_versions=OPTIONAL_APIS), merged.merged


def real(env: str) -> Release:
    """The render of values/<env>.yaml as `invoke check` makes it (with the optional APIs)."""
    objects, values = _real(env)
    return Release(env, copy.deepcopy(list(objects)), copy.deepcopy(values), dict(objects.sources))


def rendered_with(env: str, overlay: str, skip_schema: bool = False) -> Release:
    """values/<env>.yaml plus an overlay (YAML text), rendered by helm.

    ``skip_schema`` renders the way `helm install --skip-schema-validation` would, to show that the
    gates catch what the values schema would have refused, should anything bypass the schema.
    """
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "overlay.yaml"
        file.write_text(overlay, encoding="utf-8")
        merged = load(env, [file])
    if not skip_schema:
        rendered = render(merged.user, api_versions=OPTIONAL_APIS)
        return Release(env, list(rendered), merged.merged, rendered.sources)
    prj = project()
    prepare_dependencies(prj)
    args = [
        str(prj.tool("helm")),
        "template",
        RELEASE,
        str(prj.umbrella),
        "--namespace",
        NAMESPACE,
        "--values",
        "-",
        "--skip-schema-validation",
    ]
    for api in OPTIONAL_APIS:
        args += ["--api-versions", api]
    with charts_lock(prj, exclusive=False):
        done = subprocess.run(args, input=json.dumps(merged.user), capture_output=True, text=True, check=True)
    return Release(env, parse_all(done.stdout, "helm template"), merged.merged)


def without_waivers(release: Release) -> Release:
    """The release with the environment's own waivers (gates.waive) removed: the rules alone."""
    settings = release.values.get("gates")
    if isinstance(settings, dict):
        settings.pop("waive", None)
    return release


def rules_hit(report: gates.GateReport) -> set[str]:
    return {finding.rule for finding in report.findings}


def hits(report: gates.GateReport, rule: str) -> list[gates.GateFinding]:
    return [finding for finding in report.findings if finding.rule == rule]
