"""Network: every pod is selected by a NetworkPolicy (the umbrella's default deny selects them all)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keelson.gates.engine import Context, Hit, rule
from keelson.gates.k8s import selects

if TYPE_CHECKING:
    from collections.abc import Iterator


@rule(
    "KEEL030",
    "Every pod is selected by a NetworkPolicy",
    remediation="keep networkPolicy.defaultDeny: true in the umbrella and the chart's "
    "networkPolicy.enabled: true",
)
def policy_coverage(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        covered = any(
            ctx.namespace_of(policy) == workload.ref.namespace
            and selects((policy.get("spec") or {}).get("podSelector"), workload.pod_labels)
            for policy in ctx.selecting("NetworkPolicy", workload)
        )
        if not covered:
            yield Hit(
                workload.ref,
                f"no NetworkPolicy in namespace {workload.ref.namespace} selects its pods, "
                "so they accept traffic from anywhere",
                f"{workload.pod_path.removesuffix('.spec')}.metadata.labels",
            )
