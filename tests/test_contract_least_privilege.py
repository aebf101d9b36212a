"""Least privilege you can see in the render: the agent's RBAC narrows to listed namespaces, the
Grafana database egress has a destination in prod, and HTTPS egress never reaches private,
carrier-grade NAT or link-local (cloud metadata) addresses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from gates_helpers import rendered_with
from support import find_object

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object

AGENT = "keelson-alloy-agent"
# Cluster-scoped objects carry the release namespace in their name (two releases never collide).
AGENT_RBAC = f"keelson:{AGENT}"
# RFC 1918, RFC 6598 (carrier-grade NAT, used by some clusters' pod networks) and RFC 3927
# (link-local, where cloud metadata services answer at 169.254.169.254).
NOT_OUTSIDE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_https_egress_leaves_out_every_internal_range(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    found = 0
    for policy in (o for o in rendered(env) if o["kind"] == "NetworkPolicy"):
        for rule in policy["spec"].get("egress") or []:
            for peer in rule.get("to") or []:
                block = peer.get("ipBlock") or {}
                if block.get("cidr") == "0.0.0.0/0" and block.get("except"):
                    found += 1
                    assert block["except"] == NOT_OUTSIDE, policy["metadata"]["name"]
    if env == "prod":
        assert found >= 2  # Grafana (OAuth) and the app's backend call out over HTTPS in prod


def test_grafana_database_egress_goes_to_the_named_peers_only(
    rendered: Callable[[str], list[Object]],
) -> None:
    policy = find_object(rendered("prod"), "NetworkPolicy", "keelson-grafana")
    database = [
        rule for rule in policy["spec"]["egress"] if rule.get("ports") == [{"port": 5432, "protocol": "TCP"}]
    ]
    assert database == [
        {"ports": [{"port": 5432, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.40.0.0/24"}}]}
    ]


def test_agent_rbac_narrows_to_the_listed_namespaces() -> None:
    # The pod and log Roles alone (tests/test_contract_operator.py adds the operator's objects).
    overlay = "alloy: {agent: {logs: {namespaces: [keelson, apps]}, prometheusOperator: {enabled: false}}}"
    objects = rendered_with("prod", overlay).objects
    role = find_object(objects, "ClusterRole", AGENT_RBAC)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes", "nodes/metrics"], "verbs": ["get", "list", "watch"]}
    ]
    name = f"{AGENT}-keelson"  # the release namespace in the name: two releases never share a Role
    roles = {o["metadata"]["namespace"]: o for o in objects if o["kind"] == "Role"}
    bindings = {
        o["metadata"]["namespace"]: o
        for o in objects
        if o["kind"] == "RoleBinding" and o["metadata"]["name"] == name  # not kube-state-metrics' own
    }
    assert sorted(roles) == sorted(bindings) == ["apps", "keelson"]
    for namespace in ("apps", "keelson"):
        assert roles[namespace]["metadata"]["name"] == name
        assert roles[namespace]["rules"] == [
            {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}
        ]
        assert bindings[namespace]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": name,
        }
        assert bindings[namespace]["subjects"] == [
            {"kind": "ServiceAccount", "name": AGENT, "namespace": "keelson"}
        ]
    config = find_object(objects, "ConfigMap", AGENT)["data"]["config.alloy"]
    assert 'names = ["keelson", "apps"]' in config  # discovery watches only where the Roles allow
