"""Defects the real API server showed (issue 9), each failing without its fix, plus the ct-style
upgrade from the previous chart: two releases in two namespaces, autoscaled workloads at their floor
and through upgrades, StatefulSet fields an upgrade cannot change and the migration around them;
and preflight's checks of the Gateway path (the API, the Gateways, the route sources)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import yaml
from operator_support import (
    gateway_api,
    held_pod,
    installing,
    made_namespace,
    provision,
    remove_cluster_prerequisites,
    workloads_ready,
)

from keelson import deploy, git, preflight, values
from keelson.kube import Target
from keelson.project import Project

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from cluster_plugin import LocalCluster

ALLOY = "charts/alloy"


def cluster_scoped_kinds(cluster: LocalCluster) -> set[str]:
    listed = cluster.kubectl("api-resources", "--namespaced=false", "--no-headers").stdout
    return {line.split()[-1] for line in listed.splitlines() if line.strip()}


def test_two_releases_in_two_namespaces_coexist(cluster: LocalCluster) -> None:
    scoped = cluster_scoped_kinds(cluster)
    run = uuid.uuid4().hex[:8]
    first, second = (cluster.create_namespace(f"two-{run}-{n}") for n in "ab")
    try:
        with installing(cluster):
            for namespace in (first, second):
                # Without the namespace in their names, the second fails: "invalid ownership metadata".
                cluster.helm(
                    "install", "keelson", ALLOY, "-n", namespace, "-f", f"{ALLOY}/ci/dev-values.yaml"
                )
        for namespace in (first, second):
            manifest = cluster.helm("get", "manifest", "keelson", "-n", namespace).stdout
            names = [
                doc["metadata"]["name"]
                for doc in yaml.safe_load_all(manifest)
                if doc and doc["kind"] in scoped
            ]
            assert names == [f"{namespace}:keelson-alloy-agent"] * 2, names
    finally:
        for namespace in (first, second):
            cluster.helm("uninstall", "keelson", "-n", namespace, "--wait", check=False)
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def gateway(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    (found,) = cluster.get("deployment/keelson-alloy-gateway", "-n", namespace)
    return found


def test_an_autoscaled_workload_starts_at_its_floor_and_upgrades_keep_the_hpa_count(
    cluster: LocalCluster, namespace: str
) -> None:
    prod = ("-f", f"{ALLOY}/ci/prod-values.yaml")  # the gateway's HPA: 2 to 6
    with installing(cluster):
        cluster.helm("install", "keelson", ALLOY, "-n", namespace, *prod, "--wait", "--timeout", "5m")
        installed = gateway(cluster, namespace)
        # Helm created it with two replicas; nobody (the HPA) had to raise it from one afterwards.
        assert (installed["spec"]["replicas"], installed["metadata"]["generation"]) == (2, 1)
        assert installed["status"]["readyReplicas"] == 2
        # The HPA's decision, written through the scale subresource as the HPA controller writes it.
        cluster.kubectl("scale", "deployment/keelson-alloy-gateway", "--replicas=4", "-n", namespace)
        cluster.helm("upgrade", "keelson", ALLOY, "-n", namespace, *prod, "--wait", "--timeout", "5m")
        assert gateway(cluster, namespace)["spec"]["replicas"] == 4, (
            "an upgrade must not reset the HPA's count"
        )
        raised = ("--set", "gateway.autoscaling.minReplicas=5")
        cluster.helm(
            "upgrade", "keelson", ALLOY, "-n", namespace, *prod, *raised, "--wait", "--timeout", "5m"
        )
        # The HPA applies its new floor itself (no metrics needed to leave a range), within its sync period.
        floor = "--for=jsonpath={.spec.replicas}=5"
        cluster.kubectl("wait", floor, "deployment/keelson-alloy-gateway", "-n", namespace, "--timeout=180s")
        cluster.helm("uninstall", "keelson", "-n", namespace, "--wait")


def test_a_statefulset_storage_change_is_refused_before_helm_and_the_migration_works(
    cluster: LocalCluster, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = cluster.prj
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    (context,) = json.loads(cluster.kubectl("config", "view", "-o", "json").stdout)["contexts"]
    target = Target(context["name"], cluster.name, "", namespace=namespace)
    overlay = tmp_path / "persistence.yaml"
    overlay.write_text(yaml.safe_dump({"loki": {"persistence": {"enabled": True, "size": "3Gi"}}}))
    dev = values.load("dev", (), prj).user
    with installing(cluster):
        deploy.upgrade(prj, prj.umbrella, dev, env="dev", target=target, timeout="8m")

    found = preflight.run(prj, "dev", target=target, overlays=[overlay])
    assert found.immutable == [
        f"StatefulSet {namespace}/keelson-loki: spec.volumeClaimTemplates[data] is added (persistence "
        'turned on), which Kubernetes refuses on an existing object; migrate first (README "Changing a '
        "StatefulSet's storage\")"
    ]
    # The prediction is the API server's own answer.
    (new_loki,) = [
        o for o in found.objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "keelson-loki"
    ]
    refused = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(new_loki), check=False)
    assert refused.returncode != 0
    assert "Forbidden: updates to statefulset spec for fields other than" in refused.stderr

    # README "Changing a StatefulSet's storage", persistence turned on: the pods must be made anew
    # (a pod cannot gain a volume), so the StatefulSet goes with its pods, then the upgrade.
    cluster.kubectl("-n", namespace, "delete", "statefulset", "keelson-loki", "--wait=true")
    assert preflight.run(prj, "dev", target=target, overlays=[overlay]).immutable == []
    with_claims = values.load("dev", [overlay], prj).user
    with installing(cluster):
        result = deploy.upgrade(prj, prj.umbrella, with_claims, env="dev", target=target, timeout="8m")
    assert (result.action, result.status) == ("upgrade", "deployed")
    (loki,) = cluster.get("statefulset/keelson-loki", "-n", namespace)
    claims = loki["spec"]["volumeClaimTemplates"]
    assert [(c["metadata"]["name"], c["spec"]["resources"]["requests"]["storage"]) for c in claims] == [
        ("data", "3Gi")
    ]
    (claim,) = cluster.get("pvc", "data-keelson-loki-0", "-n", namespace)
    assert claim["status"]["phase"] == "Bound"
    assert workloads_ready(cluster, namespace)["StatefulSet/keelson-loki"] == "1/1"
    cluster.helm("uninstall", "keelson", "-n", namespace, "--wait")


def previous_chart_commit(prj: Project) -> str:
    """The commit before the last one that changed charts/: the chart version published before it."""
    last = git.run(prj.root, ["log", "-1", "--format=%H", "--", "charts"]).strip()
    return git.run(prj.root, ["rev-parse", f"{last}~1"]).strip()


def test_upgrade_from_the_previous_chart_version(cluster: LocalCluster, namespace: str) -> None:
    """ct-style: install the chart as the previous commit had it, then upgrade to the working tree's."""
    prj = cluster.prj
    wait = ("--wait", "--timeout", "8m")
    with installing(cluster), git.worktree(prj.root, previous_chart_commit(prj)) as tree:
        old = Project(tree)
        cluster.helm("dependency", "build", str(old.umbrella))
        old_values = str(old.env_file("dev"))
        cluster.helm("install", "keelson", str(old.umbrella), "-n", namespace, "-f", old_values, *wait)
    cluster.helm(
        "upgrade", "keelson", str(prj.umbrella), "-n", namespace, "-f", str(prj.env_file("dev")), *wait
    )
    (status,) = [json.loads(cluster.helm("status", "keelson", "-n", namespace, "-o", "json").stdout)]
    assert (status["version"], status["info"]["status"]) == (2, "deployed")
    ready = workloads_ready(cluster, namespace)
    assert "Deployment/keelson-app-backend" in ready
    assert [name for name, state in ready.items() if state.split("/")[0] != state.split("/")[1]] == [], ready
    cluster.helm("uninstall", "keelson", "-n", namespace, "--wait")


