"""Helpers for the operator's tests on the local control plane (tests/test_operator_*cluster*.py).

- ``alias_kubeconfig``: a kubeconfig whose context ``keelson-<name>`` names the local cluster
  ``<name>``, so a test can stand on "the prod cluster" (envs are bound to clusters by name);
- ``release_namespace``: the release's own namespace ``keelson`` (the release, the README and
  preflight use it), held by one test at a time and left empty;
- ``prerequisites``: what "Before you install" asks for, provisioned with generated values;
- ``chart_deps``: the charts' dependencies built once, as the charts tests install need them.
"""

from __future__ import annotations

import fcntl
import json
import secrets
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from keelson import cluster as local_cluster
from keelson.render import charts_lock, prepare_dependencies

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cluster_plugin import LocalCluster

    from keelson.prerequisites import Prerequisite

RELEASE_NAMESPACE = "keelson"
# A ClusterIssuer API of our own making: preflight only asks the API server whether it is served
# and which ClusterIssuers exist; nothing here issues certificates.
ISSUER_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterissuers.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io",
        "scope": "Cluster",
        "names": {"plural": "clusterissuers", "singular": "clusterissuer", "kind": "ClusterIssuer"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


# The Gateway API's two kinds the routes need, as bare CRDs: preflight asks whether HTTPRoute is
# served and which Gateways (and listeners) exist; nothing here routes traffic.
GATEWAY_CRDS: list[dict[str, Any]] = [
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.gateway.networking.k8s.io",
            # A *.k8s.io group is protected: the real CRDs carry the approval (the API review) too.
            "annotations": {
                "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"
            },
        },
        "spec": {
            "group": "gateway.networking.k8s.io",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": ISSUER_CRD["spec"]["versions"],
        },
    }
    for plural, kind in (("gateways", "Gateway"), ("httproutes", "HTTPRoute"))
]
# Namespaces provision() makes (a Gateway's, the route sources'), removed by that label.
MADE_HERE = "keelson.test/prerequisite"


def alias_kubeconfig(cluster: LocalCluster, folder: Path, name: str) -> Path:
    """``cluster``'s kubeconfig plus a context ``keelson-<name>`` on the same server, whose cluster is
    named ``name``; the original context stays (and stays current)."""
    config: dict[str, Any] = json.loads(cluster.kubectl("config", "view", "--raw", "--output", "json").stdout)
    (server,) = config["clusters"]
    (context,) = config["contexts"]
    config["clusters"].append({**server, "name": name})
    config["contexts"].append({"name": f"keelson-{name}", "context": {**context["context"], "cluster": name}})
    path = folder / f"kubeconfig-{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _empty(cluster: LocalCluster) -> None:
    cluster.helm("uninstall", "keelson", "--namespace", RELEASE_NAMESPACE, "--wait", check=False)
    cluster.kubectl(
        "delete", "namespace", RELEASE_NAMESPACE, "--ignore-not-found", "--wait=true", check=False
    )


@contextmanager
def release_namespace(cluster: LocalCluster) -> Iterator[str]:
    """Namespace ``keelson``, absent when the test starts and removed after it; one test at a time."""
    folder = local_cluster.state_dir(cluster.prj) / "tests"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "release-namespace.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _empty(cluster)
        try:
            yield RELEASE_NAMESPACE
        finally:
            _empty(cluster)


def _apply(cluster: LocalCluster, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def gateway_api(cluster: LocalCluster) -> None:
    for crd in GATEWAY_CRDS:
        _apply(cluster, crd)
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}")


def made_namespace(cluster: LocalCluster, name: str, labels: dict[str, str] | None = None) -> None:
    """Namespace ``name`` with ``labels``, marked for remove_cluster_prerequisites."""
    metadata = {"name": name, "labels": {**(labels or {}), MADE_HERE: "true"}}
    _apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})


