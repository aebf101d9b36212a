"""The operator's path without a cluster: cluster-scoped names, replica floors, the immutable fields an
upgrade cannot change, the prerequisites derived from the render (and the README list of them), and
the env-to-cluster binding. tests/test_operator_cluster.py runs the same on the API server."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from support import REPO, find_object, invoke

from keelson import check, immutable, preflight, prerequisites, values
from keelson import render as rendering
from keelson.errors import FindingsError
from keelson.k8s import CLUSTER_SCOPED
from keelson.kube import Target
from keelson.models import Finding
from keelson.preflight import PreflightError, bind
from keelson.prerequisites import Prerequisite
from keelson.project import project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

PRJ = project(REPO)


def render_env(
    env: str, overlay: dict[str, Any] | None = None, tmp: Path | None = None, **options: Any
) -> list[Object]:
    overlays = []
    if overlay is not None and tmp is not None:
        (tmp / "overlay.yaml").write_text(yaml.safe_dump(overlay))
        overlays.append(tmp / "overlay.yaml")
    return render(values.load(env, overlays, PRJ).user, prj=PRJ, **options)


# --- defect 1: cluster-scoped names -------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_cluster_scoped_name_carries_the_namespace(env: str) -> None:
    objects = render_env(env, namespace="team-a")
    scoped = [obj for obj in objects if obj["kind"] in CLUSTER_SCOPED]
    expected = {
        ("ClusterRole", "team-a:keelson-alloy-agent"),
        ("ClusterRoleBinding", "team-a:keelson-alloy-agent"),
    }
    if env != "dev":  # kube-state-metrics: its ClusterRole is bound by RoleBindings only
        expected.add(("ClusterRole", "team-a:keelson-kube-state-metrics"))
    assert {(obj["kind"], obj["metadata"]["name"]) for obj in scoped} == expected
    for obj in scoped:
        assert "namespace" not in obj["metadata"]
    binding = find_object(objects, "ClusterRoleBinding", "team-a:keelson-alloy-agent")
    assert binding["roleRef"]["name"] == "team-a:keelson-alloy-agent"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "keelson-alloy-agent", "namespace": "team-a"}
    ]


# --- defect 2: autoscaled workloads start at their floor ----------------------------------------


def test_autoscaled_workloads_start_at_min_replicas_not_at_one(tmp_path: Path) -> None:
    overlay = {
        "app": {
            "components": {"backend": {"replicas": 1, "autoscaling": {"enabled": True, "minReplicas": 3}}}
        },
        "alloy": {
            "gateway": {"replicas": 1, "autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 8}}
        },
    }
    objects = render_env("dev", overlay, tmp_path)
    assert find_object(objects, "Deployment", "keelson-app-backend")["spec"]["replicas"] == 3
    assert find_object(objects, "Deployment", "keelson-alloy-gateway")["spec"]["replicas"] == 4
    # Without autoscaling the replicas value is used as it is.
    assert find_object(objects, "Deployment", "keelson-app-frontend")["spec"]["replicas"] == 1


def test_every_hpa_target_starts_at_the_hpa_floor(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    hpas = [obj for obj in objects if obj["kind"] == "HorizontalPodAutoscaler"]
    assert hpas, "prod autoscales the gateway"
    for hpa in hpas:
        target = hpa["spec"]["scaleTargetRef"]
        workload = find_object(objects, target["kind"], target["name"])
        assert workload["spec"]["replicas"] == hpa["spec"]["minReplicas"]


# --- defect 3: immutable StatefulSet fields -----------------------------------------------------


def statefulset(size: str | None = "10Gi", **spec: Any) -> Object:
    claims = []
    if size is not None:
        claims = [
            {
                "metadata": {"name": "data", "labels": {"app": "loki"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "keelson-loki", "namespace": "keelson"},
        "spec": {
            "selector": {"matchLabels": {"app": "loki"}},
            "serviceName": "h",
            "volumeClaimTemplates": claims,
            **spec,
        },
    }


def live(obj: Object) -> Object:
    """``obj`` as the API server returns it: defaults filled in, status on each claim template."""
    spec = obj["spec"]
    claims = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            **claim,
            "spec": {**claim["spec"], "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"},
        }
        for claim in spec["volumeClaimTemplates"]
    ]
    return {**obj, "spec": {**spec, "podManagementPolicy": "OrderedReady", "volumeClaimTemplates": claims}}


def test_an_unchanged_statefulset_passes_against_its_live_object() -> None:
    assert immutable.changes([live(statefulset())], [statefulset()]) == []
    # The same quantity written another way is the same request.
    assert immutable.changes([live(statefulset("10Gi"))], [statefulset(str(10 * 2**30))]) == []


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            statefulset("10Gi"),
            statefulset("20Gi"),
            "spec.volumeClaimTemplates[data].spec.resources.requests.storage changes",
        ),
        (
            statefulset(None),
            statefulset("10Gi"),
            "spec.volumeClaimTemplates[data] is added (persistence turned on)",
        ),
        (
            statefulset("10Gi"),
            statefulset(None),
            "spec.volumeClaimTemplates[data] is removed (persistence turned off)",
        ),
        (statefulset(), statefulset(serviceName="other"), "spec.serviceName changes"),
        (statefulset(), statefulset(podManagementPolicy="Parallel"), "spec.podManagementPolicy changes"),
        (statefulset(), statefulset(selector={"matchLabels": {"app": "x"}}), "spec.selector changes"),
    ],
)
def test_each_immutable_change_is_one_line_naming_the_statefulset_and_the_field(
    old: Object, new: Object, field: str
) -> None:
    (line,) = immutable.changes([live(old)], [new])
    assert line.startswith(f"StatefulSet keelson/keelson-loki: {field}, which Kubernetes refuses")
    assert line.endswith("""migrate first (README "Changing a StatefulSet's storage")""")
    assert not re.search(r"\d+Gi", line), "no value from the input"


def test_storage_class_absent_and_empty_are_different_requests() -> None:
    old = statefulset()
    new = statefulset()
    new["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = ""
    (line,) = immutable.changes([live(old)], [new])
    assert "spec.volumeClaimTemplates[data].spec.storageClassName changes" in line


def test_a_new_statefulset_is_no_change() -> None:
    assert immutable.changes([], [statefulset()]) == []


# --- prerequisites, derived from the render -----------------------------------------------------


def test_prod_prerequisites_field_by_field(rendered: Callable[[str], list[Object]]) -> None:
    merged = values.load("prod", (), PRJ).merged
    needs = {(need.kind, need.name): need for need in prerequisites.derive(rendered("prod"), merged)}
    secrets = {name: need.keys for (kind, name), need in needs.items() if kind == "Secret"}
    assert secrets == {
        "keelson-alertmanager-heartbeat": ("url",),
        "keelson-alertmanager-slack": ("url",),
        "keelson-grafana-admin": ("admin-password", "admin-user"),
        "keelson-grafana-db": ("password",),
        "keelson-grafana-oauth": ("client-id", "client-secret"),
        "keelson-object-storage": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    }
    assert needs["Secret", "keelson-object-storage"].needed_by == tuple(
        f"StatefulSet/keelson/keelson-{name}" for name in ("loki", "mimir", "pyroscope", "tempo")
    )
    # cert-manager issues the TLS Secrets, so the ClusterIssuer is the prerequisite, not the Secret.
    assert ("ClusterIssuer", "letsencrypt-prod") in needs
    assert not [name for name in secrets if name.endswith("-tls")]
    assert ("IngressClass", "nginx") in needs
    assert ("StorageClass", "") in needs  # the claims name no class: the cluster's default
    assert ("Namespace", "keelson") in needs
    buckets = sorted(name for kind, name in needs if kind == "Bucket")
    assert buckets == [
        f"keelson-prod-{n} at s3.eu-west-1.amazonaws.com" for n in ("loki", "mimir", "pyroscope", "tempo")
    ]
    assert ("Database", "postgres keelson-grafana-db.example.com:5432 database grafana") in needs
    assert not [need for need in needs.values() if need.kind in ("Bucket", "Database") and need.checkable]


ROUTES = tuple(f"HTTPRoute/keelson/keelson-{name}" for name in ("app-backend", "app-frontend", "grafana"))
POLICIES = tuple(
    f"NetworkPolicy/keelson/keelson-{name}" for name in ("app-backend", "app-frontend", "grafana")
)


def test_prod_gateway_path_prerequisites(rendered: Callable[[str], list[Object]]) -> None:
    """Rendered with the optional APIs served (as `auto` renders on such a cluster): the routes need
    their API and the Gateway's https listener; the route sources must exist to be let in."""
    merged = values.load("prod", (), PRJ).merged
    found = prerequisites.derive(rendered("prod"), merged)
    assert [need for need in found if need.kind in ("API", "Gateway", "Pods")] == [
        Prerequisite("API", "gateway.networking.k8s.io/v1/HTTPRoute", needed_by=ROUTES),
        Prerequisite(
            "API",
            "monitoring.coreos.com/v1/PrometheusRule",
            needed_by=("PrometheusRule/keelson/keelson-alert-rules",),
        ),
        *[need for need in found if need.kind == "API" and need.name.endswith("/ServiceMonitor")],
        Prerequisite("Gateway", "keelson", "gateway-system", ("https",), ROUTES),
        Prerequisite(
            "Pods",
            "app.kubernetes.io/name=ingress-nginx",
            "kubernetes.io/metadata.name=ingress-nginx",
            needed_by=POLICIES,
        ),
        Prerequisite(
            "Pods",
            "gateway.networking.k8s.io/gateway-name=keelson",
            "kubernetes.io/metadata.name=gateway-system",
            needed_by=POLICIES,
        ),
    ]
    (monitors,) = [need for need in found if need.name == "monitoring.coreos.com/v1/ServiceMonitor"]
    assert len(monitors.needed_by) > 1
    assert all(who.startswith("ServiceMonitor/keelson/") for who in monitors.needed_by)


