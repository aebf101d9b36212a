"""The check pipeline: values -> values schema -> render -> Kubernetes schemas -> backend config
models (Loki, Tempo, Mimir, Pyroscope) -> gates -> alerting rules (promtool, amtool), per environment.

It stops at the first stage that fails and writes nothing: rendering stays in memory and the
kubeconform input lives in a temporary folder that is removed afterwards. A missing tool
(ToolError) is not a finding about the environment, so it propagates instead.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from keelson import alerting, configmodels, kubeschema, values, valuesschema
from keelson import gates as gating
from keelson import render as rendering
from keelson.errors import KeelsonError, ToolError
from keelson.models import Finding, StageResult
from keelson.project import ENVS, KUBE_VERSIONS, OPTIONAL_APIS, Project, project

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from keelson.gates import GateReport
    from keelson.models import Object
    from keelson.values import MergedValues

STAGES = ("values", "schema", "render", "kube", "configs", "gates", "rules")


@dataclass
class CheckReport:
    """The stages that ran for one environment, in order; the last one is the first that failed."""

    env: str
    stages: list[StageResult] = field(default_factory=list)
    objects: list[Object] = field(default_factory=list)
    # Per Kind/namespace/name, the chart template that rendered it (helm's # Source: comments).
    sources: dict[str, str] = field(default_factory=dict)
    gates: GateReport | None = None  # set once the gates stage ran
    # The values once the values stage ran (merged, with provenance, and the user's own): what a
    # release lints, packages and records, so nothing loads them again.
    values: MergedValues | None = None

    @property
    def user(self) -> dict[str, Any]:
        """values/<env>.yaml and the overlays, as helm gets them ({} before the values stage)."""
        return self.values.user if self.values is not None else {}

    @property
    def ok(self) -> bool:
        return all(stage.ok for stage in self.stages)

    @property
    def findings(self) -> list[Finding]:
        return [finding for stage in self.stages for finding in stage.findings]


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


class Pipeline:
    """One environment's check, in two steps: ``validate`` (values, schema) and ``finish`` (render
    onwards), so that a release can stop at a values mistake before it lints.

    ``validate`` starts helm rendering in a thread as soon as the values are loaded, so helm works
    while Python checks the schema; a failing schema discards the render. The render assumes every
    optional API is served, so every object the charts can emit is checked; with ``kube_context``
    it is rendered against that cluster instead (what it would get).
    """

    def __init__(
        self,
        env: str,
        overlays: Sequence[Path | str] = (),
        prj: Project | None = None,
        *,
        versions: Sequence[str] = KUBE_VERSIONS,
        kube_context: str | None = None,
    ) -> None:
        self.prj = prj or project()
        self.env, self.overlays, self.versions = env, overlays, versions
        self.kube_context = kube_context
        self.report = CheckReport(env)
        self.merged: values.MergedValues | None = None
        self._render: Future[tuple[rendering.Rendered, float]] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"render-{env}")

    def _rendered(self, user: dict[str, Any]) -> tuple[rendering.Rendered, float]:
        start = time.perf_counter()
        objects = rendering.render(
            user, prj=self.prj, api_versions=OPTIONAL_APIS, kube_context=self.kube_context
        )
        return objects, time.perf_counter() - start

    def validate(self, until: str = "rules") -> bool:
        report = self.report
        with _stage(report, "values") as stage:
            self.merged = report.values = values.load(self.env, self.overlays, self.prj)
            stage.detail = f"{1 + len(self.overlays)} file(s) over the chart defaults"
        merged = self.merged
        if not report.ok or merged is None:
            return False
        if until != "schema":
            self._render = self._pool.submit(self._rendered, merged.user)
        with _stage(report, "schema") as stage:
            stage.findings = valuesschema.check(merged)
            schemas = sum(1 for _, chart in merged.charts if chart.schema_file.is_file())
            stage.detail = f"{schemas} schema(s) over {len(merged.charts)} chart(s)"
        return report.ok

    def finish(self, until: str = "rules") -> CheckReport:
        report, merged = self.report, self.merged
        try:
            if not report.ok or merged is None or self._render is None:
                return report
            with _stage(report, "render") as stage:
                rendered, seconds = self._render.result()
                report.objects, report.sources = rendered, rendered.sources
                stage.detail = f"{len(report.objects)} objects"
            if report.ok:
                # The stage's own time is helm's, which ran while the schema was checked.
                report.stages[-1] = replace(report.stages[-1], seconds=seconds)
            if not report.ok or until == "render":
                return report
            with _stage(report, "kube") as stage:
                stage.findings = kubeschema.validate(report.objects, self.env, self.versions, self.prj)
                stage.detail = f"Kubernetes {', '.join(self.versions)}"
            if not report.ok or until == "kube":
                return report
            with _stage(report, "configs") as stage:
                # The programs are AGPL-3.0 and never built here: their models judge the configs.
                stage.findings = configmodels.check(report.objects, self.env)
                stage.detail = configmodels.summary(report.objects)
            if not report.ok or until == "configs":
                return report
            with _stage(report, "gates") as stage:
                report.gates = gating.run(
                    self.env,
                    report.objects,
                    merged.merged,
                    sources=report.sources,
                    values_source=merged.source_of,
                )
                stage.findings = [found.to_finding(self.env) for found in report.gates.errors]
                stage.detail = (
                    f"{len(report.gates.rules)} rules, {len(report.gates.warnings)} warning(s), "
                    f"{len(report.gates.waived)} waived"
                )
            if not report.ok or until == "gates":
                return report
            return check_rules(report, self.prj)
        finally:
            self.close()

    def close(self) -> None:
        """Wait for a render still running (its result is dropped) and free its thread."""
        self._pool.shutdown(wait=True, cancel_futures=True)


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

    ``after_schema`` runs once the fast stages (values, schema) passed, while helm renders: the
    release lints there, so a bad overlay fails in seconds rather than after a minute of lint.
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}")
    pipeline = Pipeline(env, overlays, prj, versions=versions, kube_context=kube_context)
    try:
        if pipeline.validate(until) and after_schema is not None:
            after_schema(pipeline.report)
        return pipeline.finish(until)
    finally:
        pipeline.close()


def check_rules(report: CheckReport, prj: Project | None = None) -> CheckReport:
    """The rules stage of a rendered report: promtool on the rule files, amtool on the Alertmanager config."""
    with _stage(report, "rules") as stage:
        checked = alerting.check(report.objects, report.env, prj or project())
        stage.findings = list(checked.findings)
        stage.detail = checked.detail
    return report


def check_all(overlays: Sequence[Path | str] = (), prj: Project | None = None) -> list[CheckReport]:
    """Every environment, concurrently: most of the work is helm, kubeconform, promtool and amtool
    processes, which run side by side. The reports come back in ENVS order."""
    with ThreadPoolExecutor(max_workers=len(ENVS), thread_name_prefix="check") as pool:
        return list(pool.map(lambda env: check(env, overlays, prj), ENVS))
