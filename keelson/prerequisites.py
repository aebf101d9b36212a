"""What must exist before an env is installed, read from its render and values (never kept by hand).

    needs = prerequisites.derive(objects, merged_values, namespace="keelson")
    prerequisites.markdown({"prod": needs, ...})     # the README's "Before you install" list

From the rendered objects: every Secret a pod reads (``env[].valueFrom.secretKeyRef``,
``envFrom[].secretRef``, ``secret`` and projected volumes, ``imagePullSecrets``) with the keys it
reads, each Ingress's TLS Secret (unless cert-manager issues it, then its ClusterIssuer), each
IngressClass, and each StorageClass a claim asks for (no class: the cluster's default). The
Gateway path: the API of every object of an optional API (an HTTPRoute needs
gateway.networking.k8s.io/v1 served), each Gateway an HTTPRoute attaches to with the listeners it
names, and the pods a NetworkPolicy admits from another namespace (``networkPolicy.ingressFrom``:
a Gateway's proxies, an ingress controller), by their namespace's and their own labels. From the
values: the object-store buckets and the database servers, which the cluster cannot vouch for.
Secrets the chart renders itself, and references marked ``optional``, are not prerequisites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from keelson import render, values
from keelson.k8s import GATEWAY_GROUP, annotations_of, gateway_parents, ref, workloads
from keelson.project import ENVS, NAMESPACE, OPTIONAL_APIS

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from keelson.models import Object
    from keelson.project import Project

ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
DEFAULT_STORAGE_CLASS = ""  # a claim without storageClassName: the cluster's default class
STORAGE_BACKENDS = ("loki", "tempo", "mimir", "pyroscope")
# The Gateway API as `.Capabilities` holds it: what `auto` asks for before it renders an HTTPRoute.
GATEWAY_APIS = tuple(api for api in OPTIONAL_APIS if api.startswith(GATEWAY_GROUP + "/"))
# Where the cluster serves the Gateway API, `global.capabilities.httpRoute: auto` renders the routes: what
# they need then is listed with this condition (README "Before you install").
ROUTES_RENDER = (
    "only where the HTTPRoutes render: global.capabilities.httpRoute true, or auto on a cluster "
    "serving gateway.networking.k8s.io/v1"
)
# ... except the API itself, which `auto` asks for: only `true` renders a route without it.
ROUTES_FORCED = "only with global.capabilities.httpRoute true: auto renders no route where it is not served"
# Kinds that are prerequisites, in the order they are listed.
KINDS = (
    "Namespace",
    "API",
    "Secret",
    "ClusterIssuer",
    "IngressClass",
    "Gateway",
    "Pods",
    "StorageClass",
    "Bucket",
    "Database",
)
# What the cluster cannot tell: checked by whoever holds the credentials, not by preflight.
UNCHECKED = frozenset({"Bucket", "Database"})


@dataclass(frozen=True, order=True)
class Prerequisite:
    kind: str  # one of KINDS
    # The object's name; "" for the default StorageClass; host:port or bucket@endpoint; an API's
    # group/version/Kind; the Pods' label selector (k=v,k=v).
    name: str
    namespace: str = ""  # for Pods: the label selector of their namespace
    keys: tuple[str, ...] = ()  # a Secret's keys that are read; a Gateway's listeners that are named
    needed_by: tuple[str, ...] = ()  # the objects (or values) that need it
    when: str = ""  # the condition under which it is needed; "" always

    @property
    def checkable(self) -> bool:
        return self.kind not in UNCHECKED

    def describe(self) -> str:
        if self.kind == "StorageClass" and self.name == DEFAULT_STORAGE_CLASS:
            return "a default StorageClass (annotation storageclass.kubernetes.io/is-default-class)"
        if self.kind == "Namespace":
            return f"Namespace {self.name} with pod-security.kubernetes.io/enforce=restricted"
        if self.kind == "API":
            group_version, _, kind = self.name.rpartition("/")
            return f"API {group_version} serving {kind} (its CRD installed)"
        if self.kind == "Pods":
            return f"Pods labelled {self.name} in a Namespace labelled {self.namespace}"
        if self.kind == "Gateway":
            listeners = f" (listener {', '.join(self.keys)})" if self.keys else ""
            return f"Gateway {self.namespace}/{self.name}{listeners}"
        where = f"{self.namespace}/" if self.namespace else ""
        keys = f" (keys {', '.join(self.keys)})" if self.keys else ""
        return f"{self.kind} {where}{self.name}{keys}"


def _secret_refs(pod: Mapping[str, Any], texts: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """(Secret name, key or None for the whole Secret) for each required reference of a pod spec.

    A Secret mounted whole names no key; the keys read are the files under its mount path that the
    pod's env, args or the release's ConfigMaps name (``GF_..._FILE=/etc/grafana/secrets/s/key``,
    ``api_url_file: /etc/mimir/secrets/slack/url``).
    """
    containers = [c for group in ("initContainers", "containers") for c in pod.get(group) or []]
    for container in containers:
        for env in container.get("env") or []:
            found = (env.get("valueFrom") or {}).get("secretKeyRef")
            if found and not found.get("optional"):
                yield str(found["name"]), str(found["key"])
        for source in container.get("envFrom") or []:
            found = source.get("secretRef")
            if found and not found.get("optional"):
                yield str(found["name"]), None
    for volume in pod.get("volumes") or []:
        sources = [volume.get("secret")] if volume.get("secret") else []
        projected = (volume.get("projected") or {}).get("sources") or []
        sources += [item.get("secret") for item in projected if item.get("secret")]
        for source in sources:
            name = source.get("secretName") or source.get("name")
            if not name or source.get("optional"):
                continue
            items = source.get("items") or []
            yield from ((str(name), str(item["key"])) for item in items)
            if not items:
                yield str(name), None
                mounts = [
                    str(mount["mountPath"]).rstrip("/")
                    for container in containers
                    for mount in container.get("volumeMounts") or []
                    if mount.get("name") == volume.get("name")
                ]
                for mount in mounts:
                    pattern = re.compile(re.escape(mount) + r"/([A-Za-z0-9._-]+)")
                    yield from ((str(name), key) for text in texts for key in pattern.findall(text))
    for pull in pod.get("imagePullSecrets") or []:
        yield str(pull["name"]), ".dockerconfigjson"


def _texts(objects: Sequence[Object], pod: Mapping[str, Any]) -> list[str]:
    """Where a pod names files of its mounted Secrets: its env values, commands, args, the ConfigMaps."""
    found = [
        str(data)
        for obj in objects
        if obj.get("kind") == "ConfigMap"
        for data in (obj.get("data") or {}).values()
    ]
    for group in ("initContainers", "containers"):
        for container in pod.get(group) or []:
            found += [str(env.get("value", "")) for env in container.get("env") or []]
            found += [str(arg) for arg in (container.get("command") or []) + (container.get("args") or [])]
    return found


def derive(
    objects: Sequence[Object], merged: Mapping[str, Any], namespace: str = NAMESPACE
) -> list[Prerequisite]:
    """Every prerequisite of the render, one entry per thing, sorted by kind then name."""
    secrets: dict[str, tuple[set[str], set[str]]] = {}
    others: dict[tuple[str, str], set[str]] = {}

    def need_secret(name: str, key: str | None, who: str) -> None:
        keys, users = secrets.setdefault(name, (set(), set()))
        if key is not None:
            keys.add(key)
        users.add(who)

    rendered = {ref(obj, namespace).name for obj in objects if obj.get("kind") == "Secret"}
    for workload in workloads(objects, namespace):
        for name, key in _secret_refs(workload.pod_spec, _texts(objects, workload.pod_spec)):
            need_secret(name, key, workload.ref.key)
        if workload.kind == "StatefulSet":
            for claim in (workload.obj.get("spec") or {}).get("volumeClaimTemplates") or []:
                klass = str((claim.get("spec") or {}).get("storageClassName") or DEFAULT_STORAGE_CLASS)
                others.setdefault(("StorageClass", klass), set()).add(workload.ref.key)
    for obj in objects:
        who = ref(obj, namespace).key
        spec = obj.get("spec") or {}
        if obj.get("kind") == "PersistentVolumeClaim":
            others.setdefault(("StorageClass", str(spec.get("storageClassName") or "")), set()).add(who)
        if obj.get("kind") != "Ingress":
            continue
        issuer = annotations_of(obj).get(ISSUER_ANNOTATION)
        if issuer:
            others.setdefault(("ClusterIssuer", str(issuer)), set()).add(who)
        if spec.get("ingressClassName"):
            others.setdefault(("IngressClass", str(spec["ingressClassName"])), set()).add(who)
        for tls in spec.get("tls") or []:
            if tls.get("secretName") and not issuer:  # cert-manager creates the Secret it issues
                need_secret(str(tls["secretName"]), "tls.crt", who)
                need_secret(str(tls["secretName"]), "tls.key", who)
    found = [Prerequisite("Namespace", namespace, needed_by=("helm install -n " + namespace,))]
    found += [
        Prerequisite("Secret", name, namespace, tuple(sorted(keys)), tuple(sorted(users)))
        for name, (keys, users) in secrets.items()
        if name not in rendered
    ]
    found += [
        Prerequisite(kind, name, needed_by=tuple(sorted(users))) for (kind, name), users in others.items()
    ]
    found += _gateway_path(objects, namespace)
    found += _outside(merged)
    return sorted(found, key=lambda item: (KINDS.index(item.kind), item.name, item.namespace, item.keys))


def _gateway_path(objects: Sequence[Object], namespace: str) -> list[Prerequisite]:
    """The API of each object of an optional API, the Gateways the HTTPRoutes attach to (with the
    listeners they name), and the pods the NetworkPolicies admit from other namespaces."""
    apis: dict[str, set[str]] = {}
    gateways: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    pods: dict[tuple[str, str], set[str]] = {}
    for obj in objects:
        who = ref(obj, namespace).key
        api = f"{obj.get('apiVersion')}/{obj.get('kind')}"
        if api in OPTIONAL_APIS:
            apis.setdefault(api, set()).add(who)
        if obj.get("kind") == "HTTPRoute":
            for where, name, listener in gateway_parents(obj, namespace):
                listeners, users = gateways.setdefault((where, name), (set(), set()))
                listeners.update([listener] if listener else [])
                users.add(who)
        if obj.get("kind") == "NetworkPolicy":
            for selectors in _admitted_pods(obj):
                pods.setdefault(selectors, set()).add(who)
    found = [Prerequisite("API", api, needed_by=tuple(sorted(users))) for api, users in apis.items()]
    found += [
        Prerequisite("Gateway", name, where, tuple(sorted(listeners)), tuple(sorted(users)))
        for (where, name), (listeners, users) in gateways.items()
    ]
    found += [
        Prerequisite("Pods", labels, namespaces, needed_by=tuple(sorted(users)))
        for (labels, namespaces), users in pods.items()
    ]
    return found


def selector(labels: Mapping[str, Any]) -> str:
    """``matchLabels`` as kubectl's ``-l`` takes them: ``k=v,k=v``, sorted."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _admitted_pods(policy: Object) -> Iterator[tuple[str, str]]:
    """``(pod selector, namespace selector)`` for each ingress peer of a NetworkPolicy naming
    pods of another namespace by labels (networkPolicy.ingressFrom): pods that must exist for the
    rule to let anything in. A peer selecting by namespace alone, or with expressions, names none."""
    for rule in (policy.get("spec") or {}).get("ingress") or []:
        for peer in (rule or {}).get("from") or []:
            namespaces = peer.get("namespaceSelector") or {}
            pods = peer.get("podSelector") or {}
            if namespaces.get("matchExpressions") or pods.get("matchExpressions"):
                continue
            if namespaces.get("matchLabels") and pods.get("matchLabels"):
                yield selector(pods["matchLabels"]), selector(namespaces["matchLabels"])


