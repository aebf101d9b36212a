"""The umbrella chart on the real API server (issue 9, item 4).

Every env passes a server-side dry run with strict field validation; dev and prod install into
namespaces that enforce the restricted Pod Security Standard and every workload becomes ready; in
prod the replicas spread over the nodes and the PDBs stop a second drain. Each install happens once
per test run (``cluster.shared``) and is read by several tests. Releases get their own names
(``kt-<env>``), so their cluster-scoped objects never meet (see issue 9, defect 1).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from cluster_plugin import run_id

from keelson import values
from keelson.project import ENVS
from keelson.render import charts_lock, prepare_dependencies, render
from keelson.yamlio import dump_all

if TYPE_CHECKING:
    from cluster_plugin import LocalCluster

    from keelson.models import Object

KUBE_VERSION = "1.35.4"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
STORAGE_BACKENDS = ("loki", "tempo", "mimir", "pyroscope")
NODES = ("kwok-node-a", "kwok-node-b", "kwok-node-c")
INSTALL_TIMEOUT = "5m"


@dataclass(frozen=True)
class Install:
    env: str
    release: str
    namespace: str

    def instance(self) -> str:
        return f"app.kubernetes.io/instance={self.release}"


def _render(cluster: LocalCluster, env: str, release: str, namespace: str) -> list[Object]:
    # No optional APIs: this cluster serves no monitoring.coreos.com, so helm renders none of them.
    return render(
        values.load(env, (), cluster.prj).user,
        prj=cluster.prj,
        release=release,
        namespace=namespace,
        kube_version=KUBE_VERSION,
    )


def _install(cluster: LocalCluster, env: str, name: str) -> Install:
    def make() -> dict[str, Any]:
        install = Install(env, f"kt-{name}", cluster.create_namespace(f"kt-{run_id()}-{name}"))
        prepare_dependencies(cluster.prj)
        args = [
            "install",
            install.release,
            "charts/keelson",
            "-n",
            install.namespace,
            "-f",
            f"values/{env}.yaml",
        ]
        with charts_lock(cluster.prj, exclusive=False), cluster.nodes():
            cluster.helm(*args, "--wait", "--timeout", INSTALL_TIMEOUT)
        return {"env": install.env, "release": install.release, "namespace": install.namespace}

    return Install(**cluster.shared(f"install-{name}", make))


@pytest.fixture(scope="session")
def dev(cluster: LocalCluster) -> Install:
    return _install(cluster, "dev", "dev")


@pytest.fixture(scope="session")
def prod(cluster: LocalCluster) -> Install:
    return _install(cluster, "prod", "prod")


def _pods(
    cluster: LocalCluster, install: Install, name: str, component: str | None = None
) -> list[dict[str, Any]]:
    """The release's live pods of chart ``name`` (and ``component``), leaving out those being deleted."""
    selector = f"{install.instance()},app.kubernetes.io/name={name}"
    if component:
        selector += f",app.kubernetes.io/component={component}"
    pods = cluster.get("pods", "-n", install.namespace, "-l", selector)
    return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]


