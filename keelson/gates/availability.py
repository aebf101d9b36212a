"""Availability: replicas, rollout, disruption budgets, spreading, resources and probes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from keelson.gates.engine import Context, Hit, rule
from keelson.k8s import Workload, chart_of, selects, service_selects

if TYPE_CHECKING:
    from collections.abc import Iterator

    from keelson.models import Object

# Charts whose Deployments are "the app" (rolling updates without losing capacity).
APP_CHARTS = frozenset({"app"})
# Workloads whose replica count is the capacity behind their Service.
SERVING_KINDS = frozenset({"Deployment", "StatefulSet"})


def _serving(ctx: Context, workload: Workload) -> Object | None:
    """The first Service in the workload's namespace that selects its pods."""
    for service in ctx.selecting("Service", workload):
        if ctx.namespace_of(service) == workload.ref.namespace and service_selects(
            service, workload.pod_labels
        ):
            return service
    return None


@rule(
    "KEEL010",
    "Deployments and StatefulSets that serve traffic run at least 2 replicas in prod",
    envs=("prod",),
    remediation="set replicas: 2 or more (or autoscaling.minReplicas) for this workload in values/prod.yaml",
)
def serving_replicas(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        if workload.kind not in SERVING_KINDS or workload.replicas is None or workload.replicas >= 2:
            continue
        service = _serving(ctx, workload)
        if service is not None:
            name = (service.get("metadata") or {}).get("name")
            yield Hit(
                workload.ref,
                f"serves traffic (Service {name} selects it) but runs {workload.replicas} replica(s)",
                "spec.replicas",
            )


@rule(
    "KEEL011",
    "The app's Deployments roll out with maxUnavailable: 0 in prod",
    envs=("prod",),
    remediation="keep strategy RollingUpdate with rollingUpdate.maxSurge: 1 and maxUnavailable: 0 (app "
    "chart default)",
)
def app_rollout(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        if workload.kind != "Deployment" or chart_of(workload.obj) not in APP_CHARTS:
            continue
        strategy = (workload.obj.get("spec") or {}).get("strategy") or {}
        kind = strategy.get("type", "RollingUpdate")
        if kind != "RollingUpdate":
            yield Hit(
                workload.ref,
                f"rollout strategy {kind} stops every pod before starting new ones",
                "spec.strategy.type",
            )
            continue
        unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
        if str(unavailable) not in ("0", "0%"):
            yield Hit(
                workload.ref,
                f"rollingUpdate.maxUnavailable is {unavailable}, so a rollout drops capacity",
                "spec.strategy.rollingUpdate.maxUnavailable",
            )


def _budgets(ctx: Context, workload: Workload) -> list[Object]:
    return [
        pdb
        for pdb in ctx.selecting("PodDisruptionBudget", workload)
        if ctx.namespace_of(pdb) == workload.ref.namespace
        and selects((pdb.get("spec") or {}).get("selector"), workload.pod_labels)
    ]


@rule(
    "KEEL012",
    "Every multi-replica workload has a PodDisruptionBudget in prod",
    envs=("prod",),
    remediation="enable the chart's pdb (pdb.enabled: true with minAvailable: 1 or maxUnavailable: 1)",
)
def pdb_exists(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        if workload.multi_replica and not _budgets(ctx, workload):
            yield Hit(
                workload.ref, f"runs {workload.replicas} replicas but no PodDisruptionBudget selects its pods"
            )


def _scaled(value: object, replicas: int) -> int | None:
    """An int-or-percent of ``replicas``, rounded up as the disruption controller does."""
    text = str(value).strip()
    if text.endswith("%") and text[:-1].isdigit():
        return math.ceil(int(text[:-1]) * replicas / 100)
    return int(text) if text.isdigit() else None


@rule(
    "KEEL013",
    "PodDisruptionBudgets never block every eviction",
    remediation="use minAvailable below the replica count (e.g. 1 with 2+ replicas) or maxUnavailable: 1",
)
def pdb_allows_eviction(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        if workload.replicas is None:
            continue
        for pdb in _budgets(ctx, workload):
            spec = pdb.get("spec") or {}
            subject = ctx.ref(pdb)
            if "maxUnavailable" in spec:
                allowed = _scaled(spec["maxUnavailable"], workload.replicas)
                if allowed is not None and allowed < 1:
                    yield Hit(
                        subject,
                        f"maxUnavailable {spec['maxUnavailable']} lets no pod of "
                        f"{workload.ref.display} be evicted",
                        "spec.maxUnavailable",
                    )
            elif "minAvailable" in spec:
                needed = _scaled(spec["minAvailable"], workload.replicas)
                if needed is not None and needed >= workload.replicas:
                    yield Hit(
                        subject,
                        f"minAvailable {spec['minAvailable']} with {workload.replicas} replica(s) "
                        f"of {workload.ref.display} blocks every eviction (node drains hang)",
                        "spec.minAvailable",
                    )


def _spreads(workload: Workload) -> bool:
    own = workload.pod_labels
    anti = (workload.pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    terms += [
        (item or {}).get("podAffinityTerm") or {}
        for item in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]
    if any(selects(term.get("labelSelector"), own, empty_selects_all=False) for term in terms):
        return True
    constraints = workload.pod_spec.get("topologySpreadConstraints") or []
    return any(selects(item.get("labelSelector"), own, empty_selects_all=False) for item in constraints)


@rule(
    "KEEL014",
    "Multi-replica workloads spread their pods (anti-affinity or topology spread) in prod",
    envs=("prod",),
    remediation="set podAntiAffinityPreset: soft or hard, or enable topologySpread, for this workload",
)
def spread(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        if workload.multi_replica and not _spreads(workload):
            yield Hit(
                workload.ref,
                f"runs {workload.replicas} replicas with no pod anti-affinity or topology "
                "spread that selects its own pods, so they may share one node",
                f"{workload.pod_path}.affinity",
            )


@rule(
    "KEEL015",
    "Every container requests and limits cpu and memory",
    remediation="set resources.requests and resources.limits (cpu and memory) for this container in values",
)
def resources(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        for container in workload.containers():
            spec = container.spec.get("resources") or {}
            missing = [
                f"{group}.{name}"
                for group in ("requests", "limits")
                for name in ("cpu", "memory")
                if not (spec.get(group) or {}).get(name)
            ]
            if missing:
                yield Hit(
                    workload.ref,
                    f'container "{container.name}": resources {", ".join(missing)} not set',
                    f"{container.path}.resources",
                )


@rule(
    "KEEL016",
    "Every long-running container has liveness and readiness probes",
    remediation="give the container probes.liveness and probes.readiness (httpGet on a health endpoint)",
)
def probes(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        if not workload.long_running:
            continue
        for container in workload.containers(init=False):
            missing = [name for name in ("livenessProbe", "readinessProbe") if not container.spec.get(name)]
            if missing:
                yield Hit(
                    workload.ref,
                    f'container "{container.name}": no {" and no ".join(missing)}',
                    container.path,
                )
