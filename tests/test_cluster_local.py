"""The local control plane itself: what ``invoke cluster-up`` promises a test or a person trying the chart."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from support import copy_project, invoke

from keelson import cluster as local_cluster
from keelson import daemons

if TYPE_CHECKING:
    from cluster_plugin import LocalCluster

REPO = Path(__file__).resolve().parent.parent
BIND_SECONDS = 60


def test_three_ready_nodes_in_zones_a_b_c_with_room_for_pods(cluster: LocalCluster) -> None:
    nodes = {node["metadata"]["name"]: node for node in cluster.get("nodes")}
    assert sorted(nodes) == ["kwok-node-a", "kwok-node-b", "kwok-node-c"]
    for zone in "abc":
        node = nodes[f"kwok-node-{zone}"]
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == f"kwok-node-{zone}"
        assert labels["topology.kubernetes.io/zone"] == zone
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert [c["status"] for c in ready] == ["True"]
        assert node["spec"].get("taints") is None  # schedulable for every chart, no toleration needed
        for resource in ("cpu", "memory", "pods", "ephemeral-storage"):
            assert resource in node["status"]["allocatable"], resource


def test_the_server_reports_its_real_version(cluster: LocalCluster) -> None:
    """Charts say kubeVersion >=1.30.0-0: a server built without version stamps (v0.0.0) refuses them."""
    # kubectl exits 1 when it cannot parse the server's version; the JSON is printed all the same.
    version = json.loads(cluster.kubectl("version", "-o", "json", check=False).stdout)["serverVersion"]
    assert version["gitVersion"] == "v1.35.4"
    assert (version["major"], version["minor"]) == ("1", "35")


def test_the_kubeconfig_names_the_cluster_and_its_context(cluster: LocalCluster) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text(encoding="utf-8"))
    assert config["current-context"] == f"keelson-{cluster.name}"
    assert [c["name"] for c in config["clusters"]] == [cluster.name]
    assert [c["context"]["cluster"] for c in config["contexts"]] == [cluster.name]
    assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")


def test_pod_security_admission_refuses_a_privileged_pod(cluster: LocalCluster, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": namespace},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1.37", "securityContext": {"privileged": True}}]
        },
    }
    done = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod), check=False)
    assert done.returncode == 1
    assert 'violates PodSecurity "restricted:latest": privileged' in done.stderr


def test_rbac_denies_an_account_without_bindings(cluster: LocalCluster, namespace: str) -> None:
    account = f"system:serviceaccount:{namespace}:default"
    denied = cluster.kubectl(
        "auth", "can-i", "list", "secrets", "-n", namespace, f"--as={account}", check=False
    )
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    allowed = cluster.kubectl("auth", "can-i", "list", "secrets", "-n", namespace)
    assert allowed.stdout.strip() == "yes"  # the administrator of .cluster/kubeconfig


def test_service_account_tokens_are_signed(cluster: LocalCluster, namespace: str) -> None:
    token = cluster.kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    status = json.loads(cluster.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(review)).stdout)[
        "status"
    ]
    assert status["authenticated"] is True
    assert status["user"]["username"] == f"system:serviceaccount:{namespace}:default"


def test_a_claim_without_a_class_gets_the_default_and_is_bound(cluster: LocalCluster, namespace: str) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}},
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(claim))
    cluster.kubectl(
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/data",
        "-n",
        namespace,
        f"--timeout={BIND_SECONDS}s",
    )
    [bound] = cluster.get("pvc", "data", "-n", namespace)
    assert bound["spec"]["storageClassName"] == "standard"
    [volume] = cluster.get("pv", bound["spec"]["volumeName"])
    assert volume["spec"]["capacity"]["storage"] == "50Gi"
    assert volume["spec"]["claimRef"]["namespace"] == namespace
    cluster.kubectl("delete", "pvc", "data", "-n", namespace, "--wait=true", "--timeout=60s")


@pytest.mark.cluster
def test_cluster_up_is_idempotent_and_cluster_down_stops_exactly_what_it_started(tmp_path: Path) -> None:
    """The README's commands on a clone: up, up again (nothing happens), down (its processes end)."""
    clone = copy_project(REPO, tmp_path / "clone")
    started = time.monotonic()
    first = invoke("cluster-up", "--name", "ci", root=clone.root)
    assert first.returncode == 0, first.stderr
    seconds = time.monotonic() - started
    lines = first.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        "certificates", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
        "nodes", "cluster",
    ]  # fmt: skip
    assert "kwok-node-a, kwok-node-b, kwok-node-c Ready" in lines[-3]
    assert lines[-1] == f"export KUBECONFIG={clone.root / '.cluster' / 'kubeconfig'}   # context keelson-ci"
    state = local_cluster.read_state(clone)
    assert state is not None
    assert [d.name for d in state.daemons] == list(local_cluster.PROGRAMS)
    assert all(daemons.alive(daemon) for daemon in state.daemons)
    print(f"cold start of a second cluster (3 Ready nodes): {seconds:.1f}s")

    again = invoke("cluster-up", "--name", "ci", root=clone.root)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0].split()[:4] == ["cluster", "ci", "ok", "already"]
    assert local_cluster.read_state(clone) == state  # the same processes: nothing was restarted

    down = invoke("cluster-down", root=clone.root)
    assert down.returncode == 0, down.stderr
    assert (
        down.stdout.strip() == "stopped kwok, kube-scheduler, kube-controller-manager, kube-apiserver, etcd"
    )
    assert not any(daemons.alive(daemon) for daemon in state.daemons)
    assert not (clone.root / ".cluster").exists()
    assert invoke("cluster-down", root=clone.root).stdout.strip() == "no cluster was running"
