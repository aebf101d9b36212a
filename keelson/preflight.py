"""Before helm runs: is the target the env's cluster, and does it hold every prerequisite?

    target = kube.resolve(prj, "keelson-prod")
    preflight.bind(env="prod", cluster_of_env="prod", target=target)        # raises PreflightError
    report = preflight.run(prj, "prod", target=target)                         # a PreflightReport
    report.missing                                                              # one line per thing

``bind`` compares the env's ``global.cluster`` with the name the kube context gives its cluster, so
a first deploy to the wrong cluster is refused as well as an upgrade of another env's release.
``run`` renders the env for the target's own API versions, derives the prerequisites from that
render (keelson.prerequisites) and looks each up with a handful of kubectl calls: the namespace and
its PodSecurity label, the Secrets and their keys (names only: no value is read), the ClusterIssuers,
IngressClasses and StorageClasses, the optional APIs the render uses (the Gateway API of the
HTTPRoutes), the Gateways and listeners the routes attach to, and the pods the NetworkPolicies let
the route traffic in from (``networkPolicy.ingressFrom``). Buckets and databases cannot be checked
from the cluster; they are listed as such. It also compares the render with the live workloads for
the fields Kubernetes will not let an upgrade change (keelson.immutable), so such an upgrade is
refused before helm runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keelson import helmvalidation, immutable, kube, prerequisites, values
from keelson import render as rendering
from keelson.errors import FindingsError, KeelsonError, RenderError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from keelson.models import Object
    from keelson.prerequisites import Prerequisite
    from keelson.project import Project

PSS_LABEL = "pod-security.kubernetes.io/enforce"
ISSUER_API = "cert-manager.io/v1/ClusterIssuer"
# The workloads whose immutable fields an upgrade must leave alone (keelson.immutable).
LIVE_KINDS = ("statefulsets.apps", "deployments.apps", "daemonsets.apps")
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
GATEWAY_API = "gateway.networking.k8s.io/v1/Gateway"
ROUTE_API = "gateway.networking.k8s.io/v1/HTTPRoute"  # whose objects need the Gateways
# helm's words when an object's kind is not served, rendering against the cluster (--dry-run=server).
NOT_SERVED = "ensure CRDs are installed first"
# What to do about an optional API that a forced switch needs and the cluster does not serve.
API_REMEDIES = {
    ROUTE_API: "install the Gateway API CRDs (standard channel), "
    "or set global.capabilities.httpRoute to auto or false",
}


class PreflightError(KeelsonError):
    """The target is not the env's cluster, or a prerequisite is missing."""


def bind(env: str, cluster_of_env: str, target: kube.Target) -> None:
    """Refuse a target whose cluster is not the env's ``global.cluster``."""
    if target.cluster != cluster_of_env:
        raise PreflightError(
            f"{env} deploys to cluster {cluster_of_env} (global.cluster in values/{env}.yaml), but "
            f"{target.describe()} is another cluster; pass --kube-context for a context of cluster "
            f"{cluster_of_env}"
        )


def cluster_of(merged: Mapping[str, Any]) -> str:
    """The env's ``global.cluster``: the name its kube context must give the cluster."""
    return str((merged.get("global") or {}).get("cluster") or "")


@dataclass
class PreflightReport:
    env: str
    target: kube.Target
    objects: list[Object]  # the env rendered for the target's API versions: what helm will install
    needs: list[Prerequisite]
    missing: list[str] = field(default_factory=list)  # one line per missing thing
    immutable: list[str] = field(default_factory=list)  # one line per field an upgrade cannot change
    unchecked: list[Prerequisite] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [*self.missing, *self.immutable]

    @property
    def ok(self) -> bool:
        return not self.problems


def run(
    prj: Project,
    env: str,
    *,
    target: kube.Target,
    overlays: Sequence[Path | str] = (),
    loaded: values.MergedValues | None = None,
) -> PreflightReport:
    """Every prerequisite of ``env`` looked up on ``target``; ``missing`` lists what is not there.
    ``loaded``: the values of ``env`` with ``overlays``, when the caller has loaded them already."""
    merged = loaded or values.load(env, overlays, prj)
    bind(env, cluster_of(merged.merged), target)
    apis = kube.api_versions(prj, target)
    objects = _render(prj, merged, target, apis)
    needs = prerequisites.derive(objects, merged.merged, target.namespace)
    report = PreflightReport(env, target, objects, needs)
    report.unchecked = [need for need in needs if not need.checkable]
    state = _Cluster.read(prj, target, apis, needs)
    report.missing = [line for need in needs if need.checkable and (line := state.missing(need))]
    if state.namespace is not None:
        live = kube.get(prj, target, list(LIVE_KINDS), namespace=target.namespace)
        report.immutable = immutable.changes(live, objects, target.namespace)
    return report


