"""Spoilers for the doors an overlay can open: each takes a private copy of a real render
(gates_helpers.Release) and opens one (network, tolerations, registries, ingress, waivers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gates_spoilers import BACKEND, FRONTEND

if TYPE_CHECKING:
    from gates_helpers import Release

INGRESS = "keelson-app"


def _policy(r: Release, name: str = BACKEND) -> dict[str, Any]:
    spec: dict[str, Any] = r.get("NetworkPolicy", name)["spec"]
    return spec


def egress_everything(r: Release) -> None:
    _policy(r)["egress"].append({})  # networkPolicy.extraEgress: [{}]


def ingress_without_from(r: Release) -> None:
    _policy(r, FRONTEND)["ingress"].append({"ports": [{"port": 8080, "protocol": "TCP"}]})


def egress_to_empty_list(r: Release) -> None:
    _policy(r)["egress"].append({"to": []})


def egress_anywhere_any_port(r: Release) -> None:
    _policy(r)["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})


def ingress_from_every_namespace(r: Release) -> None:
    _policy(r)["ingress"].append(
        {"from": [{"namespaceSelector": {}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    )


def blanket_toleration(r: Release) -> None:
    pod = r.pod(BACKEND)
    pod["tolerations"] = [{"operator": "Exists"}]
    pod["nodeSelector"] = {"node-role.kubernetes.io/control-plane": ""}


def control_plane_toleration(r: Release) -> None:
    r.pod(FRONTEND)["tolerations"] = [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
    ]


def foreign_registry(r: Release) -> None:
    r.container(BACKEND)["image"] = "registry.evil.example/keelson/backend:v1.0.0"  # global.imageRegistry


def server_snippet(r: Release) -> None:
    r.get("Ingress", INGRESS)["metadata"]["annotations"]["nginx.ingress.kubernetes.io/server-snippet"] = (
        "location /admin { allow all; }"
    )


def configuration_snippet(r: Release) -> None:
    r.get("Ingress", INGRESS)["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/configuration-snippet"
    ] = "more_set_headers 'X: y';"


def _host(r: Release, host: str, rule: int = 0) -> None:
    r.get("Ingress", INGRESS)["spec"]["rules"][rule]["host"] = host


def ip_host(r: Release) -> None:
    _host(r, "203.0.113.7")


def long_label_host(r: Release) -> None:
    _host(r, f"{'a' * 64}.example.com")


def wildcard_host(r: Release) -> None:
    _host(r, "*.example.com")


def same_route_twice(r: Release) -> None:
    spec = r.get("Ingress", INGRESS)["spec"]
    spec["rules"][1]["host"] = spec["rules"][0]["host"]
    spec["rules"][1]["http"]["paths"][0]["path"] = spec["rules"][0]["http"]["paths"][0]["path"]


BACKEND_ROUTE = "keelson-app-backend"
FRONTEND_ROUTE = "keelson-app-frontend"


def _route_host(r: Release, host: str) -> None:
    r.get("HTTPRoute", BACKEND_ROUTE)["spec"]["hostnames"][0] = host


def route_ip_host(r: Release) -> None:
    _route_host(r, "203.0.113.7")


def route_long_label_host(r: Release) -> None:
    _route_host(r, f"{'a' * 64}.example.com")


def route_wildcard_host(r: Release) -> None:
    _route_host(r, "*.example.com")


def same_route_on_one_gateway(r: Release) -> None:
    """The frontend's route claims the backend's host and path on the same Gateway listener."""
    backend = r.get("HTTPRoute", BACKEND_ROUTE)["spec"]
    r.get("HTTPRoute", FRONTEND_ROUTE)["spec"]["hostnames"] = list(backend["hostnames"])


def _waive(r: Release, rule: str, pattern: str) -> None:
    r.values.setdefault("gates", {})["waive"] = [{"rule": rule, "object": pattern, "reason": "not now"}]


def waive_secret_rule_everywhere(r: Release) -> None:
    _waive(r, "KEEL040", "*")


def waive_security_rule_by_glob(r: Release) -> None:
    _waive(r, "KEEL025", "Deployment/keelson/*")
