"""The check pipeline: values -> values schema -> render -> Kubernetes schemas -> backend config
models (Loki, Tempo, Mimir, Pyroscope) -> gates -> alerting rules (promtool, amtool), per environment.

It stops at the first stage that fails and writes nothing: rendering stays in memory and the
kubeconform input lives in a temporary folder that is removed afterwards. A missing tool
(ToolError) is not a finding about the environment, so it propagates instead.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keelson import configmodels, kubeschema, values, valuesschema
from keelson import gates as gating
from keelson import render as rendering
from keelson import rules as alerting
from keelson.errors import KeelsonError, ToolError
from keelson.models import CheckReport, Finding, StageResult
from keelson.project import ENVS, KUBE_VERSIONS, OPTIONAL_APIS, Project, project

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

STAGES = ("values", "schema", "render", "kube", "configs", "gates", "rules")


@dataclass
class _Stage:
    findings: list[Finding] = field(default_factory=list)
    detail: str = ""


@contextmanager
def _stage(report: CheckReport, name: str) -> Iterator[_Stage]:
    stage = _Stage()
    start = time.perf_counter()
    try:
        yield stage
    except ToolError:
        raise
    except KeelsonError as exc:
        stage.findings = [Finding("", "", exc.message)]
    report.stages.append(
        StageResult(name, report.env, time.perf_counter() - start, tuple(stage.findings), stage.detail)
    )


def check(
    env: str,
    overlays: Sequence[Path | str] = (),
    prj: Project | None = None,
    *,
    versions: Sequence[str] = KUBE_VERSIONS,
    until: str = "rules",
    kube_context: str | None = None,
    after_schema: Callable[[CheckReport], None] | None = None,
) -> CheckReport:
    """Run the stages for one environment, up to and including ``until`` (one of STAGES).

    The render assumes every optional API is served, so every object the charts can emit is
    checked; with ``kube_context`` it is rendered against that cluster instead (what it would get).
    ``after_schema`` runs once the fast stages (values, schema) passed, before rendering: the
    release lints there, so a bad overlay fails in seconds rather than after a minute of lint.
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}")
    prj = prj or project()
    report = CheckReport(env)
    merged = None
    with _stage(report, "values") as stage:
        merged = values.load(env, overlays, prj)
        stage.detail = f"{1 + len(overlays)} file(s) over the chart defaults"
    if not report.ok or merged is None:
        return report
    with _stage(report, "schema") as stage:
        stage.findings = valuesschema.check(merged)
        schemas = sum(1 for _, chart in merged.charts if chart.schema_file.is_file())
        stage.detail = f"{schemas} schema(s) over {len(merged.charts)} chart(s)"
    if not report.ok or until == "schema":
        return report
    if after_schema is not None:
        after_schema(report)
    with _stage(report, "render") as stage:
        report.objects = rendering.render(
            merged.user, prj=prj, api_versions=OPTIONAL_APIS, kube_context=kube_context
        )
        stage.detail = f"{len(report.objects)} objects"
    if not report.ok or until == "render":
        return report
    if not _check_rendered(report, versions, prj, until):
        return report
    with _stage(report, "gates") as stage:
        report.gates = gating.run(env, report.objects, merged.merged, values_source=merged.source_of)
        stage.findings = [found.to_finding(env) for found in report.gates.errors]
        stage.detail = (
            f"{len(report.gates.rules)} rules, {len(report.gates.warnings)} warning(s), "
            f"{len(report.gates.waived)} waived"
        )
    if not report.ok or until == "gates":
        return report
    return check_rules(report, prj)


def _check_rendered(report: CheckReport, versions: Sequence[str], prj: Project, until: str) -> bool:
    """The kube and configs stages over the render; True when the later stages should run."""
    with _stage(report, "kube") as stage:
        stage.findings = kubeschema.validate(report.objects, report.env, versions, prj)
        stage.detail = f"Kubernetes {', '.join(versions)}"
    if not report.ok or until == "kube":
        return False
    with _stage(report, "configs") as stage:
        # The programs themselves are AGPL-3.0 and never built here: their models judge the configs.
        stage.findings = configmodels.check(report.objects, report.env)
        stage.detail = configmodels.summary(report.objects)
    return report.ok and until != "configs"


def check_rules(report: CheckReport, prj: Project | None = None) -> CheckReport:
    """The rules stage of a rendered report: promtool on the rule files, amtool on the Alertmanager config."""
    with _stage(report, "rules") as stage:
        checked = alerting.check(report.objects, report.env, prj or project())
        stage.findings = list(checked.findings)
        stage.detail = checked.detail
    return report


def check_all(overlays: Sequence[Path | str] = (), prj: Project | None = None) -> list[CheckReport]:
    return [check(env, overlays, prj) for env in ENVS]
