"""What the local cluster is made of, as data: the kwok nodes, the default StorageClass, kwok's config
and each program's command line.

kwok runs no containers: it plays the kubelet of each node listed here (status, leases, pod
phases), so scheduling, admission, PDB evictions and controllers are real, while images, probes
and volumes are never exercised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from keelson.clusterpki import SERVICE_CIDR
from keelson.errors import ToolError

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.clusterpki import Pki

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
# The kwok stages the cluster plays, as kwok's kustomize/stage/<profile>/<file> names them: nodes
# become Ready and keep their lease; pods go Running and Ready at once, finish when they complete
# and go away when deleted. (pod/general holds stages of the same names with delays: not those.)
STAGES = (
    ("node/fast", "node-initialize"),
    ("node/heartbeat-with-lease", "node-heartbeat-with-lease"),
    ("pod/fast", "pod-ready"),
    ("pod/fast", "pod-complete"),
    ("pod/fast", "pod-delete"),
)
# kwok's defaults for the parallelism options: a config with an `options:` block must give every
# one, or the missing ones are 0 and kwok exits.
PARALLELISM = {
    "podPlayStageParallelism": 4,
    "nodePlayStageParallelism": 4,
    "nodeLeaseParallelism": 4,
    "podsOnNodeSyncParallelism": 1,
}
NODE_LEASE_SECONDS = 40
# Leases of kwok's nodes lag when the machine is busy; the default 50 s grace period would taint
# the nodes not-ready and evict pods in the middle of a test.
NODE_MONITOR_GRACE = "3m"


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
    """The Stage objects of STAGES, from kwok's stage folders that bootstrap keeps under ``share``."""
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for profile, name in STAGES:
        paths = sorted(share.rglob(f"{name}.yaml")) if share.is_dir() else []
        documents = [
            document
            for path in paths
            if path.parent.as_posix().endswith(f"/{profile}")
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if isinstance(document, dict)
            and document.get("kind") == "Stage"
            and (document.get("metadata") or {}).get("name") == name
        ]
        if documents:
            found.append(documents[0])
        else:
            missing.append(f"{profile}/{name}")
    if missing:
        raise ToolError(
            f"kwok stages {', '.join(missing)} not found in {share}; run scripts/bootstrap --test"
        )
    return found


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


def arguments(folder: Path, ports: dict[str, int], pki: Pki) -> dict[str, list[str]]:
    """Each program's command line."""
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    serving = [f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}"]

    def delegated(component: str) -> list[str]:
        kubeconfig = folder / f"{component}.kubeconfig"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            # The client CA comes from the flag below; the requestheader one, which the API server
            # does not publish here, would be looked up and logged as missing every few seconds.
            "--authentication-skip-lookup=true",
            f"--client-ca-file={pki.ca_cert}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports[component]}",
            "--leader-elect=false",
            *serving,
        ]

    return {
        "etcd": [
            "--name=keelson",
            f"--data-dir={folder / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=keelson={peer_url}",
            # Throwaway data on a shared disk: fsync latency would only slow every API call.
            "--unsafe-no-fsync",
        ],
        "kube-apiserver": [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={ports['kube-apiserver']}",
            *serving,
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=RBAC",
            # As on kubeadm clusters: privileged pods are for admission (PodSecurity) to refuse.
            "--allow-privileged=true",
            # The default admission plugins apply (PodSecurity, ServiceAccount, DefaultStorageClass, ...).
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The `kubernetes` Service cannot point at a loopback address; nothing in-cluster calls it.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ],
        "kube-controller-manager": [
            *delegated("kube-controller-manager"),
            f"--root-ca-file={pki.ca_cert}",
            f"--service-account-private-key-file={pki.service_account_key}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
            "--enable-hostpath-provisioner=true",
            "--profiling=false",
        ],
        "kube-scheduler": [*delegated("kube-scheduler"), "--profiling=false"],
        "kwok": [f"--kubeconfig={folder / 'kwok.kubeconfig'}", f"--config={folder / 'kwok.yaml'}"],
    }
