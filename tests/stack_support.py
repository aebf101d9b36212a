"""Helpers for the LGTM stack contract tests: workloads, containers, Alloy blocks, NetworkPolicy peers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
from support import find_object

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from keelson.models import Object

RELEASE = "keelson"
NAMESPACE = "keelson"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# Storage backend -> (HTTP port, ConfigMap, config key, -target).
BACKENDS: dict[str, tuple[int, str, str, str]] = {
    "loki": (3100, f"{RELEASE}-loki", "config.yaml", "-target=all"),
    "tempo": (3200, f"{RELEASE}-tempo", "tempo.yaml", "-target=all"),
    "mimir": (8080, f"{RELEASE}-mimir-config", "mimir.yaml", "-target=all,alertmanager"),
    "pyroscope": (4040, f"{RELEASE}-pyroscope-config", "pyroscope.yaml", "-target=all"),
}


def workloads(objects: list[Object]) -> list[Object]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def where(obj: Object) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def pod_spec(obj: Object) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def all_containers(obj: Object) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def container(obj: Object, name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [c for c in pod_spec(obj)["containers"] if c["name"] == name]
    assert len(matches) == 1, f"{where(obj)}: no single container {name}"
    return matches[0]


def env_of(c: Mapping[str, Any]) -> dict[str, Any]:
    """name -> the env entry without its name (``{"value": ...}`` or ``{"valueFrom": ...}``)."""
    return {e["name"]: {k: v for k, v in e.items() if k != "name"} for e in c.get("env", [])}


def backend_config(objects: list[Object], backend: str) -> dict[str, Any]:
    _, configmap, key, _ = BACKENDS[backend]
    config: dict[str, Any] = yaml.safe_load(find_object(objects, "ConfigMap", configmap)["data"][key])
    return config


def statefulset(objects: list[Object], backend: str) -> Object:
    return find_object(objects, "StatefulSet", f"{RELEASE}-{backend}")


def instance_labels(chart: str, component: str | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": chart, "app.kubernetes.io/instance": RELEASE}
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels


# --- Alloy configuration text --------------------------------------------------------------------

_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`')


def _blocks(text: str) -> Iterator[tuple[tuple[str, str], str]]:
    """``(name, label), body`` of each block that starts a line of ``text`` (label "" if none)."""
    # Mask string literals so that braces inside them do not count; offsets stay the same.
    masked = _LITERAL.sub(lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', text)
    for header in re.finditer(r'^([a-z_][a-z0-9_.]*)(?:\s+"([^"]*)")?\s*\{', masked, re.MULTILINE):
        depth, end = 0, header.end() - 1
        for end in range(header.end() - 1, len(masked)):
            depth += {"{": 1, "}": -1}.get(masked[end], 0)
            if depth == 0:
                break
        label = text[header.start(2) : header.end(2)] if header.group(2) is not None else ""
        yield (header.group(1), label), text[header.end() : end]


def alloy_blocks(text: str) -> dict[tuple[str, str], str]:
    """Top-level Alloy blocks: ``(name, label) -> body``."""
    return dict(_blocks(text))


def alloy_block(text: str, name: str, label: str = "") -> str:
    blocks = alloy_blocks(text)
    assert (name, label) in blocks, f'no {name} "{label}" block; blocks: {sorted(blocks)}'
    return blocks[(name, label)]


def inner_blocks(body: str, name: str) -> list[str]:
    """Bodies of the ``name { ... }`` blocks directly inside a block body, in order."""
    lines = body.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    dedented = "\n".join(line[indent:] for line in lines)
    return [inner for (block, _), inner in _blocks(dedented) if block == name]


def ottl_by_signal(body: str) -> dict[str, dict[str, list[str]]]:
    """A transform body's statements: ``{"trace": {"resource": [...], "span": [...]}, ...}``."""
    result: dict[str, dict[str, list[str]]] = {}
    for signal in ("trace", "metric", "log"):
        for inner in inner_blocks(body, f"{signal}_statements"):
            context = re.search(r'context\s*=\s*"(\w+)"', inner)
            assert context, f"a {signal}_statements block without a context: {inner[:80]}"
            statements = re.findall(r"`([^`]*)`", inner)
            result.setdefault(signal, {}).setdefault(context.group(1), []).extend(statements)
    return result