def _nodes_of(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(str(pod["spec"].get("nodeName")) for pod in pods)


@pytest.mark.parametrize("env", ENVS)
def test_every_env_passes_a_server_side_dry_run_with_strict_validation(
    cluster: LocalCluster, namespace: str, env: str
) -> None:
    objects = _render(cluster, env, f"kt-dry-{env}", namespace)
    done = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager=keelson-test",
        "-f", "-", stdin=dump_all(objects), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    applied = [
        line for line in done.stdout.splitlines() if line.endswith("serverside-applied (server dry run)")
    ]
    assert len(applied) == len(objects), done.stdout
    # The namespace warns on the restricted profile too: a workload that breaks it is named here.
    assert "PodSecurity" not in done.stderr, done.stderr


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_installs_under_restricted_pod_security_and_every_workload_is_ready(
    cluster: LocalCluster, request: pytest.FixtureRequest, env: str
) -> None:
    install: Install = request.getfixturevalue(env)
    [labels] = [ns["metadata"]["labels"] for ns in cluster.get("namespace", install.namespace)]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    expected = {
        (o["kind"], o["metadata"]["name"])
        for o in _render(cluster, env, install.release, install.namespace)
        if o["kind"] in WORKLOADS
    }
    live = {
        (o["kind"], o["metadata"]["name"]): o
        for o in cluster.get(",".join(WORKLOADS).lower(), "-n", install.namespace)
    }
    assert set(live) == expected
    for (kind, name), workload in sorted(live.items()):
        status = workload["status"]
        if kind == "DaemonSet":
            assert status["desiredNumberScheduled"] == len(NODES), name
            assert status.get("numberReady") == len(NODES), name
        else:
            wanted = workload["spec"]["replicas"]
            assert status.get("readyReplicas") == wanted, f"{kind} {name}: {status}"
            assert status.get("updatedReplicas") == wanted, f"{kind} {name}: {status}"
    claims = cluster.get("pvc", "-n", install.namespace)
    assert {c["status"]["phase"] for c in claims} <= {"Bound"}


def test_prod_spreads_backend_and_frontend_over_the_nodes(cluster: LocalCluster, prod: Install) -> None:
    with cluster.nodes():
        backend = _pods(cluster, prod, "app", "backend")
        frontend = _pods(cluster, prod, "app", "frontend")
    assert _nodes_of(backend) == list(NODES)
    assert len(set(_nodes_of(frontend))) == 2
    assert len(frontend) == 2


def test_prod_storage_backends_run_one_pod_per_node(cluster: LocalCluster, prod: Install) -> None:
    with cluster.nodes():
        placement = {backend: _nodes_of(_pods(cluster, prod, backend)) for backend in STORAGE_BACKENDS}
    assert placement == {key: list(NODES) for key in STORAGE_BACKENDS}


def _drain(cluster: LocalCluster, install: Install, node: str, timeout: str) -> Any:
    # Only this release's pods: other tests' releases share the nodes.
    return cluster.kubectl(
        "drain", node, f"--pod-selector={install.instance()}", "--ignore-daemonsets",
        "--delete-emptydir-data", f"--timeout={timeout}", check=False, timeout=300,
    )  # fmt: skip


def test_prod_pdbs_block_a_second_drain(cluster: LocalCluster) -> None:
    """A drain evicts through the eviction API; the storage backends' PDBs allow one pod down at a time."""
    drained = _install(cluster, "prod", "drain")
    with cluster.nodes(exclusive=True):
        try:
            # helm --wait may return before the HPA has scaled the gateway to its floor (issue 9,
            # defect 2); a single gateway pod would block the first drain for the wrong reason.
            cluster.kubectl(
                "wait", "-n", drained.namespace, f"deployment/{drained.release}-alloy-gateway",
                "--for=jsonpath={.status.readyReplicas}=2", "--timeout=90s",
            )  # fmt: skip
            first = _drain(cluster, drained, NODES[0], "120s")
            assert first.returncode == 0, first.stderr
            second = _drain(cluster, drained, NODES[1], "20s")
            assert second.returncode != 0
            assert "Cannot evict pod as it would violate the pod's disruption budget" in second.stderr
            still_on_b = Counter(
                p["metadata"]["labels"]["app.kubernetes.io/name"]
                for backend in STORAGE_BACKENDS
                for p in _pods(cluster, drained, backend)
                if p["spec"].get("nodeName") == NODES[1]
            )
            assert still_on_b == dict.fromkeys(STORAGE_BACKENDS, 1)
            budgets = {
                b["metadata"]["name"]: b["status"] for b in cluster.get("pdb", "-n", drained.namespace)
            }
            for backend in STORAGE_BACKENDS:
                assert budgets[f"{drained.release}-{backend}"]["disruptionsAllowed"] == 0, json.dumps(budgets)
        finally:
            for node in NODES[:2]:
                cluster.kubectl("uncordon", node, check=False)
