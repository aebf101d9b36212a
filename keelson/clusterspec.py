"""What the local cluster is made of, as data: the kwok nodes, the default StorageClass, kwok's config.

kwok runs no containers: it plays the kubelet of each node listed here (status, leases, pod
phases), so scheduling, admission, PDB evictions and controllers are real, while images, probes
and volumes are never exercised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from keelson.errors import ToolError

if TYPE_CHECKING:
    from pathlib import Path

ZONES = ("a", "b", "c")
NODE_NAMES = tuple(f"kwok-node-{zone}" for zone in ZONES)
# kwok takes charge of the nodes carrying this annotation, and of no other node.
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
KUBE_VERSION = "v1.35.4"
# Room for every chart's prod render (the storage backends alone request 3 x 6 CPU and 12 GiB of
# memory over the nodes) with headroom for a second release installed beside it. Pods request
# ephemeral storage, so the nodes must declare it or every pod stays Pending.
NODE_RESOURCES = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"}
STORAGE_CLASS = "standard"
# The controller-manager's in-tree hostPath provisioner (--enable-hostpath-provisioner) creates a
# PersistentVolume of the claimed size for each claim and deletes it with the claim: the real
# binder binds it, nothing has to be pre-sized. Its folders are empty directories under /tmp.
STORAGE_PROVISIONER = "kubernetes.io/host-path"
# The kwok stages the cluster plays, by Stage name (node/fast, node/heartbeat-with-lease, pod/fast of
# kwok's kustomize/stage folder): nodes become Ready and keep their lease; pods go Running and Ready
# at once, finish when they complete, and go away when deleted.
STAGES = ("node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete")
# kwok's defaults for the parallelism options: a config with an `options:` block must give every
# one, or the missing ones are 0 and kwok exits.
PARALLELISM = {
    "podPlayStageParallelism": 4,
    "nodePlayStageParallelism": 4,
    "nodeLeaseParallelism": 4,
    "podsOnNodeSyncParallelism": 1,
}
NODE_LEASE_SECONDS = 40


def node(name: str, zone: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
        },
        "status": {
            "capacity": dict(NODE_RESOURCES),
            "allocatable": dict(NODE_RESOURCES),
            "nodeInfo": {
                "kubeletVersion": KUBE_VERSION,
                "kubeProxyVersion": KUBE_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def nodes() -> list[dict[str, Any]]:
    return [node(name, zone) for name, zone in zip(NODE_NAMES, ZONES, strict=True)]


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": STORAGE_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def stage_documents(share: Path) -> list[dict[str, Any]]:
    """The Stage objects named in STAGES, from the kwok YAML that bootstrap keeps in ``share``."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(share.rglob("*.yaml")) if share.is_dir() else []:
        if "testdata" in path.parts:
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "Stage":
                name = str((document.get("metadata") or {}).get("name", ""))
                if name in STAGES:
                    found.setdefault(name, document)
    missing = [name for name in STAGES if name not in found]
    if missing:
        raise ToolError(
            f"kwok stages {', '.join(missing)} not found in {share}; run scripts/bootstrap --test"
        )
    return [found[name] for name in STAGES]


def kwok_config(share: Path, server_port: int) -> str:
    """kwok's --config: its options and the stages, as one multi-document YAML."""
    options: dict[str, Any] = {
        "manageAllNodes": False,
        "manageNodesWithAnnotationSelector": "=".join(KWOK_ANNOTATION),
        "serverAddress": f"127.0.0.1:{server_port}",
        # No exec/logs/port-forward endpoints: there is no container behind them.
        "enableDebuggingHandlers": False,
        "nodeLeaseDurationSeconds": NODE_LEASE_SECONDS,
        **PARALLELISM,
    }
    configuration = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokConfiguration",
        "options": options,
    }
    return yaml.safe_dump_all([configuration, *stage_documents(share)], sort_keys=False)
