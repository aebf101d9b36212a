"""The doors an overlay can open, closed in staging and prod: each gate fires on a spoiled copy of
the real render (tests/gates_doors.py) and stays quiet on the real one; overlays from issue 11 go
through the values and helm as a user's would."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from gates_doors import (
    blanket_toleration,
    configuration_snippet,
    control_plane_toleration,
    egress_anywhere_any_port,
    egress_everything,
    egress_to_empty_list,
    foreign_registry,
    ingress_from_every_namespace,
    ingress_without_from,
    ip_host,
    long_label_host,
    route_ip_host,
    route_long_label_host,
    route_wildcard_host,
    same_route_on_one_gateway,
    same_route_twice,
    server_snippet,
    waive_secret_rule_everywhere,
    waive_security_rule_by_glob,
    wildcard_host,
)
from gates_helpers import hits, real, rendered_with, without_waivers
from gates_spoilers import BACKEND_KEY, FRONTEND_KEY
from test_gates_rules import Case

from keelson import gates, valuesschema
from keelson.values import load

if TYPE_CHECKING:
    from pathlib import Path

    from gates_helpers import Release

BACKEND_POLICY = "NetworkPolicy/keelson/keelson-app-backend"
FRONTEND_POLICY = "NetworkPolicy/keelson/keelson-app-frontend"
INGRESS = "Ingress/keelson/keelson-app"
BACKEND_ROUTE = "HTTPRoute/keelson/keelson-app-backend"
FRONTEND_ROUTE = "HTTPRoute/keelson/keelson-app-frontend"

DOOR_CASES = [
    Case(
        "KEEL031", "prod", egress_everything, BACKEND_POLICY, says="has no `to`, so it allows every address"
    ),
    Case("KEEL031", "staging", ingress_without_from, FRONTEND_POLICY, says="has no `from`"),
    Case("KEEL031", "prod", egress_to_empty_list, BACKEND_POLICY, says="every port"),
    Case("KEEL031", "prod", egress_anywhere_any_port, BACKEND_POLICY, says="0.0.0.0/0 without `except`"),
    Case("KEEL032", "prod", ingress_from_every_namespace, BACKEND_POLICY, says="selects every namespace"),
    Case("KEEL029", "prod", blanket_toleration, BACKEND_KEY, says="tolerates every taint"),
    Case("KEEL029", "staging", control_plane_toleration, FRONTEND_KEY, says="onto the control plane"),
    Case("KEEL003", "prod", foreign_registry, BACKEND_KEY, says='registry "registry.evil.example" is not'),
    Case("KEEL052", "prod", server_snippet, INGRESS, says="nginx.ingress.kubernetes.io/server-snippet"),
    Case("KEEL052", "staging", configuration_snippet, INGRESS, says="configuration-snippet"),
    Case("KEEL053", "prod", ip_host, INGRESS, says="is an IP address"),
    Case("KEEL053", "staging", long_label_host, INGRESS, says="label of 64 characters"),
    Case("KEEL053", "prod", wildcard_host, INGRESS, says='"*.example.com" is a wildcard'),
    Case("KEEL054", "prod", same_route_twice, INGRESS, says="is also claimed at Ingress keelson/keelson-app"),
    Case("KEEL053", "prod", route_ip_host, BACKEND_ROUTE, says='host "203.0.113.7" is an IP address'),
    Case("KEEL053", "staging", route_long_label_host, BACKEND_ROUTE, says="label of 64 characters"),
    Case("KEEL053", "prod", route_wildcard_host, BACKEND_ROUTE, says='"*.example.com" is a wildcard'),
    Case(
        "KEEL054",
        "prod",
        same_route_on_one_gateway,
        FRONTEND_ROUTE,
        says='host "api.example.com" path "/" on Gateway gateway-system/keelson listener https '
        "is also claimed at HTTPRoute keelson/keelson-app-backend spec.rules[0].matches[0]",
    ),
    Case("KEEL000", "prod", waive_secret_rule_everywhere, "Values", says="KEEL040 (secrets) must name one"),
    Case(
        "KEEL000", "staging", waive_security_rule_by_glob, "Values", says="KEEL025 (security) must name one"
    ),
]


def _id(case: Case) -> str:
    return f"{case.rule}-{case.env}-{case.spoil.__name__}"


@pytest.mark.parametrize("case", DOOR_CASES, ids=_id)
def test_door_gate_fires_on_spoiled_render(case: Case) -> None:
    release = without_waivers(real(case.env))

    def matching(report: gates.GateReport) -> list[gates.GateFinding]:
        return [f for f in hits(report, case.rule) if f.object == case.subject and case.says in f.message]

    assert matching(release.run()) == []  # quiet on the real render
    case.spoil(release)
    found = matching(release.run())
    assert found, [f.message for f in hits(release.run(), case.rule)]
    assert found[0].severity == "error"
    assert "\n" not in found[0].line(case.env)


def test_a_wildcard_host_in_prod_is_allowed_by_a_value() -> None:
    release = without_waivers(real("prod"))
    wildcard_host(release)
    release.values["gates"]["allowWildcardHosts"] = True
    assert hits(release.run(), "KEEL053") == []


def test_routes_on_different_gateways_or_beside_the_ingress_do_not_collide() -> None:
    release = without_waivers(real("prod"))
    # The real render: each host is claimed by the Ingress and by an HTTPRoute, and that is no conflict.
    assert hits(release.run(), "KEEL054") == []
    same_route_on_one_gateway(release)
    release.get("HTTPRoute", "keelson-app-frontend")["spec"]["parentRefs"] = [
        {"name": "internal", "namespace": "gateway-system"}
    ]
    assert hits(release.run(), "KEEL054") == []


def test_a_route_that_narrows_its_match_claims_no_path() -> None:
    release = without_waivers(real("prod"))
    same_route_on_one_gateway(release)
    match = release.get("HTTPRoute", "keelson-app-frontend")["spec"]["rules"][0]["matches"][0]
    match["headers"] = [{"name": "x-canary", "value": "true"}]
    assert hits(release.run(), "KEEL054") == []


def test_a_match_with_empty_headers_still_claims_its_path() -> None:
    release = without_waivers(real("prod"))
    same_route_on_one_gateway(release)
    match = release.get("HTTPRoute", "keelson-app-frontend")["spec"]["rules"][0]["matches"][0]
    match["headers"] = []
    found = [f for f in hits(release.run(), "KEEL054") if f.object == FRONTEND_ROUTE]
    assert [f.message.split(" is also claimed")[0] for f in found] == [
        'host "api.example.com" path "/" on Gateway gateway-system/keelson listener https'
    ]


def test_a_parent_that_is_no_gateway_is_no_scope_of_a_claim() -> None:
    release = without_waivers(real("prod"))
    same_route_on_one_gateway(release)
    mesh = {"group": "", "kind": "Service", "name": "keelson-app-backend", "port": 8080}
    for name in ("keelson-app-backend", "keelson-app-frontend"):
        release.get("HTTPRoute", name)["spec"]["parentRefs"].append(dict(mesh))
    messages = [f.message for f in hits(release.run(), "KEEL054")]
    assert messages, "the two routes still share their Gateway listener"
    assert all(" on Gateway gateway-system/keelson listener https " in message for message in messages), (
        messages
    )
    assert not [message for message in messages if "Gateway keelson/" in message]


def test_a_wildcard_route_host_in_prod_is_allowed_by_a_value() -> None:
    release = without_waivers(real("prod"))
    route_wildcard_host(release)
    release.values["gates"]["allowWildcardHosts"] = True
    assert hits(release.run(), "KEEL053") == []


def test_an_allowed_registry_in_values_lets_the_image_through() -> None:
    release: Release = without_waivers(real("prod"))
    foreign_registry(release)
    release.values["gates"]["allowedRegistries"] = [
        "docker.io",
        "registry.k8s.io/kube-state-metrics",
        "registry.evil.example/keelson",
    ]
    assert hits(release.run(), "KEEL003") == []


def test_a_waiver_naming_one_object_still_works() -> None:
    release = without_waivers(real("prod"))
    blanket_toleration(release)
    release.values["gates"]["waive"] = [
        {"rule": "KEEL029", "object": BACKEND_KEY, "reason": "the node agent must run everywhere"}
    ]
    report = release.run()
    assert hits(report, "KEEL029") == []
    assert [f.rule for f in report.waived] == ["KEEL029"]


# The overlays issue 11 found accepted by the prod gates, rendered by helm from values/prod.yaml.
OVERLAYS = [
    pytest.param("KEEL031", "loki: {networkPolicy: {extraEgress: [{}]}}", id="extraEgress-everything"),
    pytest.param(
        "KEEL032",
        "loki: {networkPolicy: {extraIngress: [{from: [{namespaceSelector: {}}], ports: [{port: 3100}]}]}}",
        id="namespace-selector-all",
    ),
    pytest.param(
        "KEEL029",
        "app: {components: {backend: {tolerations: [{operator: Exists}], "
        "nodeSelector: {node-role.kubernetes.io/control-plane: ''}}}}",
        id="blanket-toleration",
    ),
    pytest.param("KEEL003", "global: {imageRegistry: registry.evil.example}", id="image-registry"),
    pytest.param(
        "KEEL052",
        "app: {ingress: {annotations: {nginx.ingress.kubernetes.io/server-snippet: 'return 200;'}}}",
        id="server-snippet",
    ),
    pytest.param(
        "KEEL000",
        "gates: {waive: [{rule: KEEL040, object: '*', reason: quiet please}]}",
        id="waive-secret-rule-everywhere",
    ),
]


@pytest.mark.parametrize(("rule", "overlay"), OVERLAYS)
def test_overlay_that_opens_a_door_fails_the_prod_gates(rule: str, overlay: str) -> None:
    release = rendered_with("prod", overlay)
    found = hits(release.run(), rule)
    assert found, f"{rule} did not fire on {overlay}"
    assert all(f.severity == "error" for f in found)


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("203.0.113.7", id="ip"),
        pytest.param(f"{'a' * 64}.example.com", id="label-of-64"),
        pytest.param("app..example.com", id="empty-label"),
    ],
)
def test_the_values_schema_refuses_hosts_that_are_not_dns_names(host: str, tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        "app: {components: {backend: {ingress: {hosts: [{host: '" + host + "', paths: [{path: /, "
        "pathType: Prefix}]}]}}}}\n",
        encoding="utf-8",
    )
    findings = valuesschema.check(load("prod", [overlay]))
    assert [str(f) for f in findings if "components.backend.ingress.hosts[0].host" in str(f)], findings


def test_the_values_schema_takes_a_63_character_label(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    host = f"{'a' * 63}.example.com"
    overlay.write_text(
        "app: {components: {backend: {ingress: {hosts: [{host: '" + host + "', paths: [{path: /, "
        "pathType: Prefix}]}]}}}}\n",
        encoding="utf-8",
    )
    assert valuesschema.check(load("prod", [overlay])) == []
