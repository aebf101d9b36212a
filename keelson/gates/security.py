"""Pod security: the restricted Pod Security Standard, host access, and service account tokens."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from keelson.gates.engine import Context, Hit, rule

if TYPE_CHECKING:
    from keelson.k8s import Container, Workload

# Capabilities the restricted standard lets a container add back.
ALLOWED_ADD = frozenset({"NET_BIND_SERVICE"})


def _effective(workload: Workload, container: Container, key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    own = container.spec.get("securityContext") or {}
    if key in own:
        return own[key]
    return (workload.pod_spec.get("securityContext") or {}).get(key)


def _containers(ctx: Context) -> Iterator[tuple[Workload, Container, Mapping[str, Any]]]:
    for workload in ctx.workloads:
        for container in workload.containers():
            yield workload, container, container.spec.get("securityContext") or {}


def _who(container: Container) -> str:
    return f'{"init container" if container.init else "container"} "{container.name}"'


@rule(
    "KEEL020",
    "Containers run as non-root",
    remediation="keep common.securityContext (runAsNonRoot: true, runAsUser 10001); the image must not "
    "need root",
)
def non_root(ctx: Context) -> Iterator[Hit]:
    for workload, container, _ in _containers(ctx):
        where = f"{container.path}.securityContext"
        if _effective(workload, container, "runAsNonRoot") is not True:
            yield Hit(workload.ref, f"{_who(container)}: runAsNonRoot is not true", f"{where}.runAsNonRoot")
        elif _effective(workload, container, "runAsUser") == 0:
            yield Hit(workload.ref, f"{_who(container)}: runAsUser is 0 (root)", f"{where}.runAsUser")


@rule(
    "KEEL021",
    "Containers cannot escalate privileges",
    remediation="set securityContext.allowPrivilegeEscalation: false (common.securityContext.container does)",
)
def no_escalation(ctx: Context) -> Iterator[Hit]:
    for workload, container, context in _containers(ctx):
        if context.get("allowPrivilegeEscalation") is not False:
            yield Hit(
                workload.ref,
                f"{_who(container)}: allowPrivilegeEscalation is not false",
                f"{container.path}.securityContext.allowPrivilegeEscalation",
            )


@rule(
    "KEEL022",
    "Containers drop ALL capabilities",
    remediation="set securityContext.capabilities.drop: [ALL] and add back at most NET_BIND_SERVICE",
)
def drop_all(ctx: Context) -> Iterator[Hit]:
    for workload, container, context in _containers(ctx):
        capabilities = context.get("capabilities") or {}
        path = f"{container.path}.securityContext.capabilities"
        if "ALL" not in [str(item).upper() for item in capabilities.get("drop") or []]:
            yield Hit(
                workload.ref, f"{_who(container)}: capabilities.drop does not include ALL", f"{path}.drop"
            )
        added = sorted(
            str(item) for item in capabilities.get("add") or [] if str(item).upper() not in ALLOWED_ADD
        )
        if added:
            yield Hit(workload.ref, f"{_who(container)}: adds capabilities {', '.join(added)}", f"{path}.add")


@rule(
    "KEEL023",
    "Containers run under the RuntimeDefault seccomp profile",
    remediation="set seccompProfile.type: RuntimeDefault on the pod (common.securityContext.pod does)",
)
def seccomp(ctx: Context) -> Iterator[Hit]:
    for workload, container, _ in _containers(ctx):
        profile = _effective(workload, container, "seccompProfile") or {}
        kind = profile.get("type") if isinstance(profile, Mapping) else None
        if kind not in ("RuntimeDefault", "Localhost"):
            shown = f"is {kind}" if kind else "is not set"
            yield Hit(
                workload.ref,
                f"{_who(container)}: seccompProfile {shown}",
                f"{workload.pod_path}.securityContext.seccompProfile",
            )


@rule(
    "KEEL024",
    "Containers have a read-only root filesystem",
    remediation="set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the program "
    "writes",
)
def read_only_root(ctx: Context) -> Iterator[Hit]:
    for workload, container, context in _containers(ctx):
        if context.get("readOnlyRootFilesystem") is not True:
            yield Hit(
                workload.ref,
                f"{_who(container)}: readOnlyRootFilesystem is not true",
                f"{container.path}.securityContext.readOnlyRootFilesystem",
            )


@rule(
    "KEEL025",
    "No privileged containers",
    remediation="remove privileged: true; a node agent that truly needs it gets a gates.waive entry with a "
    "reason",
)
def not_privileged(ctx: Context) -> Iterator[Hit]:
    for workload, container, context in _containers(ctx):
        if context.get("privileged") is True:
            yield Hit(
                workload.ref,
                f"{_who(container)}: privileged is true",
                f"{container.path}.securityContext.privileged",
            )


@rule(
    "KEEL026",
    "No hostPath volumes",
    remediation="use emptyDir or a PVC; a node agent reading host logs gets a gates.waive entry with a "
    "reason",
)
def no_host_path(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        for index, volume in enumerate(workload.pod_spec.get("volumes") or []):
            if isinstance(volume, Mapping) and "hostPath" in volume:
                host = (volume.get("hostPath") or {}).get("path", "")
                yield Hit(
                    workload.ref,
                    f'volume "{volume.get("name")}" mounts the host path {host}',
                    f"{workload.pod_path}.volumes[{index}].hostPath",
                )


@rule(
    "KEEL027",
    "No host network, PID or IPC namespace, and no host ports",
    remediation="remove hostNetwork/hostPID/hostIPC/hostPort; a node agent that needs one gets a "
    "gates.waive entry",
)
def no_host_namespaces(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if workload.pod_spec.get(field) is True:
                yield Hit(workload.ref, f"{field} is true", f"{workload.pod_path}.{field}")
        for container in workload.containers():
            for index, port in enumerate(container.spec.get("ports") or []):
                if isinstance(port, Mapping) and port.get("hostPort"):
                    yield Hit(
                        workload.ref,
                        f"{_who(container)}: port {port.get('containerPort')} is bound to "
                        f"host port {port['hostPort']}",
                        f"{container.path}.ports[{index}].hostPort",
                    )


def _bound_accounts(ctx: Context) -> set[tuple[str, str]]:
    """(namespace, name) of every ServiceAccount that a RoleBinding or ClusterRoleBinding names."""
    bound: set[tuple[str, str]] = set()
    for binding in ctx.of_kind("RoleBinding", "ClusterRoleBinding"):
        home = ctx.namespace_of(binding) if binding.get("kind") == "RoleBinding" else ctx.default_namespace
        for subject in binding.get("subjects") or []:
            if isinstance(subject, Mapping) and subject.get("kind") == "ServiceAccount":
                bound.add((str(subject.get("namespace") or home), str(subject.get("name"))))
    return bound


@rule(
    "KEEL028",
    "Only pods that call the Kubernetes API mount a service account token",
    remediation="set automountServiceAccountToken: false on the pod (or its ServiceAccount); a "
    "pod that calls "
    "the API needs a (Cluster)RoleBinding for its ServiceAccount in the chart",
)
def token_only_for_api_users(ctx: Context) -> Iterator[Hit]:
    accounts = {
        (ctx.namespace_of(sa), str((sa.get("metadata") or {}).get("name"))): sa
        for sa in ctx.of_kind("ServiceAccount")
    }
    bound = _bound_accounts(ctx)
    for workload in ctx.workloads:
        account = str(workload.pod_spec.get("serviceAccountName") or "default")
        key = (workload.ref.namespace, account)
        automount = workload.pod_spec.get("automountServiceAccountToken")
        if automount is None:
            automount = (accounts.get(key) or {}).get("automountServiceAccountToken")
        if automount is False or key in bound:
            continue
        yield Hit(
            workload.ref,
            f'mounts the token of ServiceAccount "{account}", which no RoleBinding or '
            "ClusterRoleBinding in the chart grants anything",
            f"{workload.pod_path}.automountServiceAccountToken",
        )


# Taints whose toleration lets a pod onto the control plane.
CONTROL_PLANE_TAINTS = frozenset({"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"})


@rule(
    "KEEL029",
    "No blanket tolerations, none for the control plane",
    envs=("staging", "prod"),
    remediation="tolerate named taints only (key plus effect); `operator: Exists` without a key tolerates "
    "every taint, control-plane ones included",
)
def no_blanket_tolerations(ctx: Context) -> Iterator[Hit]:
    for workload in ctx.workloads:
        for index, toleration in enumerate(workload.pod_spec.get("tolerations") or []):
            if not isinstance(toleration, Mapping):
                continue
            path = f"{workload.pod_path}.tolerations[{index}]"
            key = toleration.get("key")
            if toleration.get("operator") == "Exists" and not key:
                yield Hit(
                    workload.ref, f"toleration {index} (operator Exists, no key) tolerates every taint", path
                )
            elif key in CONTROL_PLANE_TAINTS:
                yield Hit(
                    workload.ref, f"toleration {index} lets the pods onto the control plane ({key})", path
                )