def route(parents: list[dict[str, str]]) -> Object:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "apps"},
        "spec": {"parentRefs": parents},
    }


def test_each_gateway_once_with_every_listener_its_routes_name() -> None:
    objects = [
        route([{"name": "edge", "namespace": "infra", "sectionName": "https"}, {"name": "local"}]),
        {
            **route([{"name": "edge", "namespace": "infra", "sectionName": "admin"}]),
            "metadata": {"name": "s"},
        },
        # A mesh parent (a Service) is no Gateway.
        route([{"group": "", "kind": "Service", "name": "backend"}]),
    ]
    gateways = [need for need in prerequisites.derive(objects, {}) if need.kind == "Gateway"]
    assert gateways == [
        Prerequisite(
            "Gateway", "edge", "infra", ("admin", "https"), ("HTTPRoute/apps/r", "HTTPRoute/keelson/s")
        ),
        Prerequisite("Gateway", "local", "apps", (), ("HTTPRoute/apps/r",)),
    ]
    assert [need.describe() for need in gateways] == [
        "Gateway infra/edge (listener admin, https)",
        "Gateway apps/local",
    ]


def test_only_pods_named_by_both_labels_are_route_sources() -> None:
    peers = [
        {
            "namespaceSelector": {"matchLabels": {"team": "edge"}},
            "podSelector": {"matchLabels": {"b": "2", "a": "1"}},
        },
        {"namespaceSelector": {"matchLabels": {"team": "monitoring"}}},  # a namespace, no pods named
        {"podSelector": {"matchLabels": {"app": "alloy"}}},  # the release's own pods
        {
            "namespaceSelector": {"matchLabels": {"team": "edge"}},
            "podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]},
        },
    ]
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {"ingress": [{"from": peers}]},
    }
    (pods,) = [need for need in prerequisites.derive([policy], {}) if need.kind == "Pods"]
    assert pods == Prerequisite("Pods", "a=1,b=2", "team=edge", needed_by=("NetworkPolicy/keelson/p",))
    assert pods.describe() == "Pods labelled a=1,b=2 in a Namespace labelled team=edge"
    assert pods.checkable