def held_pod(cluster: LocalCluster, namespace: str, labels: dict[str, str]) -> None:
    """A Pod with ``labels`` that never runs (a scheduling gate holds it): the API object is all
    preflight looks for, and nothing is pulled or scheduled."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "route-source", "namespace": namespace, "labels": labels},
        "spec": {
            "schedulingGates": [{"name": "keelson.test/held"}],
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "pause",
                    "image": "registry.k8s.io/pause:3.10",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsUser": 65535,
                    },
                }
            ],
        },
    }
    _apply(cluster, pod)


def _labels(selector: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in selector.split(","))


def provision(cluster: LocalCluster, needs: list[Prerequisite]) -> None:
    """Create each checkable prerequisite, Secrets with random values of the keys they must hold."""
    for need in needs:
        if need.kind == "Secret":
            data = {key: secrets.token_hex(8) for key in need.keys or ("value",)}
            manifest = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": need.name, "namespace": need.namespace},
                "stringData": data,
            }
            cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
        elif need.kind == "ClusterIssuer":
            cluster.kubectl("apply", "-f", "-", stdin=json.dumps(ISSUER_CRD))
            cluster.kubectl("wait", "--for=condition=Established", "crd/clusterissuers.cert-manager.io")
            issuer = {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": need.name},
            }
            cluster.kubectl("apply", "-f", "-", stdin=json.dumps(issuer))
        elif need.kind == "IngressClass":
            ingress_class = {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": need.name},
                "spec": {"controller": "k8s.io/ingress-nginx"},
            }
            cluster.kubectl("apply", "-f", "-", stdin=json.dumps(ingress_class))
        elif need.kind == "API" and need.name.startswith("gateway.networking.k8s.io/"):
            gateway_api(cluster)
        elif need.kind == "Gateway":
            gateway_api(cluster)
            made_namespace(cluster, need.namespace)
            listeners = [{"name": name, "port": 80, "protocol": "HTTP"} for name in need.keys or ("http",)]
            gateway = {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": need.name, "namespace": need.namespace},
                "spec": {"gatewayClassName": "keelson-test", "listeners": listeners},
            }
            _apply(cluster, gateway)
        elif need.kind == "Pods":
            labels = _labels(need.namespace)
            name = labels.get("kubernetes.io/metadata.name") or f"route-source-{secrets.token_hex(3)}"
            made_namespace(cluster, name, labels)
            held_pod(cluster, name, _labels(need.name))


def remove_cluster_prerequisites(cluster: LocalCluster) -> None:
    cluster.kubectl("delete", "crd", "clusterissuers.cert-manager.io", "--ignore-not-found", check=False)
    for crd in GATEWAY_CRDS:
        cluster.kubectl("delete", "crd", crd["metadata"]["name"], "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", "-l", MADE_HERE, "--wait=false", check=False)
    cluster.kubectl("delete", "ingressclass", "nginx", "--ignore-not-found", check=False)


def chart_deps(cluster: LocalCluster) -> None:
    """``helm dependency update`` of every chart, once per process (render.prepare_dependencies)."""
    prepare_dependencies(cluster.prj)


@contextmanager
def installing(cluster: LocalCluster) -> Iterator[None]:
    """While helm installs from charts/: no other worker rebuilds their dependencies, and no test
    drains a node (the locks, in that order, that the other control-plane tests take)."""
    chart_deps(cluster)
    with charts_lock(cluster.prj, exclusive=False), cluster.nodes():
        yield


def workloads_ready(cluster: LocalCluster, namespace: str) -> dict[str, str]:
    """Each Deployment, StatefulSet and DaemonSet with ``ready/desired``."""
    found = {}
    for obj in cluster.get("deployments,statefulsets,daemonsets", "--namespace", namespace):
        status, spec = obj.get("status") or {}, obj.get("spec") or {}
        desired = status.get("desiredNumberScheduled", spec.get("replicas"))
        ready = status.get("numberReady", status.get("readyReplicas", 0))
        found[f"{obj['kind']}/{obj['metadata']['name']}"] = f"{ready}/{desired}"
    return found