def _render(
    prj: Project, merged: values.MergedValues, target: kube.Target, apis: Sequence[str]
) -> list[Object]:
    """The env as ``helm upgrade`` will render it on the target (``--dry-run=server``). An object of an
    API the cluster does not serve (a switch forced ``true``) makes that render fail; then it is
    rendered as ``helm template`` would for the cluster's version and APIs, so the missing API is one
    prerequisite line and everything else is still checked. The charts' own validation failing is a
    FindingsError of one finding per broken rule, as ``invoke check`` reports it."""
    try:
        return _served_render(prj, merged, target, apis)
    except RenderError as exc:
        broken = helmvalidation.findings(exc.message, merged)
        if broken is None:
            raise
        raise FindingsError(broken) from None


def _served_render(
    prj: Project, merged: values.MergedValues, target: kube.Target, apis: Sequence[str]
) -> list[Object]:
    try:
        return rendering.render(
            merged.user,
            prj=prj,
            namespace=target.namespace,
            release=target.release,
            kube_context=target.context,
        )
    except RenderError as exc:
        if NOT_SERVED not in exc.message:
            raise
    return rendering.render(
        merged.user,
        prj=prj,
        namespace=target.namespace,
        release=target.release,
        kube_version=kube.server_version(prj, target),
        api_versions=apis,
    )