def test_the_readme_list_says_when_the_gateway_path_applies() -> None:
    """`auto` renders no route without a cluster: what the routes need is listed with its condition."""
    listed = prerequisites.readme_list(PRJ).splitlines()
    condition = (
        "(only where the HTTPRoutes render: global.capabilities.httpRoute true, or auto on a cluster "
        "serving gateway.networking.k8s.io/v1)"
    )
    assert f"- Gateway gateway-system/keelson (listener https): staging, prod {condition}" in listed
    assert f"- Gateway gateway-system/keelson: dev {condition}" in listed
    assert (
        "- API gateway.networking.k8s.io/v1 serving HTTPRoute (its CRD installed): dev, staging, prod "
        "(only with global.capabilities.httpRoute true: auto renders no route where it is not served)"
    ) in listed
    # The NetworkPolicies admit the Gateway's proxies whether or not the routes render.
    assert (
        "- Pods labelled gateway.networking.k8s.io/gateway-name=keelson in a Namespace labelled "
        "kubernetes.io/metadata.name=gateway-system: dev, staging, prod"
    ) in listed


def pod(spec: dict[str, Any]) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w"},
        "spec": {"template": {"spec": spec}},
    }


def test_optional_references_and_rendered_secrets_are_no_prerequisites() -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "needed", "key": "a"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "maybe", "key": "b", "optional": True}}},
            {"name": "C", "valueFrom": {"secretKeyRef": {"name": "made-here", "key": "c"}}},
        ],
        "envFrom": [{"secretRef": {"name": "whole"}}],
    }
    objects = [
        pod({"containers": [container], "imagePullSecrets": [{"name": "registry"}]}),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "made-here"}},
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "i"},
            "spec": {"tls": [{"secretName": "own-cert"}]},
        },
    ]
    found = [need for need in prerequisites.derive(objects, {}) if need.kind == "Secret"]
    assert found == [
        Prerequisite("Secret", "needed", "keelson", ("a",), ("Deployment/keelson/w",)),
        Prerequisite("Secret", "own-cert", "keelson", ("tls.crt", "tls.key"), ("Ingress/keelson/i",)),
        Prerequisite("Secret", "registry", "keelson", (".dockerconfigjson",), ("Deployment/keelson/w",)),
        Prerequisite("Secret", "whole", "keelson", (), ("Deployment/keelson/w",)),
    ]


