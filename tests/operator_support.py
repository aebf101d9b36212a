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
ISSUER_CRD = {
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


def remove_cluster_prerequisites(cluster: LocalCluster) -> None:
    cluster.kubectl("delete", "crd", "clusterissuers.cert-manager.io", "--ignore-not-found", check=False)
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