def alloy_map(body: str, attribute: str) -> dict[str, str]:
    """An inline object attribute, ``name = { a = "x", b = "y" }``, as a dict of its string values."""
    match = re.search(rf"\b{attribute}\s*=\s*\{{(.*?)\}}", body, re.DOTALL)
    assert match, f"no {attribute} = {{...}} in {body[:120]}"
    return dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"', match.group(1)))


# --- NetworkPolicy evaluation ----------------------------------------------------------------------


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
        if expr["operator"] == "Exists" and value is None:
            return False
        if expr["operator"] == "DoesNotExist" and value is not None:
            return False
    return True


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels and matchExpressions) selects ``labels``."""
    return _selects(selector, labels)


class Peer:
    """A pod (labels, named ports) in the release namespace, or anything in another namespace."""

    def __init__(
        self,
        labels: Mapping[str, str] | None = None,
        namespace: str = NAMESPACE,
        ports: Mapping[str, int] | None = None,
        ip: str | None = None,
    ) -> None:
        self.labels = dict(labels or {})
        self.namespace = namespace
        self.ports = dict(ports or {})
        self.ip = ip

    def matches(self, peer: Mapping[str, Any]) -> bool:
        if "ipBlock" in peer:
            return self.ip is not None and self.namespace != NAMESPACE
        ns_labels = {"kubernetes.io/metadata.name": self.namespace}
        if "namespaceSelector" in peer:
            if not _selects(peer["namespaceSelector"], ns_labels):
                return False
        elif self.namespace != NAMESPACE:
            return False
        return "podSelector" not in peer or _selects(peer["podSelector"], self.labels)


def pod_peer(objects: list[Object], kind: str, name: str) -> Peer:
    obj = find_object(objects, kind, name)
    ports = {p["name"]: p["containerPort"] for c in pod_spec(obj)["containers"] for p in c.get("ports", [])}
    return Peer(obj["spec"]["template"]["metadata"]["labels"], ports=ports)


def _port_ok(rule: Mapping[str, Any], port: int, protocol: str, target: Peer) -> bool:
    if "ports" not in rule:
        return True
    for item in rule["ports"]:
        if item.get("protocol", "TCP") != protocol:
            continue
        wanted = item.get("port")
        if wanted is None or wanted == port or (isinstance(wanted, str) and target.ports.get(wanted) == port):
            return True
    return False


def _policies(objects: list[Object], pod: Peer, policy_type: str) -> list[Object]:
    return [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy"
        and policy_type in o["spec"].get("policyTypes", [])
        and _selects(o["spec"]["podSelector"], pod.labels)
    ]


def policies_selecting(objects: list[Object], pod: Peer) -> list[Object]:
    """The NetworkPolicies whose podSelector selects ``pod``."""
    return [
        o for o in objects if o["kind"] == "NetworkPolicy" and _selects(o["spec"]["podSelector"], pod.labels)
    ]


def egress_allows(objects: list[Object], src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> bool:
    return any(
        _rule_peers(rule, "to", dst) and _port_ok(rule, port, protocol, dst)
        for policy in _policies(objects, src, "Egress")
        for rule in policy["spec"].get("egress", [])
    )


def ingress_allows(objects: list[Object], src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> bool:
    return any(
        _rule_peers(rule, "from", src) and _port_ok(rule, port, protocol, dst)
        for policy in _policies(objects, dst, "Ingress")
        for rule in policy["spec"].get("ingress", [])
    )


def _rule_peers(rule: Mapping[str, Any], key: str, peer: Peer) -> bool:
    return key not in rule or any(peer.matches(p) for p in rule[key])


def connects(objects: list[Object], src: Peer, dst: Peer, port: int) -> bool:
    """Both ends' policies let ``src`` open a TCP connection to ``dst`` on ``port``."""
    return egress_allows(objects, src, dst, port) and ingress_allows(objects, src, dst, port)