def gateway_path_lines(report: preflight.PreflightReport) -> list[str]:
    """The missing lines about the routes: their API, their Gateways and the pods let in for them."""
    words = ("HTTPRoute", "Gateway ", "networkPolicy.ingressFrom")
    return [line for line in report.missing if any(word in line for word in words)]


def test_preflight_checks_what_the_routes_need_on_the_api_server(
    cluster: LocalCluster, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """global.capabilities.httpRoute forced true, as an Argo CD user sets it: without the Gateway
    API's CRDs helm itself cannot render, and preflight says so in one line, beside the Gateway and the route
    sources; then each is created as an operator would, and its line goes."""
    prj = cluster.prj
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    (context,) = json.loads(cluster.kubectl("config", "view", "-o", "json").stdout)["contexts"]
    target = Target(context["name"], cluster.name, "", namespace=namespace)
    edge = f"{namespace}-edge"  # the Gateway's namespace, where its proxies run
    chart = {
        "httpRoute": {
            "enabled": True,
            "parentRefs": [{"name": "edge", "namespace": edge, "sectionName": "https"}],
        },
        "networkPolicy": {
            "ingressFrom": [
                {
                    "namespaceLabels": {"kubernetes.io/metadata.name": edge},
                    "podLabels": {"gateway.networking.k8s.io/gateway-name": "edge"},
                }
            ]
        },
    }
    overlay = tmp_path / "routes.yaml"
    forced = {"capabilities": {"httpRoute": True}}
    overlay.write_text(yaml.safe_dump({"global": forced, "app": chart, "grafana": chart}))
    routes = ", ".join(
        f"HTTPRoute/{namespace}/keelson-{name}" for name in ("app-backend", "app-frontend", "grafana")
    )
    policies = ", ".join(
        f"NetworkPolicy/{namespace}/keelson-{name}" for name in ("app-backend", "app-frontend", "grafana")
    )
    pods = "gateway.networking.k8s.io/gateway-name=edge"
    try:
        report = preflight.run(prj, "dev", target=target, overlays=[overlay])
        assert gateway_path_lines(report) == [
            "API gateway.networking.k8s.io/v1 HTTPRoute is not served: install the Gateway API CRDs "
            f"(standard channel), or set global.capabilities.httpRoute to auto or false, needed by {routes}",
            f"no Namespace labelled kubernetes.io/metadata.name={edge}, where the NetworkPolicies admit the "
            f"pods labelled {pods} (networkPolicy.ingressFrom), needed by {policies}",
        ]
        # The CRDs, the Gateway's namespace and a Gateway with a plain HTTP listener only.
        gateway_api(cluster)
        made_namespace(cluster, edge)
        gateway = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": edge},
            "spec": {
                "gatewayClassName": "any",
                "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
            },
        }
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(gateway))
        report = preflight.run(prj, "dev", target=target, overlays=[overlay])
        assert gateway_path_lines(report) == [
            f"Gateway {edge}/edge has no listener https (httpRoute.parentRefs sectionName), "
            f"needed by {routes}",
            f"no Pods labelled {pods} in {edge}: the NetworkPolicies admit route traffic only from them "
            "(networkPolicy.ingressFrom: the Gateway's proxies or the ingress controller), "
            f"needed by {policies}",
        ]
        # A pod of another Gateway is no route source of this one.
        held_pod(cluster, edge, {"gateway.networking.k8s.io/gateway-name": "other"})
        assert len(gateway_path_lines(preflight.run(prj, "dev", target=target, overlays=[overlay]))) == 2
        provision(cluster, [need for need in report.needs if need.kind in ("API", "Gateway", "Pods")])
        report = preflight.run(prj, "dev", target=target, overlays=[overlay])
        assert gateway_path_lines(report) == []
        assert {obj["kind"] for obj in report.objects} >= {"HTTPRoute", "NetworkPolicy"}
    finally:
        remove_cluster_prerequisites(cluster)
