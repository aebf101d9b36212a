"""Gateway API: the HTTPRoutes of the app and Grafana beside the Ingress (issue 14 item 1), their
auto|true|false switch, and the NetworkPolicy rule that lets the Gateway's proxies in.

Every render here is the real umbrella through real helm: `rendered(env)` with the optional APIs
present (as `invoke check` renders), the others with an overlay or another set of APIs.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from gates_helpers import rendered_with
from support import REPO, find_object, write

from keelson import values, valuesschema
from keelson.errors import RenderError
from keelson.project import ENVS, OPTIONAL_APIS, project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object

GATEWAY_API = ("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1/HTTPRoute")
ROUTES = ("keelson-app-backend", "keelson-app-frontend", "keelson-grafana")

# What each env's routes must carry: values/<env>.yaml and the README's env table.
HOSTS = {
    "dev": {
        "keelson-app-backend": "api.keelson.localhost",
        "keelson-app-frontend": "app.keelson.localhost",
        "keelson-grafana": "grafana.keelson.localhost",
    },
    "staging": {
        "keelson-app-backend": "api-staging.example.com",
        "keelson-app-frontend": "app-staging.example.com",
        "keelson-grafana": "grafana-staging.example.com",
    },
    "prod": {
        "keelson-app-backend": "api.example.com",
        "keelson-app-frontend": "app.example.com",
        "keelson-grafana": "grafana.example.com",
    },
}
# dev attaches to every listener of the Gateway; staging and prod to its HTTPS listener only.
PARENTS = {
    "dev": [{"name": "keelson", "namespace": "gateway-system"}],
    "staging": [{"name": "keelson", "namespace": "gateway-system", "sectionName": "https"}],
    "prod": [{"name": "keelson", "namespace": "gateway-system", "sectionName": "https"}],
}
SERVICE_PORTS = {"keelson-app-backend": 80, "keelson-app-frontend": 80, "keelson-grafana": 3000}
COMPONENTS = {"keelson-app-backend": "backend", "keelson-app-frontend": "frontend", "keelson-grafana": None}


def kinds(objects: list[Object], kind: str) -> list[Object]:
    return [obj for obj in objects if obj["kind"] == kind]


def routes(objects: list[Object]) -> dict[str, Object]:
    return {obj["metadata"]["name"]: obj for obj in kinds(objects, "HTTPRoute")}


def render_with(tmp_path: Path, env: str, overlay: dict[str, Any], apis: tuple[str, ...]) -> list[Object]:
    file = write(tmp_path / "overlay.yaml", yaml.safe_dump(overlay))
    prj = project(REPO)
    return render(values.load(env, (str(file),), prj).user, prj=prj, api_versions=apis)


# --- the routes, field by field ------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", ROUTES)
def test_route_contract(rendered: Callable[[str], list[Object]], env: str, name: str) -> None:
    route = routes(rendered(env))[name]
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["namespace"] == "keelson"
    labels = route["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "keelson"
    assert labels.get("app.kubernetes.io/component") == COMPONENTS[name]
    assert route["spec"] == {
        "parentRefs": PARENTS[env],
        "hostnames": [HOSTS[env][name]],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": name, "port": SERVICE_PORTS[name]}],
            }
        ],
    }


@pytest.mark.parametrize("env", ENVS)
def test_routes_follow_the_ingress_and_the_services(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    """The same hosts, paths and backends as the Ingresses; the Service port behind the port name."""
    objects = rendered(env)
    by_host: dict[str, tuple[str, str, str]] = {}
    for ingress in kinds(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                by_host[rule["host"]] = (path["path"], backend["name"], backend["port"]["name"])
    found = routes(objects)
    assert sorted(found) == sorted(ROUTES)
    for route in found.values():
        (host,) = route["spec"]["hostnames"]
        (rule,) = route["spec"]["rules"]
        path, service_name, port_name = by_host[host]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": path}}]
        (backend_ref,) = rule["backendRefs"]
        assert backend_ref["name"] == service_name
        service_ports = find_object(objects, "Service", service_name)["spec"]["ports"]
        assert {"name": port_name, "port": backend_ref["port"]} in [
            {"name": p["name"], "port": p["port"]} for p in service_ports
        ]
    assert set(by_host) == {h for r in found.values() for h in r["spec"]["hostnames"]}


@pytest.mark.parametrize("env", ENVS)
def test_tls_stays_with_the_gateway(rendered: Callable[[str], list[Object]], env: str) -> None:
    for route in routes(rendered(env)).values():
        assert "tls" not in route["spec"]
        assert "cert-manager.io/cluster-issuer" not in route["metadata"].get("annotations", {})


def test_a_component_with_several_hosts_and_exact_paths(tmp_path: Path) -> None:
    overlay = {
        "app": {
            "httpRoute": {"parentRefs": [{"name": "edge"}], "annotations": {"team": "web"}},
            "components": {
                "backend": {
                    "ingress": {
                        "hosts": [
                            {"host": h, "paths": [{"path": "/api", "pathType": "Exact"}, {"path": "/v2"}]}
                            for h in ("api.example.com", "api.example.org")
                        ]
                    }
                }
            },
        }
    }
    route = routes(render_with(tmp_path, "prod", overlay, GATEWAY_API))["keelson-app-backend"]
    assert route["metadata"]["annotations"]["team"] == "web"
    assert route["spec"]["parentRefs"] == [{"name": "edge"}]
    assert route["spec"]["hostnames"] == ["api.example.com", "api.example.org"]
    assert route["spec"]["rules"][0]["matches"] == [
        {"path": {"type": "Exact", "value": "/api"}},
        {"path": {"type": "PathPrefix", "value": "/v2"}},
    ]


def test_hosts_with_different_paths_fail_naming_the_value(tmp_path: Path) -> None:
    hosts = [{"host": "api.example.com"}, {"host": "x.example.com", "paths": [{"path": "/x"}]}]
    overlay = {"app": {"components": {"backend": {"ingress": {"hosts": hosts}}}}}
    with pytest.raises(RenderError) as caught:
        render_with(tmp_path, "prod", overlay, GATEWAY_API)
    message = str(caught.value)
    assert "components.backend.ingress.hosts[1].paths: differ from hosts[0].paths" in message
    assert "\n" not in message


# --- the switch ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "apis", "expected"),
    [
        pytest.param("auto", GATEWAY_API, set(ROUTES), id="auto-with-the-api"),
        pytest.param("auto", (), set(), id="auto-without-the-api"),
        pytest.param(True, (), set(ROUTES), id="forced-on-without-the-api"),
        pytest.param(False, OPTIONAL_APIS, set(), id="forced-off-with-the-api"),
    ],
)
def test_the_switch(tmp_path: Path, switch: object, apis: tuple[str, ...], expected: set[str]) -> None:
    overlay = {"global": {"capabilities": {"httpRoute": switch}}}
    objects = render_with(tmp_path, "staging", overlay, apis)
    assert set(routes(objects)) == expected
    # The Ingress stays either way: the routes are beside it, not instead of it.
    assert {i["metadata"]["name"] for i in kinds(objects, "Ingress")} == {"keelson-app", "keelson-grafana"}


def test_the_switch_refuses_other_values(tmp_path: Path) -> None:
    file = write(tmp_path / "o.yaml", "global:\n  capabilities:\n    httpRoute: sometimes\n")
    merged = values.load("prod", (str(file),), project(REPO))
    assert [str(finding) for finding in valuesschema.check(merged)] == [
        f"{file}: global.capabilities.httpRoute: must be auto (render only when the cluster serves the API), "
        "true or false"
    ]


def test_a_chart_turns_its_routes_off_where_the_api_is_served(tmp_path: Path) -> None:
    objects = render_with(tmp_path, "staging", {"grafana": {"httpRoute": {"enabled": False}}}, OPTIONAL_APIS)
    assert set(routes(objects)) == set(ROUTES) - {"keelson-grafana"}


def test_a_path_type_without_a_route_equivalent_fails_naming_the_path_not_the_value(tmp_path: Path) -> None:
    path = {"path": "/", "pathType": "ImplementationSpecific"}
    host: dict[str, Any] = {"host": "api.example.com", "paths": [path]}
    overlay: dict[str, Any] = {
        "global": {"capabilities": {"httpRoute": True}},
        "app": {"components": {"backend": {"ingress": {"hosts": [host]}}}},
    }
    with pytest.raises(RenderError) as caught:
        render_with(tmp_path, "prod", overlay, ())
    assert (
        "components.backend.ingress.hosts[0].paths[0].pathType: must be Prefix or Exact while the "
        "HTTPRoutes render (ImplementationSpecific has no HTTPRoute equivalent)"
    ) in caught.value.message
    # Under --skip-schema-validation any text reaches the template: it is never repeated.
    path["pathType"] = "zq-Sometimes"
    with pytest.raises(subprocess.CalledProcessError) as skipped:
        rendered_with("prod", yaml.safe_dump(overlay), skip_schema=True)
    assert (
        "components.backend.ingress.hosts[0].paths[0].pathType: must be Prefix or Exact"
        in skipped.value.stderr
    )
    assert "zq-Sometimes" not in skipped.value.stderr


def test_a_route_needs_a_gateway(tmp_path: Path) -> None:
    file = write(tmp_path / "o.yaml", "grafana:\n  httpRoute:\n    parentRefs: []\n")
    merged = values.load("prod", (str(file),), project(REPO))
    assert [str(finding) for finding in valuesschema.check(merged)] == [
        f"{file}: grafana.httpRoute.parentRefs: must list 1 to 32 Gateways "
        "({name, namespace, sectionName}) for the routes to attach to"
    ]


# --- the NetworkPolicy rule ----------------------------------------------------------------------

POLICIES = {"keelson-app-backend": "http", "keelson-app-frontend": "http", "keelson-grafana": "http"}


def route_rules(objects: list[Object], name: str) -> list[dict[str, Any]]:
    """The ingress rules of a policy that admit pods of another namespace (the route sources)."""
    policy = find_object(objects, "NetworkPolicy", name)
    # A policy with nothing to let in renders `ingress:` empty (null): every ingress is denied.
    rules = policy["spec"]["ingress"] or []
    return [r for r in rules if any("namespaceSelector" in p for p in r["from"])]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_the_default_rule_admits_the_ingress_controller_and_the_gateway_proxies(
    rendered: Callable[[str], list[Object]], env: str, name: str
) -> None:
    # What the default render routes through: the Ingress (class nginx) and the HTTPRoute.
    assert route_rules(rendered(env), name) == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
                },
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}},
                    "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "keelson"}},
                },
            ],
            "ports": [{"port": POLICIES[name], "protocol": "TCP"}],
        }
    ]


def test_the_rule_names_the_sources_from_values(tmp_path: Path) -> None:
    sources = [
        {
            "namespaceLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"},
            "podLabels": {
                "gateway.envoyproxy.io/owning-gateway-name": "edge",
                "gateway.envoyproxy.io/owning-gateway-namespace": "infra",
            },
        },
        {
            "namespaceLabels": {"team": "platform", "tier": "edge"},
            "podLabels": {"app.kubernetes.io/name": "ingress-nginx"},
        },
    ]
    overlay = {chart: {"networkPolicy": {"ingressFrom": sources}} for chart in ("app", "grafana")}
    objects = render_with(tmp_path, "prod", overlay, OPTIONAL_APIS)
    expected_peers = [
        {
            "namespaceSelector": {"matchLabels": s["namespaceLabels"]},
            "podSelector": {"matchLabels": s["podLabels"]},
        }
        for s in sources
    ]
    for name, port in POLICIES.items():
        assert route_rules(objects, name) == [
            {"from": expected_peers, "ports": [{"port": port, "protocol": "TCP"}]}
        ], name


@pytest.mark.parametrize(
    ("overlay", "admitted"),
    [
        # No Ingress and no HTTPRoute: nothing routes to the pods, so nothing is let in.
        pytest.param({"ingress": {"enabled": False}, "httpRoute": {"enabled": False}}, False, id="neither"),
        # An HTTPRoute alone still needs its Gateway let in.
        pytest.param({"ingress": {"enabled": False}, "httpRoute": {"enabled": True}}, True, id="route-only"),
        pytest.param(
            {"ingress": {"enabled": True}, "httpRoute": {"enabled": False}}, True, id="ingress-only"
        ),
    ],
)
def test_the_rule_follows_what_routes_to_the_pods(
    tmp_path: Path, overlay: dict[str, Any], admitted: bool
) -> None:
    # Rendered without the Gateway API and the capability stated, as an Argo CD user sets it.
    forced = {"capabilities": {"httpRoute": True}}
    objects = render_with(tmp_path, "prod", {"global": forced, "app": overlay, "grafana": overlay}, ())
    for name in POLICIES:
        assert bool(route_rules(objects, name)) is admitted, name


FARO_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
}


@pytest.mark.parametrize(
    ("faro_ingress", "sources", "peers"),
    [
        # No Faro Ingress: nothing routes browsers to 12347, so no pod of another namespace gets in.
        pytest.param(False, None, [], id="no-faro-ingress"),
        pytest.param(True, None, [FARO_PEER], id="default-ingress-nginx"),
        pytest.param(
            True,
            [{"namespaceLabels": {"team": "edge"}, "podLabels": {"app.kubernetes.io/name": "traefik"}}],
            [
                {
                    "namespaceSelector": {"matchLabels": {"team": "edge"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
                }
            ],
            id="from-values",
        ),
    ],
)
def test_faro_admits_the_ingress_controller_of_its_ingress(
    tmp_path: Path, faro_ingress: bool, sources: list[dict[str, Any]] | None, peers: list[dict[str, Any]]
) -> None:
    """Alloy's gateway takes browser telemetry (Faro, 12347) through its own Ingress only: the same
    `networkPolicy.ingressFrom` shape as the app's and Grafana's, when that Ingress is on."""
    alloy: dict[str, Any] = {"gateway": {"faro": {"ingress": {"enabled": faro_ingress}}}}
    if sources is not None:
        alloy["networkPolicy"] = {"ingressFrom": sources}
    objects = render_with(tmp_path, "prod", {"alloy": alloy}, ())
    expected = [{"from": peers, "ports": [{"port": 12347, "protocol": "TCP"}]}] if peers else []
    assert route_rules(objects, "keelson-alloy-gateway") == expected


def test_alloy_refuses_the_old_namespace_value(tmp_path: Path) -> None:
    file = write(
        tmp_path / "o.yaml", "alloy:\n  networkPolicy:\n    ingressControllerNamespace: ingress-nginx\n"
    )
    (message,) = [
        str(finding) for finding in valuesschema.check(values.load("prod", (str(file),), project(REPO)))
    ]
    assert message.startswith(f"{file}: alloy.networkPolicy.ingressControllerNamespace: unknown key")
    assert "ingressFrom" in message


SELECTS_EVERYTHING = "must name at least one label: an empty selector selects everything"


@pytest.mark.parametrize(
    ("source", "says"),
    [
        pytest.param(
            {"namespaceLabels": {}, "podLabels": {"a": "b"}},
            f"ingressFrom[0].namespaceLabels: {SELECTS_EVERYTHING}",
            id="empty-namespace-selector",
        ),
        pytest.param(
            {"namespaceLabels": {"a": "b"}, "podLabels": {}},
            f"ingressFrom[0].podLabels: {SELECTS_EVERYTHING}",
            id="empty-pod-selector",
        ),
        pytest.param(
            {"namespaceLabels": {"a": "b"}}, "ingressFrom[0].podLabels: required key is missing", id="no-pods"
        ),
    ],
)
def test_no_empty_selector(tmp_path: Path, source: dict[str, Any], says: str) -> None:
    file = write(tmp_path / "o.yaml", yaml.safe_dump({"app": {"networkPolicy": {"ingressFrom": [source]}}}))
    merged = values.load("prod", (str(file),), project(REPO))
    assert [str(finding) for finding in valuesschema.check(merged)] == [f"{file}: app.networkPolicy.{says}"]


def test_the_template_refuses_an_empty_selector_too() -> None:
    """helm install --skip-schema-validation (or a renderer that skips the schema) still fails."""
    overlay = "grafana:\n  networkPolicy:\n    ingressFrom: [{namespaceLabels: {a: b}, podLabels: {}}]\n"
    with pytest.raises(subprocess.CalledProcessError) as caught:
        rendered_with("prod", overlay, skip_schema=True)
    assert (
        "networkPolicy.ingressFrom[0]: namespaceLabels and podLabels must each name at least one label "
        "(an empty selector admits every namespace or pod)"
    ) in caught.value.stderr
