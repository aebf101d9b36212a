"""Network: every pod is selected by a NetworkPolicy (the umbrella's default deny selects them all),
and no rule an overlay adds opens a door to every address or every namespace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keelson.gates.engine import Context, Hit, rule
from keelson.k8s import selects

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


# Addresses that mean "anywhere": a peer with one of these and no `except` opens the rule to all.
EVERYWHERE = frozenset({"0.0.0.0/0", "::/0"})


def _rules(policy: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """``(direction key, index, rule)`` for every ingress (``from``) and egress (``to``) rule."""
    spec = policy.get("spec") or {}
    for direction in ("ingress", "egress"):
        for index, entry in enumerate(spec.get(direction) or []):
            yield direction, index, entry if isinstance(entry, Mapping) else {}


@rule(
    "KEEL031",
    "NetworkPolicy rules name their peers; none opens every address on every port",
    envs=("staging", "prod"),
    remediation="give every ingress rule a `from` and every egress rule a `to` (pod or namespace "
    "selectors, or an ipBlock with `except`); an overlay's extraEgress/extraIngress too",
)
def no_open_rules(ctx: Context) -> Iterator[Hit]:
    for policy in ctx.of_kind("NetworkPolicy"):
        for direction, index, entry in _rules(policy):
            peers_key = "from" if direction == "ingress" else "to"
            path = f"spec.{direction}[{index}]"
            peers = entry.get(peers_key)
            if not peers:
                ports = "every port" if not entry.get("ports") else "its ports"
                yield Hit(
                    ctx.ref(policy),
                    f"{direction} rule {index} has no `{peers_key}`, so it allows every address on {ports}",
                    path,
                )
                continue
            for number, peer in enumerate(peers):
                block = (peer or {}).get("ipBlock") if isinstance(peer, Mapping) else None
                # Every address on named ports is how the API server and kubelets are reached (their
                # addresses are not known in advance); every address on every port is a hole.
                if (
                    isinstance(block, Mapping)
                    and block.get("cidr") in EVERYWHERE
                    and not block.get("except")
                    and not entry.get("ports")
                ):
                    yield Hit(
                        ctx.ref(policy),
                        f"{direction} rule {index} allows ipBlock {block.get('cidr')} without `except` "
                        "on every port",
                        f"{path}.{peers_key}[{number}].ipBlock",
                    )


@rule(
    "KEEL032",
    "Namespace selectors in NetworkPolicies name their namespaces",
    envs=("staging", "prod"),
    remediation="select namespaces by label, e.g. namespaceSelector.matchLabels "
    "kubernetes.io/metadata.name: kube-system; an empty selector means every namespace",
)
def no_empty_namespace_selectors(ctx: Context) -> Iterator[Hit]:
    for policy in ctx.of_kind("NetworkPolicy"):
        for direction, index, entry in _rules(policy):
            peers_key = "from" if direction == "ingress" else "to"
            for number, peer in enumerate(entry.get(peers_key) or []):
                if not isinstance(peer, Mapping) or "namespaceSelector" not in peer:
                    continue
                selector = peer.get("namespaceSelector") or {}
                if not selector.get("matchLabels") and not selector.get("matchExpressions"):
                    yield Hit(
                        ctx.ref(policy),
                        f"{direction} rule {index}: an empty namespaceSelector selects every namespace",
                        f"spec.{direction}[{index}].{peers_key}[{number}].namespaceSelector",
                    )
