"""The check pipeline: values -> values schema -> render -> Kubernetes schemas -> backend config
models (Loki, Tempo, Mimir, Pyroscope) -> gates -> alerting rules (promtool, amtool), per environment.

It stops at the first stage that fails and writes nothing: rendering stays in memory and the
kubeconform input lives in a temporary folder that is removed afterwards. A missing tool
(ToolError) is not a finding about the environment, so it propagates instead.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from keelson import alerting, configmodels, helmvalidation, kubeschema, values, valuesschema
from keelson import gates as gating
from keelson import render as rendering
from keelson.errors import RenderError
from keelson.project import ENVS, KUBE_VERSIONS, OPTIONAL_APIS, Project, project
from keelson.stages import Progress, Stages

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from keelson.gates import GateReport
    from keelson.models import Finding, Object, StageResult
    from keelson.values import MergedValues

_T = TypeVar("_T")

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


class Pipeline:
    """One environment's check, in steps: ``validate`` (values, schema), ``render``, then ``judge``
    (kube onwards), so that a release can stop at a values mistake before it lints, and
    ``check_all`` can check every env's render against the Kubernetes schemas at once.

    ``validate`` starts helm rendering in a thread as soon as the values are loaded, so helm works
    while Python checks the schema; a failing schema discards the render. The render assumes every
    optional API is served, so every object the charts can emit is checked; with ``kube_context``
    it is rendered against that cluster instead (what it would get). ``prepared``: the caller
    built the chart dependencies already.
    """

    def __init__(
        self,
        env: str,
        overlays: Sequence[Path | str] = (),
        prj: Project | None = None,
        *,
        versions: Sequence[str] = KUBE_VERSIONS,
        kube_context: str | None = None,
        progress: Progress | None = None,
        prepared: bool = False,
        loaded: values.MergedValues | None = None,
    ) -> None:
        self.prj = prj or project()
        self.loaded = loaded  # values the caller loaded already (a deploy's env guard needs them first)
        self.env, self.overlays, self.versions = env, overlays, versions
        self.kube_context, self.prepared = kube_context, prepared
        self.report = CheckReport(env)
        self.stages = Stages(env, self.report.stages, progress)
        self.merged: values.MergedValues | None = None
        self._render: Future[tuple[rendering.Rendered, float]] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"render-{env}")

    def _rendered(self, user: dict[str, Any]) -> tuple[rendering.Rendered, float]:
        return _timed(
            lambda: rendering.render(
                user,
                prj=self.prj,
                api_versions=OPTIONAL_APIS,
                kube_context=self.kube_context,
                prepare=not self.prepared,
            )
        )

    def validate(self, until: str = "rules") -> bool:
        with self.stages.run("values") as stage:
            self.merged = merged = self.loaded or values.load(self.env, self.overlays, self.prj)
            self.report.values = merged
            stage.detail.append(f"{1 + len(self.overlays)} file(s) over the chart defaults")
        if not self.stages.ok or self.merged is None:
            return False
        if until == "values":
            return True
        merged = self.merged
        if until != "schema":
            self._render = self._pool.submit(self._rendered, merged.user)
        with self.stages.run("schema") as stage:
            stage.findings += valuesschema.check(merged)
            schemas = sum(1 for _, chart in merged.charts if chart.schema_file.is_file())
            stage.detail.append(f"{schemas} schema(s) over {len(merged.charts)} chart(s)")
        return self.stages.ok

    def render(self) -> bool:
        if not self.stages.ok or self._render is None or self.merged is None:
            return False
        with self.stages.run("render") as stage:
            try:
                # The stage's own time is helm's, which ran while the schema was checked.
                rendered, stage.seconds = self._render.result()
            except RenderError as exc:
                # The charts' own validation: one finding per broken rule, in helm's words.
                broken = helmvalidation.findings(exc.message, self.merged)
                if broken is None:
                    raise
                stage.findings += broken
                return False
            self.report.objects, self.report.sources = rendered, rendered.sources
            stage.detail.append(f"{len(self.report.objects)} objects")
        return self.stages.ok

    def judge(
        self,
        until: str = "rules",
        kube: tuple[list[Finding], float] | None = None,
        rules_passed: float | None = None,
    ) -> CheckReport:
        """kube, configs, gates and rules on the render; ``kube``: its findings and seconds, when
        they were found for several envs at once; ``rules_passed``: the seconds of a run that found
        every env's rule files and Alertmanager configs passing (alerting.all_pass)."""
        report, merged, stages = self.report, self.merged, self.stages
        if not stages.ok or merged is None or STAGES.index(until) <= STAGES.index("render"):
            return report
        with stages.run("kube") as stage:
            if kube is None:
                stage.findings += kubeschema.validate(report.objects, self.env, self.versions, self.prj)
            else:
                stage.findings += kube[0]
                stage.seconds = kube[1]
            stage.detail.append(f"Kubernetes {', '.join(self.versions)}")
        if not stages.ok or until == "kube":
            return report
        with stages.run("configs") as stage:
            # The programs are AGPL-3.0 and never built here: their models judge the configs.
            stage.findings += configmodels.check(report.objects, self.env)
            stage.detail.append(configmodels.summary(report.objects))
        if not stages.ok or until == "configs":
            return report
        with stages.run("gates") as stage:
            report.gates = gated = gating.run(
                self.env,
                report.objects,
                merged.merged,
                sources=report.sources,
                values_source=merged.source_of,
            )
            stage.findings += [found.to_finding(self.env) for found in gated.errors]
            stage.detail.append(
                f"{len(gated.rules)} rules, {len(gated.warnings)} warning(s), {len(gated.waived)} waived"
            )
        if not stages.ok or until == "gates":
            return report
        return check_rules(report, self.prj, stages, passed=rules_passed)

    def finish(self, until: str = "rules") -> CheckReport:
        try:
            if self.render():
                self.judge(until)
            return self.report
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
    after_render: Callable[[CheckReport], None] | None = None,
    progress: Progress | None = None,
    loaded: values.MergedValues | None = None,
) -> CheckReport:
    """Run the stages for one environment, up to and including ``until`` (one of STAGES).

    ``after_render`` runs once the fast stages (values, schema, render: the render is where the
    charts' own validation of the values fails) passed: the release lints there, so a bad overlay
    fails in seconds, before lint. ``progress`` hears each stage start and end (keelson.stages).
    ``loaded``: ``env``'s values with these ``overlays`` when the caller has loaded them already;
    the values stage then reuses them.
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}")
    pipeline = Pipeline(
        env, overlays, prj, versions=versions, kube_context=kube_context, progress=progress, loaded=loaded
    )
    try:
        if after_render is None or until in {"values", "schema"}:
            if pipeline.validate(until):
                pipeline.finish(until)
        elif pipeline.validate(until) and pipeline.render():
            after_render(pipeline.report)
            pipeline.judge(until)
        return pipeline.report
    finally:
        pipeline.close()


def check_rules(
    report: CheckReport,
    prj: Project | None = None,
    stages: Stages | None = None,
    *,
    passed: float | None = None,
) -> CheckReport:
    """The rules stage of a rendered report: promtool on the rule files, amtool on the Alertmanager
    config. ``passed``: the seconds of a shared run that found them passing already."""
    with (stages or Stages(report.env, report.stages)).run("rules") as stage:
        checked = alerting.check(report.objects, report.env, prj or project(), passed=passed is not None)
        stage.findings += checked.findings
        stage.detail.append(checked.detail)
        if passed is not None:
            stage.seconds = passed
    return report


def check_all(overlays: Sequence[Path | str] = (), prj: Project | None = None) -> list[CheckReport]:
    """Every environment, concurrently: most of the work is helm, kubeconform, promtool and amtool
    processes, which run side by side. The dependencies are prepared once for the three renders,
    and one kubeconform per Kubernetes version checks every env's objects (each compiles its
    schemas once), so each env's kube stage shows that shared run's time. The reports come back
    in ENVS order. Likewise one promtool and one amtool run check every env's rule files and
    Alertmanager configs first, beside kubeconform; only when that finds a failure does each env
    run its own, whose findings name the env and file."""
    prj = prj or project()
    rendering.prepare_dependencies(prj)
    pipelines = [Pipeline(env, overlays, prj, prepared=True) for env in ENVS]
    try:
        with ThreadPoolExecutor(max_workers=len(ENVS), thread_name_prefix="check") as pool:
            rendered = list(pool.map(lambda pipeline: pipeline.validate() and pipeline.render(), pipelines))
            ready = [pipeline for pipeline, ok in zip(pipelines, rendered, strict=True) if ok]
            rules = pool.submit(_timed, lambda: alerting.all_pass([p.report.objects for p in ready], prj))
            found, seconds = _timed(
                lambda: kubeschema.validate_envs({p.env: p.report.objects for p in ready}, KUBE_VERSIONS, prj)
            )
            passed, rules_seconds = rules.result()
            shared = rules_seconds if passed else None
            list(
                pool.map(
                    lambda pipeline: pipeline.judge(kube=(found[pipeline.env], seconds), rules_passed=shared),
                    ready,
                )
            )
    finally:
        for pipeline in pipelines:
            pipeline.close()
    return [pipeline.report for pipeline in pipelines]


def _timed(work: Callable[[], _T]) -> tuple[_T, float]:
    start = time.perf_counter()
    return work(), time.perf_counter() - start