@dataclass(frozen=True)
class _Cluster:
    """What the cluster holds of each prerequisite kind, read once: a handful of kubectl calls, one
    more per namespace of the Gateways, and one per Pods need and namespace its selector labels."""

    namespace: Object | None
    secrets: dict[str, frozenset[str]]
    classes: list[Object]  # StorageClasses and IngressClasses
    issuers: frozenset[str] | None  # None: no cert-manager API
    apis: frozenset[str]
    gateways: dict[tuple[str, str], frozenset[str]] | None  # (namespace, name): listeners; None: no API
    # (pod selector, namespace selector): the namespaces so labelled, and those holding such pods
    admitted: dict[tuple[str, str], tuple[list[str], list[str]]]

    @classmethod
    def read(
        cls, prj: Project, target: kube.Target, apis: Sequence[str], needs: Sequence[Prerequisite]
    ) -> _Cluster:
        kinds = {need.kind for need in needs}
        found = kube.get(prj, target, ["namespaces"])
        namespace = next((item for item in found if item["metadata"]["name"] == target.namespace), None)
        secrets = kube.secret_keys(prj, target, target.namespace) if namespace and "Secret" in kinds else {}
        classes = kube.get(prj, target, ["storageclasses.storage.k8s.io", "ingressclasses.networking.k8s.io"])
        issuers = None
        if "ClusterIssuer" in kinds and ISSUER_API in apis:
            listed = kube.get(prj, target, ["clusterissuers.cert-manager.io"])
            issuers = frozenset(str(item["metadata"]["name"]) for item in listed)
        gateways = None
        if GATEWAY_API in apis:
            gateways = {}
            for where in sorted({need.namespace for need in needs if need.kind == "Gateway"}):
                for item in kube.get(prj, target, ["gateways.gateway.networking.k8s.io"], namespace=where):
                    listeners = (item.get("spec") or {}).get("listeners") or []
                    names = frozenset(str(listener.get("name")) for listener in listeners)
                    gateways[where, str(item["metadata"]["name"])] = names
        admitted = {}
        for need in needs:
            if need.kind == "Pods":
                labelled = [
                    str(item["metadata"]["name"]) for item in found if _labelled(item, need.namespace)
                ]
                holding = [name for name in labelled if kube.get(prj, target, ["pods"], name, need.name)]
                admitted[need.name, need.namespace] = (labelled, holding)
        return cls(namespace, secrets, classes, issuers, frozenset(apis), gateways, admitted)

    def missing(self, need: Prerequisite) -> str:
        """One line when ``need`` is not met, else ""."""
        users = ", ".join(need.needed_by[:3]) + (" …" if len(need.needed_by) > 3 else "")
        by = f", needed by {users}" if users else ""
        check = {
            "Namespace": self._namespace,
            "Secret": self._secret,
            "ClusterIssuer": self._issuer,
            "IngressClass": self._ingress_class,
            "StorageClass": self._storage,
            "API": self._api,
            "Gateway": self._gateway,
            "Pods": self._pods,
        }[need.kind]
        return check(need, by)

    def _namespace(self, need: Prerequisite, by: str) -> str:
        if self.namespace is None:
            return f"Namespace {need.name} is missing (create it with its PodSecurity labels: README)"
        labels = (self.namespace.get("metadata") or {}).get("labels") or {}
        if labels.get(PSS_LABEL) != "restricted":
            return (
                f"Namespace {need.name} does not enforce the restricted Pod Security Standard ({PSS_LABEL})"
            )
        return ""

    def _issuer(self, need: Prerequisite, by: str) -> str:
        if self.issuers is None:
            return f"ClusterIssuer {need.name}: cert-manager is not installed (no {ISSUER_API} API){by}"
        return "" if need.name in self.issuers else f"ClusterIssuer {need.name} is missing{by}"

    def _api(self, need: Prerequisite, by: str) -> str:
        if need.name in self.apis:
            return ""
        group_version, _, kind = need.name.rpartition("/")
        remedy = API_REMEDIES.get(need.name, "install its CRD")
        return f"API {group_version} {kind} is not served: {remedy}{by}"

    def _gateway(self, need: Prerequisite, by: str) -> str:
        where = f"Gateway {need.namespace}/{need.name}"
        if self.gateways is None:
            if ROUTE_API not in self.apis:
                return ""  # the HTTPRoutes' API line says it already: one cause, one line
            return f"{where}: the Gateway API is not installed (no {GATEWAY_API}){by}"
        listeners = self.gateways.get((need.namespace, need.name))
        if listeners is None:
            return f"{where} is missing (the HTTPRoutes attach to it: httpRoute.parentRefs){by}"
        absent = [name for name in need.keys if name not in listeners]
        return (
            f"{where} has no listener {', '.join(absent)} (httpRoute.parentRefs sectionName){by}"
            if absent
            else ""
        )

    def _pods(self, need: Prerequisite, by: str) -> str:
        labelled, holding = self.admitted[need.name, need.namespace]
        if not labelled:
            return (
                f"no Namespace labelled {need.namespace}, where the NetworkPolicies admit the pods "
                f"labelled {need.name} (networkPolicy.ingressFrom){by}"
            )
        if not holding:
            return (
                f"no Pods labelled {need.name} in {', '.join(labelled)}: the NetworkPolicies admit route "
                f"traffic only from them (networkPolicy.ingressFrom: the Gateway's proxies or the ingress "
                f"controller){by}"
            )
        return ""

    def _ingress_class(self, need: Prerequisite, by: str) -> str:
        if self._has("IngressClass", need.name):
            return ""
        return f"IngressClass {need.name} is missing (no ingress controller of that class){by}"

    def _has(self, kind: str, name: str) -> bool:
        return any(item["kind"] == kind and item["metadata"]["name"] == name for item in self.classes)

    def _secret(self, need: Prerequisite, by: str) -> str:
        have = self.secrets.get(need.name)
        if have is None:
            keys = f" with keys {', '.join(need.keys)}" if need.keys else ""
            return f"Secret {need.namespace}/{need.name}{keys} is missing{by}"
        absent = [key for key in need.keys if key not in have]
        return f"Secret {need.namespace}/{need.name} has no key {', '.join(absent)}{by}" if absent else ""

    def _storage(self, need: Prerequisite, by: str) -> str:
        if need.name != prerequisites.DEFAULT_STORAGE_CLASS:
            return "" if self._has("StorageClass", need.name) else f"StorageClass {need.name} is missing{by}"
        defaults = [
            item
            for item in self.classes
            if item["kind"] == "StorageClass"
            and (item["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"
        ]
        return "" if defaults else f'no default StorageClass (annotation {DEFAULT_CLASS}: "true"){by}'


def _labelled(obj: Object, selector: str) -> bool:
    """Whether ``obj`` carries every label of ``selector`` (``k=v,k=v``)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    wanted = (pair.partition("=") for pair in selector.split(",") if pair)
    return all(labels.get(key) == value for key, _, value in wanted)
