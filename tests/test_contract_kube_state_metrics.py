"""Issue 14 item 4, field by field: the kube-state-metrics chart (image, restricted pod, RBAC,
ports, probes, what it exports), where the umbrella installs it, the agent's scrape of it, and the
values schema keeping the two switched together."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from gates_helpers import rendered_with
from stack_support import RELEASE, alloy_block, alloy_blocks, connects, pod_peer, pod_spec
from support import find_object

from keelson import values, valuesschema
from keelson.project import project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object

    Rendered = Callable[[str], list[Object]]

KSM = f"{RELEASE}-kube-state-metrics"
# Cluster-scoped objects carry the release namespace in their name.
KSM_RBAC = f"keelson:{KSM}"
ENABLED = {"dev": False, "staging": True, "prod": True}
SERIES = [
    "kube_daemonset_status_desired_number_scheduled",
    "kube_daemonset_status_number_available",
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_available",
    "kube_pod_container_resource_limits",
    "kube_pod_container_status_restarts_total",
    "kube_statefulset_replicas",
    "kube_statefulset_status_replicas_ready",
]


def _ksm_objects(objects: list[Object]) -> list[tuple[str, str]]:
    return sorted(
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "kube-state-metrics"
    )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_installed_in_staging_and_prod_only(rendered: Rendered, env: str) -> None:
    expected = [
        ("ClusterRole", KSM_RBAC),
        ("Deployment", KSM),
        ("NetworkPolicy", KSM),
        *([("PodDisruptionBudget", KSM)] if env == "prod" else []),
        ("RoleBinding", KSM),
        ("Service", KSM),
        ("ServiceAccount", KSM),
    ]
    assert _ksm_objects(rendered(env)) == (expected if ENABLED[env] else [])


@pytest.mark.parametrize(("env", "replicas"), [("staging", 1), ("prod", 2)])
def test_prod_runs_two_replicas_spread_and_guarded(rendered: Rendered, env: str, replicas: int) -> None:
    objects = rendered(env)
    deployment = find_object(objects, "Deployment", KSM)
    assert deployment["spec"]["replicas"] == replicas
    anti = pod_spec(deployment)["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert [term["podAffinityTerm"]["topologyKey"] for term in anti] == ["kubernetes.io/hostname"]
    if env == "prod":
        pdb = find_object(objects, "PodDisruptionBudget", KSM)
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": "kube-state-metrics",
            "app.kubernetes.io/instance": RELEASE,
        }


def test_the_pod_is_restricted_pinned_and_probed(rendered: Rendered) -> None:
    deployment = find_object(rendered("prod"), "Deployment", KSM)
    pod = pod_spec(deployment)
    assert pod["serviceAccountName"] == KSM
    assert pod["automountServiceAccountToken"] is True  # it reads the API
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [container] = pod["containers"]
    assert container["image"] == "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0"
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["ports"] == [
        {"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"},
        {"name": "telemetry", "containerPort": 8081, "protocol": "TCP"},
    ]
    # /livez answers on the metrics port, /readyz on the telemetry port (kube-state-metrics 2.14+).
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "telemetry"}
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "64Mi", "ephemeral-storage": "16Mi"},
        "limits": {"cpu": "200m", "memory": "256Mi", "ephemeral-storage": "64Mi"},
    }
    assert container["args"] == [
        "--port=8080",
        "--telemetry-port=8081",
        "--resources=daemonsets,deployments,pods,statefulsets",
        "--namespaces=keelson",
        "--metric-allowlist=" + ",".join(SERIES),
    ]
    # The only writable path: a bounded /tmp.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "32Mi"}}]


def test_rbac_is_list_and_watch_on_the_four_resources_in_the_release_namespace(rendered: Rendered) -> None:
    objects = rendered("prod")
    role = find_object(objects, "ClusterRole", KSM_RBAC)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
        {
            "apiGroups": ["apps"],
            "resources": ["daemonsets", "deployments", "statefulsets"],
            "verbs": ["list", "watch"],
        },
    ]
    # Bound by a RoleBinding in the exported namespace only: nothing cluster-wide.
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding" and KSM in o["metadata"]["name"]]
    binding = find_object(objects, "RoleBinding", KSM)
    assert binding["metadata"]["namespace"] == "keelson"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": KSM_RBAC,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": KSM, "namespace": "keelson"}]
    account = find_object(objects, "ServiceAccount", KSM)
    assert account["automountServiceAccountToken"] is False


def test_listed_namespaces_get_a_binding_each_and_the_flag() -> None:
    objects = rendered_with("prod", "kubeStateMetrics: {namespaces: [keelson, apps]}").objects
    bindings = sorted(
        o["metadata"]["namespace"]
        for o in objects
        if o["kind"] == "RoleBinding" and o["metadata"]["name"] == KSM
    )
    assert bindings == ["apps", "keelson"]
    container = pod_spec(find_object(objects, "Deployment", KSM))["containers"][0]
    assert "--namespaces=keelson,apps" in container["args"]


def test_service_serves_both_ports(rendered: Rendered) -> None:
    service = find_object(rendered("prod"), "Service", KSM)
    assert service["spec"]["selector"] == {
        "app.kubernetes.io/name": "kube-state-metrics",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http-metrics", 8080, "http-metrics"),
        ("telemetry", 8081, "telemetry"),
    ]


def test_only_the_agent_reaches_it(rendered: Rendered) -> None:
    objects = rendered("prod")
    ksm = pod_peer(objects, "Deployment", KSM)
    agent = pod_peer(objects, "DaemonSet", f"{RELEASE}-alloy-agent")
    assert connects(objects, agent, ksm, 8080)
    # Nothing scrapes the telemetry port (kube-state-metrics' own metrics): no one is let in there.
    assert not connects(objects, agent, ksm, 8081)
    for other in (("Deployment", f"{RELEASE}-alloy-gateway"), ("Deployment", f"{RELEASE}-grafana")):
        assert not connects(objects, pod_peer(objects, *other), ksm, 8080), other
    policy = find_object(objects, "NetworkPolicy", KSM)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert [[(p["port"], p["protocol"]) for p in rule["ports"]] for rule in policy["spec"]["ingress"]] == [
        [(8080, "TCP")]
    ]
    # Out: DNS and the API server only.
    assert [sorted(p["port"] for p in rule["ports"]) for rule in policy["spec"]["egress"]] == [
        [53, 53],
        [443, 6443],
    ]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_agent_scrapes_it_only_when_installed(rendered: Rendered, env: str) -> None:
    config = find_object(rendered(env), "ConfigMap", f"{RELEASE}-alloy-agent")["data"]["config.alloy"]
    blocks = alloy_blocks(config)
    if not ENABLED[env]:
        assert ("prometheus.scrape", "kube_state_metrics") not in blocks
        assert "kube-state-metrics" not in config
        return
    relabel = alloy_block(config, "discovery.relabel", "kube_state_metrics")
    assert "targets = discovery.kubernetes.pods.targets" in relabel
    assert f'regex         = "keelson;kube-state-metrics;{RELEASE};http-metrics"' in relabel
    assert 'action        = "keep"' in relabel
    scrape = alloy_block(config, "prometheus.scrape", "kube_state_metrics")
    assert "targets         = discovery.relabel.kube_state_metrics.output" in scrape
    # Remote-written like every other series: through the contract (env, cluster) to Mimir.
    assert "forward_to      = [prometheus.relabel.contract.receiver]" in scrape
    assert 'job_name        = "kube-state-metrics"' in scrape
    assert "honor_labels    = true" in scrape


def test_the_chart_renders_alone_with_its_own_name() -> None:
    prj = project()
    objects = render({}, prj=prj, chart=prj.charts_dir / "kube-state-metrics", release="x")
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("ClusterRole", "keelson:x-kube-state-metrics"),
        ("Deployment", "x-kube-state-metrics"),
        ("NetworkPolicy", "x-kube-state-metrics"),
        ("RoleBinding", "x-kube-state-metrics"),
        ("Service", "x-kube-state-metrics"),
        ("ServiceAccount", "x-kube-state-metrics"),
    ]


def test_a_collector_without_rbac_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "overlay.yaml"
    file.write_text("kubeStateMetrics: {collectors: [pods, secrets]}\n", encoding="utf-8")
    findings = [str(f) for f in valuesschema.check(values.load("prod", [file]))]
    assert len(findings) == 1, findings
    assert "kubeStateMetrics.collectors[1]" in findings[0]
    assert "daemonsets, deployments, pods, statefulsets" in findings[0]
