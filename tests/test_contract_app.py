"""The production rules (README "Environments"), field by field on the rendered staging and prod releases.

Each test names one row of the rules table (or of the foundation issue's staging-versus-production
table), so a reviewer reads here what is promised, and a change that breaks a promise fails here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from support import REPO, find_object

from keelson import values
from keelson.project import project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object

RELEASE = "keelson"
BACKEND = f"{RELEASE}-app-backend"
FRONTEND = f"{RELEASE}-app-frontend"
ENV_NAMES = {"dev": "development", "staging": "staging", "prod": "production"}


def container(deployment: Object) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    first: dict[str, Any] = containers[0]
    return first


def pod_templates(objects: list[Object]) -> list[tuple[str, dict[str, Any]]]:
    kinds = {"Deployment", "StatefulSet", "DaemonSet"}
    return [
        (f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]) for o in objects if o["kind"] in kinds
    ]


# --- prod: replicas, rollout, resources ----------------------------------------------------------


def test_prod_replicas_backend_3_frontend_2(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    assert find_object(objects, "Deployment", BACKEND)["spec"]["replicas"] == 3
    assert find_object(objects, "Deployment", FRONTEND)["spec"]["replicas"] == 2


@pytest.mark.parametrize("name", [BACKEND, FRONTEND])
def test_prod_rolling_update_surge_1_unavailable_0(
    rendered: Callable[[str], list[Object]], name: str
) -> None:
    strategy = find_object(rendered("prod"), "Deployment", name)["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


@pytest.mark.parametrize(
    ("name", "requests", "limits"),
    [
        (BACKEND, {"cpu": "200m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "1Gi"}),
        (FRONTEND, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "256Mi"}),
    ],
)
def test_prod_requests_and_limits(
    rendered: Callable[[str], list[Object]], name: str, requests: dict[str, str], limits: dict[str, str]
) -> None:
    resources = container(find_object(rendered("prod"), "Deployment", name))["resources"]
    cpu_memory = {kind: {k: resources[kind][k] for k in ("cpu", "memory")} for kind in ("requests", "limits")}
    assert cpu_memory == {"requests": requests, "limits": limits}
    assert {"ephemeral-storage"} <= resources["requests"].keys() & resources["limits"].keys()


def test_staging_backend_one_replica_50m_128Mi(rendered: Callable[[str], list[Object]]) -> None:
    backend = find_object(rendered("staging"), "Deployment", BACKEND)
    assert backend["spec"]["replicas"] == 1
    requests = container(backend)["resources"]["requests"]
    assert (requests["cpu"], requests["memory"]) == ("50m", "128Mi")


# --- images --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "tag"), [("prod", "v1.0.0"), ("staging", "staging")])
def test_app_image_tags(rendered: Callable[[str], list[Object]], env: str, tag: str) -> None:
    objects = rendered(env)
    assert (
        container(find_object(objects, "Deployment", BACKEND))["image"] == f"docker.io/keelson/backend:{tag}"
    )
    assert (
        container(find_object(objects, "Deployment", FRONTEND))["image"]
        == f"docker.io/keelson/frontend:{tag}"
    )


def test_prod_images_are_semantic_versions_or_digests(rendered: Callable[[str], list[Object]]) -> None:
    pinned = re.compile(r"(@sha256:[0-9a-f]{64}|:v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?)$")
    for where, template in pod_templates(rendered("prod")):
        for c in template["spec"].get("containers", []) + template["spec"].get("initContainers", []):
            assert pinned.search(c["image"]), (
                f"{where} container {c['name']}: image {c['image']} is not pinned"
            )
            assert not c["image"].endswith(":latest")


# --- labels and annotations ----------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_object_carries_the_environment(rendered: Callable[[str], list[Object]], env: str) -> None:
    objects = rendered(env)
    assert objects
    for obj in objects:
        meta = obj["metadata"]
        where = f"{obj['kind']}/{meta['name']}"
        assert meta["labels"]["app.kubernetes.io/environment"] == ENV_NAMES[env], where
        assert meta["annotations"]["environment"] == ENV_NAMES[env], where
        assert meta["annotations"]["managed-by"] == "Helm", where


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_pod_templates_carry_the_environment_label(rendered: Callable[[str], list[Object]], env: str) -> None:
    for where, template in pod_templates(rendered(env)):
        assert template["metadata"]["labels"]["app.kubernetes.io/environment"] == ENV_NAMES[env], where


def test_selectors_keep_to_name_instance_component(rendered: Callable[[str], list[Object]]) -> None:
    backend = find_object(rendered("prod"), "Deployment", BACKEND)
    assert backend["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "app",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "backend",
    }


# --- ingress -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "hosts", "secret", "issuer"),
    [
        (
            "prod",
            {"api.example.com": BACKEND, "app.example.com": FRONTEND},
            f"{RELEASE}-production-tls",
            "letsencrypt-prod",
        ),
        (
            "staging",
            {"api-staging.example.com": BACKEND, "app-staging.example.com": FRONTEND},
            f"{RELEASE}-staging-tls",
            "letsencrypt-staging",
        ),
    ],
)
def test_ingress_hosts_tls_and_issuer(
    rendered: Callable[[str], list[Object]], env: str, hosts: dict[str, str], secret: str, issuer: str
) -> None:
    ingress = find_object(rendered(env), "Ingress", f"{RELEASE}-app")
    spec = ingress["spec"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"secretName": secret, "hosts": sorted(hosts)}]
    routes = {rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"] for rule in spec["rules"]}
    assert routes == hosts


# --- probes, PDB, affinity, scrape annotations ---------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_container_has_liveness_and_readiness_probes(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    for where, template in pod_templates(rendered(env)):
        for c in template["spec"]["containers"]:
            assert "livenessProbe" in c, f"{where} container {c['name']} has no liveness probe"
            assert "readinessProbe" in c, f"{where} container {c['name']} has no readiness probe"


# The production overlay's probe timings for the backend, number by number.
PROD_BACKEND_PROBES = {
    "livenessProbe": {
        "initialDelaySeconds": 30,
        "periodSeconds": 30,
        "timeoutSeconds": 10,
        "failureThreshold": 3,
    },
    "readinessProbe": {
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    },
}


@pytest.mark.parametrize(
    ("probe", "field"),
    [(probe, field) for probe, fields in PROD_BACKEND_PROBES.items() for field in fields],
)
def test_prod_backend_probe_timing(rendered: Callable[[str], list[Object]], probe: str, field: str) -> None:
    backend = container(find_object(rendered("prod"), "Deployment", BACKEND))
    assert backend[probe][field] == PROD_BACKEND_PROBES[probe][field]


def test_prod_backend_probes_check_health_and_readiness(rendered: Callable[[str], list[Object]]) -> None:
    backend = container(find_object(rendered("prod"), "Deployment", BACKEND))
    assert (
        backend["livenessProbe"]
        == {"httpGet": {"path": "/healthz", "port": "http"}} | PROD_BACKEND_PROBES["livenessProbe"]
    )
    assert (
        backend["readinessProbe"]
        == {"httpGet": {"path": "/ready", "port": "http"}} | PROD_BACKEND_PROBES["readinessProbe"]
    )


@pytest.mark.parametrize("name", [BACKEND, FRONTEND])
def test_prod_pdb_min_available_1(rendered: Callable[[str], list[Object]], name: str) -> None:
    pdb = find_object(rendered("prod"), "PodDisruptionBudget", name)
    component = name.rsplit("-", 1)[1]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component


def test_staging_has_no_app_pdb(rendered: Callable[[str], list[Object]]) -> None:
    pdbs = [o["metadata"]["name"] for o in rendered("staging") if o["kind"] == "PodDisruptionBudget"]
    assert BACKEND not in pdbs
    assert FRONTEND not in pdbs


@pytest.mark.parametrize("name", [BACKEND, FRONTEND])
def test_prod_pod_anti_affinity_and_zone_spread(rendered: Callable[[str], list[Object]], name: str) -> None:
    spec = find_object(rendered("prod"), "Deployment", name)["spec"]["template"]["spec"]
    term = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"]
        == name.rsplit("-", 1)[1]
    )
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_backend_scrape_annotations_and_default_container(rendered: Callable[[str], list[Object]]) -> None:
    annotations = find_object(rendered("prod"), "Deployment", BACKEND)["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["kubectl.kubernetes.io/default-container"] == "backend"
    assert len(annotations["checksum/config"]) == 64


# --- ConfigMap -----------------------------------------------------------------------------------


def test_prod_configmaps(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    backend = find_object(objects, "ConfigMap", BACKEND)["data"]
    frontend = find_object(objects, "ConfigMap", FRONTEND)["data"]
    assert backend == {
        "ENV": "production",
        "LOG_LEVEL": "info",
        "DEBUG": "false",
        "OAUTH_ISSUER_URL": "https://auth.example.com/realms/keelson",
        "RATE_LIMIT_PER_MINUTE": "60",
        "CACHE_TTL_SECONDS": "300",
    }
    assert frontend == {
        "ENV": "production",
        "LOG_LEVEL": "info",
        "DEBUG": "false",
        "VITE_API_URL": "https://api.example.com",
    }


def test_staging_logs_at_debug(rendered: Callable[[str], list[Object]]) -> None:
    for name in (BACKEND, FRONTEND):
        data = find_object(rendered("staging"), "ConfigMap", name)["data"]
        assert data["LOG_LEVEL"] == "debug"
        assert data["ENV"] == "staging"


def test_containers_load_their_configmap(rendered: Callable[[str], list[Object]]) -> None:
    backend = container(find_object(rendered("prod"), "Deployment", BACKEND))
    assert {"configMapRef": {"name": BACKEND}} in backend["envFrom"]


# --- security ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [BACKEND, FRONTEND])
def test_app_pods_are_restricted_and_tokenless(rendered: Callable[[str], list[Object]], name: str) -> None:
    objects = rendered("prod")
    pod = find_object(objects, "Deployment", name)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert find_object(objects, "ServiceAccount", name)["automountServiceAccountToken"] is False


def test_app_network_policies_allow_only_what_is_listed(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    backend = find_object(objects, "NetworkPolicy", BACKEND)["spec"]
    assert backend["policyTypes"] == ["Ingress", "Egress"]
    sources = [peer for rule in backend["ingress"] for peer in rule["from"]]
    gateway_proxies = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}},
        "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "keelson"}},
    }
    assert gateway_proxies in sources
    frontend_pods = {
        "app.kubernetes.io/name": "app",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "frontend",
    }
    assert {"podSelector": {"matchLabels": frontend_pods}} in sources
    default_deny = find_object(objects, "NetworkPolicy", f"{RELEASE}-default-deny")["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


# --- optional APIs -------------------------------------------------------------------------------


def test_service_monitor_only_with_the_operator_api(rendered: Callable[[str], list[Object]]) -> None:
    with_api = [o["metadata"]["name"] for o in rendered("prod") if o["kind"] == "ServiceMonitor"]
    assert BACKEND in with_api
    assert FRONTEND not in with_api  # the frontend exposes no metrics
    prj = project(REPO)
    without_api = render(values.load("prod", (), prj).user, prj=prj)
    assert not [o for o in without_api if o["kind"] == "ServiceMonitor"]