def test_the_readme_list_is_the_derived_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- prerequisites:begin[^>]*-->\n(.*?)<!-- prerequisites:end -->", readme, re.S)
    assert match, "README.md lost its prerequisites markers"
    assert match.group(1) == prerequisites.readme_list(PRJ), "regenerate it: invoke preflight --list"


# --- defect 5: an env is bound to its cluster ---------------------------------------------------


def test_a_context_of_another_cluster_is_refused() -> None:
    with pytest.raises(PreflightError) as refused:
        bind("prod", "prod", Target("keelson-dev", "dev", "https://127.0.0.1:6443"))
    assert refused.value.message == (
        "prod deploys to cluster prod (global.cluster in values/prod.yaml), but kube context keelson-dev "
        "(cluster dev) is another cluster; pass --kube-context for a context of cluster prod"
    )
    bind("dev", "dev", Target("keelson-dev", "dev", "https://127.0.0.1:6443"))


def test_diff_against_a_ref_predicts_the_refused_upgrade(tmp_path: Path) -> None:
    overlay = tmp_path / "persistence.yaml"
    overlay.write_text(yaml.safe_dump({"loki": {"persistence": {"enabled": True}}}))
    done = invoke("diff", "--env", "dev", "--against", "git:HEAD", "--values", str(overlay))
    assert done.returncode == 0, done.stdout + done.stderr
    refused = [line for line in done.stdout.splitlines() if line.startswith("refused on upgrade: ")]
    assert refused == [
        "refused on upgrade: StatefulSet keelson/keelson-loki: spec.volumeClaimTemplates[data] is added "
        "(persistence turned on), which Kubernetes refuses on an existing object; migrate first "
        '(README "Changing a StatefulSet\'s storage")'
    ]
    # Between environments there is no upgrade to refuse.
    between = invoke("diff", "--env", "prod", "--against", "dev")
    assert "refused on upgrade" not in between.stdout


def test_preflight_reports_the_charts_validation_one_finding_per_rule_as_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = tmp_path / "two-lokis.yaml"
    overlay.write_text("loki:\n  replicas: 2\n", encoding="utf-8")
    checked = check.check("dev", [overlay], PRJ, until="render")
    assert [(stage.stage, stage.ok) for stage in checked.stages][-1] == ("render", False)
    expected = [(found.where, found.subject, found.message) for found in checked.stages[-1].findings]
    # No cluster here: the server-side render becomes helm template of the same values, so what
    # fails is the charts' own validation, exactly as on a cluster.

    def offline(
        user: dict[str, Any], *, prj: Project, namespace: str, release: str, **_: Any
    ) -> list[Object]:
        return render(user, prj=prj, namespace=namespace, release=release)

    monkeypatch.setattr(rendering, "render", offline)
    target = Target("keelson-dev", "dev", "https://127.0.0.1:6443")

    with pytest.raises(FindingsError) as caught:
        preflight._render(PRJ, values.load("dev", [overlay], PRJ), target, [])

    found = [
        (item.where, item.subject, item.message)
        for item in caught.value.findings
        if isinstance(item, Finding)
    ]
    assert found == expected
    assert len(found) == len(caught.value.findings) >= 1


def _cluster_without_the_gateway_api(apis: frozenset[str]) -> preflight._Cluster:
    return preflight._Cluster(None, {}, [], None, apis, None, {})


def test_no_gateway_api_is_one_line_not_one_more_per_gateway() -> None:
    gateway = Prerequisite(
        "Gateway", "edge", "edge-ns", ("https",), ("HTTPRoute/keelson/keelson-app-backend",)
    )
    route_api = Prerequisite("API", preflight.ROUTE_API, needed_by=("HTTPRoute/keelson/keelson-app-backend",))

    cluster = _cluster_without_the_gateway_api(frozenset())

    assert cluster.missing(gateway) == ""
    assert cluster.missing(route_api).startswith("API gateway.networking.k8s.io/v1 HTTPRoute is not served: ")
    # Routes served but no Gateway kind: then the Gateway line is the only one that says so.
    served = _cluster_without_the_gateway_api(frozenset({preflight.ROUTE_API}))
    assert served.missing(gateway) == (
        "Gateway edge-ns/edge: the Gateway API is not installed (no gateway.networking.k8s.io/v1/Gateway), "
        "needed by HTTPRoute/keelson/keelson-app-backend"
    )
