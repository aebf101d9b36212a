"""Kubernetes objects as every stage reads them: identity (kind, namespace, name; which kinds are
cluster-scoped), helm's manifest with its ``# Source:`` comments, pod templates and their
containers (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod), images, label
selectors, and key paths inside an object."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.yamlio import parse

if TYPE_CHECKING:
    from keelson.models import KeyPath, Object

# Kinds without a namespace; anything else is namespaced (default: the release namespace).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "CSIDriver",
        "CSINode",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "VolumeAttachment",
        "PodSecurityPolicy",
    }
)
# Workloads whose pods keep running (probes, replicas and spreading apply to them).
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
REPLICATED = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
_CHART_LABEL = re.compile(r"^(?P<chart>.+?)-v?\d+\.\d+\.\d+.*$")


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        """``Deployment/keelson/keelson-app-backend``; cluster-scoped: ``ClusterRole/keelson-alloy``."""
        return "/".join(part for part in (self.kind, self.namespace, self.name) if part)

    @property
    def display(self) -> str:
        """``Deployment keelson/keelson-app-backend``, as the other stages name an object."""
        where = "/".join(part for part in (self.namespace, self.name) if part)
        return f"{self.kind} {where}".strip()


def ref(obj: Object, default_namespace: str) -> ObjectRef:
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind", "?"))
    namespace = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or default_namespace)
    return ObjectRef(kind, namespace, str(meta.get("name", "?")))


def describe(obj: Object) -> str:
    """``Deployment keelson/keelson-app-backend``, as findings name an object (its namespace as written)."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    found = meta.get("labels") or {}
    return {str(key): str(value) for key, value in found.items()} if isinstance(found, Mapping) else {}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    found = meta.get("annotations") or {}
    return dict(found) if isinstance(found, Mapping) else {}


def chart_of(obj: Object | None) -> str:
    """The chart that rendered ``obj``, from its ``helm.sh/chart`` label (``app-0.1.0`` -> ``app``)."""
    if obj is None:
        return ""
    match = _CHART_LABEL.match(labels_of(obj).get("helm.sh/chart", ""))
    return match.group("chart") if match else ""


def _chart_path(source: str, aliases: Mapping[str, str]) -> str:
    """``keelson/charts/app/templates/x.yaml`` -> ``charts/app/templates/x.yaml`` (charts/ holds
    siblings); an aliased chart's folder comes from ``aliases`` (alias -> folder name)."""
    parts = source.split("/")
    inner = [i for i, part in enumerate(parts) if part == "charts" and 0 < i < len(parts) - 1]
    path = parts[inner[-1] :] if inner else ["charts", *parts]
    path[1] = aliases.get(path[1], path[1])
    return "/".join(path)


def manifest_documents(
    text: str, where: str, aliases: Mapping[str, str] | None = None
) -> Iterator[tuple[Any, str]]:
    """Each document of ``helm template`` output, parsed, with the chart template its ``# Source:``
    comment names (``charts/app/templates/deployment.yaml``; "" without one). Empty ones are left out.
    ``aliases`` (``charts.aliases``) maps an aliased chart back to its folder."""
    for chunk in re.split(r"(?m)^---\s*$", text):
        source = re.search(r"(?m)^# Source: (\S+)\s*$", chunk)
        document = parse(chunk, f"{where}: {source.group(1)}" if source else where)
        if document is not None:
            yield document, _chart_path(source.group(1), aliases or {}) if source else ""


def parse_manifest(
    text: str, default_namespace: str, aliases: Mapping[str, str] | None = None
) -> tuple[list[Object], dict[str, str]]:
    """``helm template`` output -> the objects and, per ``Kind/namespace/name``, its template file."""
    objects: list[Object] = []
    sources: dict[str, str] = {}
    for document, source in manifest_documents(text, "helm template", aliases):
        if not isinstance(document, dict) or "kind" not in document:
            continue
        objects.append(document)
        if source:
            sources[ref(document, default_namespace).key] = source
    return objects, sources


def expand_lists(objects: Iterable[Object]) -> Iterator[Object]:
    """Objects with every ``kind: List`` (or ``FooList``) replaced by its items, as kubectl applies them."""
    for obj in objects:
        items = obj.get("items")
        if str(obj.get("kind", "")).endswith("List") and isinstance(items, list):
            yield from expand_lists(item for item in items if isinstance(item, dict))
        else:
            yield obj