def _outside(merged: Mapping[str, Any]) -> list[Prerequisite]:
    """Buckets and database servers: named in the values, reachable only with their credentials."""
    found = []
    shared = (merged.get("global") or {}).get("storage") or {}
    for chart in STORAGE_BACKENDS:
        values = merged.get(chart) or {}
        if not values.get("enabled", False):
            continue
        storage = values.get("storage") or {}
        backend = storage.get("backend") or shared.get("backend")
        if backend != "s3":
            continue
        s3 = storage.get("s3") or {}
        endpoint = s3.get("endpoint") or (shared.get("s3") or {}).get("endpoint") or "?"
        found.append(
            Prerequisite("Bucket", f"{s3.get('bucket')} at {endpoint}", needed_by=(f"{chart}.storage.s3",))
        )
    database = (merged.get("grafana") or {}).get("database") or {}
    if (merged.get("grafana") or {}).get("enabled") and database.get("type") not in (None, "", "sqlite3"):
        where = f"{database.get('type')} {database.get('host')}:{database.get('port')}"
        found.append(
            Prerequisite(
                "Database", f"{where} database {database.get('name')}", needed_by=("grafana.database",)
            )
        )
    return found


def markdown(by_env: Mapping[str, Sequence[Prerequisite]]) -> str:
    """The README list: each prerequisite once, with the environments that need it."""
    envs: dict[Prerequisite, list[str]] = {}
    for env, needs in by_env.items():
        for need in needs:
            plain = Prerequisite(need.kind, need.name, need.namespace, need.keys, when=need.when)
            envs.setdefault(plain, []).append(env)
    lines = []
    for need in sorted(envs, key=lambda item: (KINDS.index(item.kind), item.name, item.namespace, item.keys)):
        note = " (not checked by preflight: needs the credentials)" if not need.checkable else ""
        note += f" ({need.when})" if need.when else ""
        lines.append(f"- {need.describe()}: {', '.join(envs[need])}{note}")
    return "\n".join(lines) + "\n"


def readme_list(prj: Project) -> str:
    """The README's "Before you install" list: every env rendered as ``helm template`` would
    (no cluster, so no optional API), each prerequisite with the envs that need it; then rendered
    for a cluster serving the Gateway API, where ``auto`` renders the HTTPRoutes, whose further
    needs are listed with that condition (the API itself only for ``true``: ``auto`` asks for it)."""
    by_env = {}
    for env in ENVS:
        merged = values.load(env, (), prj)
        needs = derive(render.render(merged.user, prj=prj), merged.merged)
        routed = derive(render.render(merged.user, prj=prj, api_versions=GATEWAY_APIS), merged.merged)
        always = {_identity(need) for need in needs}
        needs += [
            replace(need, when=ROUTES_FORCED if need.kind == "API" else ROUTES_RENDER)
            for need in routed
            if _identity(need) not in always
        ]
        by_env[env] = needs
    return markdown(by_env)


def _identity(need: Prerequisite) -> tuple[str, str, str, tuple[str, ...]]:
    return need.kind, need.name, need.namespace, need.keys
