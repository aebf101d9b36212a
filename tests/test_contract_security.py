"""Issue 3, items 5 and 6, field by field: pod security, scratch space, probes, resources, the
NetworkPolicy allow list, and the dev size of the whole release, for dev and prod.

The NetworkPolicies are evaluated as the cluster would: a connection is allowed when an egress rule
of a policy selecting the source and an ingress rule of a policy selecting the destination both
allow it (the umbrella's default deny selects every pod, so nothing else is open).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from stack_support import (
    BACKENDS,
    RELEASE,
    Peer,
    all_containers,
    connects,
    egress_allows,
    ingress_allows,
    pod_peer,
    pod_spec,
    policies_selecting,
    where,
    workloads,
)
from support import find_object

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object

ENVS = ("dev", "prod")


# --- restricted Pod Security Standard, scratch space ---------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_is_restricted(rendered: Callable[[str], list[Object]], env: str) -> None:
    """The restricted PSS on every pod and container; there is no exception to explain."""
    found = workloads(rendered(env))
    assert len(found) == (10 if env == "prod" else 9)  # prod adds kube-state-metrics
    for obj in found:
        pod = pod_spec(obj)
        assert pod["securityContext"]["runAsNonRoot"] is True, where(obj)
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where(obj)
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host), f"{where(obj)} {host}"
        for c in all_containers(obj):
            ctx = c["securityContext"]
            what = f"{where(obj)} container {c['name']}"
            assert ctx["allowPrivilegeEscalation"] is False, what
            assert ctx["capabilities"] == {"drop": ["ALL"]}, what
            assert ctx["readOnlyRootFilesystem"] is True, what
            assert ctx.get("privileged", False) is False, what
            assert ctx.get("runAsNonRoot", True) is True, what
            assert ctx.get("runAsUser", 10001) != 0, what
            assert ctx.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}, what


@pytest.mark.parametrize("env", ENVS)
def test_writable_paths_are_emptydir_or_claims(rendered: Callable[[str], list[Object]], env: str) -> None:
    for obj in workloads(rendered(env)):
        volumes = {v["name"]: v for v in pod_spec(obj).get("volumes", [])}
        claims = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        for c in all_containers(obj):
            for mount in c.get("volumeMounts", []):
                what = f"{where(obj)} {c['name']}:{mount['mountPath']}"
                if mount["name"] in claims:
                    continue
                volume = volumes[mount["name"]]
                assert "hostPath" not in volume, what
                if not mount.get("readOnly"):
                    assert "emptyDir" in volume, f"{what} is writable but not an emptyDir or a claim"
                    # Bounded: by its own sizeLimit or by the container's ephemeral-storage limit.
                    bounded = volume["emptyDir"].get("sizeLimit") or c["resources"]["limits"].get(
                        "ephemeral-storage"
                    )
                    assert bounded, f"{what}: an unbounded emptyDir"
        # Every pod has a writable scratch folder for /tmp (read-only root filesystem).
        mounts = {m["mountPath"] for c in all_containers(obj) for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts or any(m.startswith("/tmp/") for m in mounts), where(obj)


@pytest.mark.parametrize("env", ENVS)
def test_only_the_agent_mounts_an_api_token(rendered: Callable[[str], list[Object]], env: str) -> None:
    with_token = [
        where(o) for o in workloads(rendered(env)) if pod_spec(o).get("automountServiceAccountToken")
    ]
    # The agent (discovery, logs, kubelet) and kube-state-metrics (it lists and watches the API).
    expected = [f"DaemonSet/{RELEASE}-alloy-agent"]
    if env == "prod":
        expected.append(f"Deployment/{RELEASE}-kube-state-metrics")
    assert with_token == expected


# --- probes, requests and limits ----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_container_has_probes_requests_and_limits(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    for obj in workloads(rendered(env)):
        for c in pod_spec(obj)["containers"]:
            what = f"{where(obj)} container {c['name']}"
            assert "livenessProbe" in c, what
            assert "readinessProbe" in c, what
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{what} {kind}"
        for c in pod_spec(obj).get("initContainers", []):
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), f"{where(obj)} init {c['name']}"


def cpu(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def memory(quantity: str) -> float:
    for unit, factor in _UNITS.items():
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor
    return float(quantity)


def pod_requests(spec: dict[str, Any]) -> tuple[float, float]:
    """A pod's effective requests: the containers' sum, or the largest init container if larger."""

    def total(containers: list[dict[str, Any]], parse: Callable[[str], float], key: str) -> float:
        return sum(parse(c["resources"]["requests"][key]) for c in containers)

    def largest(parse: Callable[[str], float], key: str) -> float:
        return max(
            (parse(c["resources"]["requests"][key]) for c in spec.get("initContainers", [])), default=0
        )

    return (
        max(total(spec["containers"], cpu, "cpu"), largest(cpu, "cpu")),
        max(total(spec["containers"], memory, "memory"), largest(memory, "memory")),
    )


def test_dev_total_requests_under_2_cpu_and_4_gib(rendered: Callable[[str], list[Object]]) -> None:
    """Every container of every workload, times its replicas; a DaemonSet counts once (dev is one node).

    With an HPA the floor (minReplicas) counts. Today's figure is about 0.8 CPU and 1.9 GiB.
    """
    objects = rendered("dev")
    hpas = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["minReplicas"]
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    total_cpu = total_memory = 0.0
    lines = []
    for obj in workloads(objects):
        replicas = (
            1
            if obj["kind"] == "DaemonSet"
            else hpas.get(obj["metadata"]["name"], obj["spec"].get("replicas", 1))
        )
        pod_cpu, pod_memory = pod_requests(pod_spec(obj))
        total_cpu += replicas * pod_cpu
        total_memory += replicas * pod_memory
        lines.append(f"{where(obj)} x{replicas}: {pod_cpu:.2f} CPU {pod_memory / 2**20:.0f}Mi")
    summary = "\n".join(lines) + f"\ntotal {total_cpu:.2f} CPU, {total_memory / 2**30:.2f} GiB"
    assert total_cpu < 2, summary
    assert total_memory < 4 * 2**30, summary


def test_quantity_parsing() -> None:
    assert cpu("250m") == 0.25
    assert cpu("2") == 2
    assert memory("1536Mi") == 1.5 * 2**30
    assert memory("1G") == 10**9


# --- NetworkPolicies -----------------------------------------------------------------------------

# The Gateway's proxies, as networkPolicy.ingressFrom names them by default (GEP-1762's label).
GATEWAY_PROXY = Peer({"gateway.networking.k8s.io/gateway-name": "keelson"}, namespace="gateway-system")
DNS = Peer({"k8s-app": "kube-dns"}, namespace="kube-system")


def peers(objects: list[Object]) -> dict[str, Peer]:
    names = {
        "backend": ("Deployment", f"{RELEASE}-app-backend"),
        "frontend": ("Deployment", f"{RELEASE}-app-frontend"),
        "gateway": ("Deployment", f"{RELEASE}-alloy-gateway"),
        "agent": ("DaemonSet", f"{RELEASE}-alloy-agent"),
        "grafana": ("Deployment", f"{RELEASE}-grafana"),
        **{b: ("StatefulSet", f"{RELEASE}-{b}") for b in BACKENDS},
    }
    return {key: pod_peer(objects, kind, name) for key, (kind, name) in names.items()}


@pytest.mark.parametrize("env", ENVS)
def test_default_deny_in_the_release_namespace(rendered: Callable[[str], list[Object]], env: str) -> None:
    objects = rendered(env)
    deny = find_object(objects, "NetworkPolicy", f"{RELEASE}-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # Every workload also has a policy of its own (its allow list).
    for name, peer in peers(objects).items():
        own = [where(o) for o in policies_selecting(objects, peer) if o["spec"]["podSelector"] != {}]
        assert len(own) == 1, f"{name}: {own}"


# (source, destination, port): the allow list of issue 3, item 5.
ALLOWED = [
    # app -> gateway (OTLP)
    ("backend", "gateway", 4317),
    ("backend", "gateway", 4318),
    ("frontend", "gateway", 4318),
    # Alloy -> backends
    ("agent", "loki", 3100),
    ("agent", "mimir", 8080),
    ("gateway", "loki", 3100),
    ("gateway", "mimir", 8080),
    ("gateway", "tempo", 4317),
    # Grafana -> backends
    ("grafana", "loki", 3100),
    ("grafana", "mimir", 8080),
    ("grafana", "tempo", 3200),
    ("grafana", "pyroscope", 4040),
    # Tempo's metrics generator -> Mimir
    ("tempo", "mimir", 8080),
    # the agent scrapes the annotated pods' metrics ports
    ("agent", "backend", 8000),
    ("agent", "grafana", 3000),
    ("agent", "gateway", 12345),
    # the frontend calls the backend
    ("frontend", "backend", 8000),
]
# Memberlist (7946) and gRPC (9095) between the replicas of each backend.
ALLOWED += [(b, b, port) for b in BACKENDS for port in (7946, 9095)]

DENIED = [
    ("backend", "loki", 3100),  # the app talks to the gateway only
    ("frontend", "mimir", 8080),
    ("backend", "tempo", 4317),
    ("grafana", "gateway", 4317),
    ("loki", "mimir", 7946),  # rings never cross
    ("tempo", "loki", 7946),
    ("mimir", "tempo", 9095),
    ("gateway", "pyroscope", 4040),
    ("backend", "grafana", 3000),
]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(("src", "dst", "port"), ALLOWED)
def test_allowed_connection(
    rendered: Callable[[str], list[Object]], env: str, src: str, dst: str, port: int
) -> None:
    objects = rendered(env)
    known = peers(objects)
    assert connects(objects, known[src], known[dst], port), f"{src} -> {dst}:{port} is blocked"


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(("src", "dst", "port"), DENIED)
def test_denied_connection(
    rendered: Callable[[str], list[Object]], env: str, src: str, dst: str, port: int
) -> None:
    objects = rendered(env)
    known = peers(objects)
    assert not connects(objects, known[src], known[dst], port), f"{src} -> {dst}:{port} is open"


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(("dst", "port"), [("grafana", 3000), ("backend", 8000), ("frontend", 8080)])
def test_the_gateway_reaches_grafana_and_the_app(
    rendered: Callable[[str], list[Object]], env: str, dst: str, port: int
) -> None:
    objects = rendered(env)
    target = peers(objects)[dst]
    assert port in target.ports.values(), f"{dst} has no port {port}: {target.ports}"
    assert ingress_allows(objects, GATEWAY_PROXY, target, port)
    # ... and no other pod of its namespace, no other Gateway's pods, and no other namespace does.
    assert not ingress_allows(objects, Peer({"app": "other"}, namespace="gateway-system"), target, port)
    other_gateway = Peer({"gateway.networking.k8s.io/gateway-name": "other"}, namespace="gateway-system")
    assert not ingress_allows(objects, other_gateway, target, port)
    assert not ingress_allows(objects, Peer(GATEWAY_PROXY.labels, namespace="default"), target, port)
    assert not ingress_allows(objects, Peer(namespace="ingress-nginx"), target, port)


@pytest.mark.parametrize("env", ENVS)
def test_the_gateway_reaches_no_backend(rendered: Callable[[str], list[Object]], env: str) -> None:
    objects = rendered(env)
    known = peers(objects)
    for backend, (port, *_) in BACKENDS.items():
        assert not ingress_allows(objects, GATEWAY_PROXY, known[backend], port), backend


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_may_resolve_names_and_nothing_else_in_kube_system(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    objects = rendered(env)
    for name, peer in peers(objects).items():
        assert egress_allows(objects, peer, DNS, 53, "UDP"), name
        assert egress_allows(objects, peer, DNS, 53, "TCP"), name
        assert not egress_allows(objects, peer, DNS, 443), name