def split_path(path: str) -> KeyPath:
    """``app.components.backend.env[0].value`` -> ``("app", "components", "backend", "env", 0, "value")``."""
    keys: list[str | int] = []
    for part in re.findall(r'\["(?:[^"\\]|\\.)*"\]|\[\d+\]|[^.\[\]]+', path):
        if part.startswith('["'):
            keys.append(part[2:-2])
        elif part.startswith("["):
            keys.append(int(part[1:-1]))
        else:
            keys.append(part)
    return tuple(keys)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_path(*keys: str | int) -> str:
    """The inverse of :func:`split_path`: ints as ``[i]``, keys with dots or slashes quoted."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        elif _PLAIN_KEY.fullmatch(key):
            text += f".{key}" if text else key
        else:
            text += f'["{key}"]'
    return text


@dataclass(frozen=True)
class Container:
    name: str
    spec: Mapping[str, Any]
    path: str  # e.g. spec.template.spec.containers[0]
    init: bool


@dataclass(frozen=True)
class Workload:
    obj: Object
    ref: ObjectRef
    pod_meta: Mapping[str, Any]
    pod_spec: Mapping[str, Any]
    pod_path: str  # where the pod spec sits: spec.template.spec, spec.jobTemplate.spec.template.spec, spec
    replicas: int | None  # the fewest pods it runs (HPA minReplicas when one scales it); None: not replicated

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def pod_labels(self) -> dict[str, str]:
        return labels_of({"metadata": self.pod_meta})

    @property
    def long_running(self) -> bool:
        if self.kind == "Pod":
            hook = "helm.sh/hook" in annotations_of(self.obj)
            return not hook and self.pod_spec.get("restartPolicy", "Always") == "Always"
        return self.kind in LONG_RUNNING

    @property
    def multi_replica(self) -> bool:
        return self.replicas is not None and self.replicas >= 2

    def containers(self, init: bool = True) -> Iterator[Container]:
        groups = ("initContainers", "containers") if init else ("containers",)
        for group in groups:
            for index, spec in enumerate(self.pod_spec.get(group) or []):
                if isinstance(spec, Mapping):
                    yield Container(
                        str(spec.get("name", index)),
                        spec,
                        f"{self.pod_path}.{group}[{index}]",
                        group == "initContainers",
                    )


def _pod_template(obj: Object) -> tuple[Mapping[str, Any], Mapping[str, Any], str] | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return obj.get("metadata") or {}, spec, "spec"
    if kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
        path = "spec.jobTemplate.spec.template"
    elif kind in LONG_RUNNING or kind == "Job":
        template, path = spec.get("template"), "spec.template"
    else:
        return None
    if not isinstance(template, Mapping):
        return None
    return template.get("metadata") or {}, template.get("spec") or {}, f"{path}.spec"


def _scaled_minimum(objects: Sequence[Object], target: ObjectRef, default_namespace: str) -> int | None:
    for hpa in objects:
        if hpa.get("kind") != "HorizontalPodAutoscaler":
            continue
        scale = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if (scale.get("kind"), scale.get("name")) == (target.kind, target.name) and ref(
            hpa, default_namespace
        ).namespace == target.namespace:
            return int((hpa.get("spec") or {}).get("minReplicas", 1))
    return None


def workloads(objects: Sequence[Object], default_namespace: str) -> list[Workload]:
    """Every object that carries a pod template (or is a Pod), with its pod spec and replica floor."""
    found: list[Workload] = []
    for obj in objects:
        template = _pod_template(obj)
        if template is None:
            continue
        meta, spec, path = template
        subject = ref(obj, default_namespace)
        replicas: int | None = None
        if subject.kind in REPLICATED:
            scaled = _scaled_minimum(objects, subject, default_namespace)
            declared = (obj.get("spec") or {}).get("replicas")
            replicas = scaled if scaled is not None else int(declared if declared is not None else 1)
        found.append(Workload(obj, subject, meta, spec, path, replicas))
    return found


def images(objects: Sequence[Object], default_namespace: str = "") -> list[str]:
    """Every image reference of the workloads (containers, init and ephemeral containers), sorted;
    the items of a ``List`` count."""
    found = {
        str(container["image"])
        for workload in workloads(list(expand_lists(objects)), default_namespace)
        for group in ("containers", "initContainers", "ephemeralContainers")
        for container in workload.pod_spec.get(group) or []
        if isinstance(container, Mapping) and container.get("image")
    }
    return sorted(found)


def _expression_holds(expression: Mapping[str, Any], have: Mapping[str, str]) -> bool:
    key, operator = str(expression.get("key")), expression.get("operator")
    values = [str(value) for value in expression.get("values") or []]
    if operator == "In":
        return key in have and have[key] in values
    if operator == "NotIn":
        return key not in have or have[key] not in values
    if operator == "Exists":
        return key in have
    if operator == "DoesNotExist":
        return key not in have
    return False


def selects(selector: Any, have: Mapping[str, str], empty_selects_all: bool = True) -> bool:
    """Whether a LabelSelector (matchLabels + matchExpressions) selects the labels ``have``.

    An empty selector selects everything (NetworkPolicy podSelector, policy/v1 PDB); a missing one
    selects nothing.
    """
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return empty_selects_all
    return all(have.get(str(key)) == str(value) for key, value in match_labels.items()) and all(
        _expression_holds(expression, have) for expression in expressions if isinstance(expression, Mapping)
    )


def service_selects(service: Object, have: Mapping[str, str]) -> bool:
    """A Service's plain selector map; a Service without one (or ExternalName) selects no pod."""
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    if spec.get("type") == "ExternalName" or not selector:
        return False
    return all(have.get(str(key)) == str(value) for key, value in selector.items())


GATEWAY_GROUP = "gateway.networking.k8s.io"


def gateway_parents(route: Object, default_namespace: str) -> Iterator[tuple[str, str, str]]:
    """``(namespace, name, sectionName or "")`` of each Gateway a route's parentRefs name. A parent
    of another kind (a Service of a mesh, say) is no Gateway; group and kind default to the Gateway
    API's own, the namespace to the route's (``default_namespace`` when the route names none)."""
    own = str((route.get("metadata") or {}).get("namespace") or default_namespace)
    for parent in (route.get("spec") or {}).get("parentRefs") or []:
        if not isinstance(parent, Mapping):
            continue
        if (parent.get("group") or GATEWAY_GROUP) != GATEWAY_GROUP or (
            parent.get("kind") or "Gateway"
        ) != "Gateway":
            continue
        yield (
            str(parent.get("namespace") or own),
            str(parent.get("name")),
            str(parent.get("sectionName") or ""),
        )
