"""The cluster a command targets, through the pinned kubectl: the kube context, its cluster, what it serves.

    target = kube.resolve(prj, "keelson-dev")     # None: the kubeconfig's current context
    kube.api_versions(prj, target)                # ("v1", "apps/v1", "apps/v1/Deployment", ...)
    kube.get(prj, target, ["statefulsets"], namespace="keelson")   # live objects, as JSON

Every call is bounded in time (``TIMEOUT``): an unreachable API server is one clear line within
seconds, never a hang. The kubeconfig is whatever kubectl reads ($KUBECONFIG or ~/.kube/config).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.errors import KeelsonError
from keelson.project import NAMESPACE, RELEASE, Project

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keelson.models import Object

TIMEOUT = 20.0  # seconds for one kubectl call; kubectl's own --request-timeout is shorter
REQUEST_TIMEOUT = "15s"
# How long a deploy or a rollback waits for the release to be ready (helm --wait --timeout).
ROLLOUT_TIMEOUT = "10m"


class KubeError(KeelsonError):
    """The kube context is unknown, or the cluster did not answer."""


@dataclass(frozen=True)
class Target:
    """Where a deploy goes: a kube context, the cluster it names, and the release in it."""

    context: str
    cluster: str  # the cluster's name in the kubeconfig (bound to an env by global.cluster)
    server: str
    namespace: str = NAMESPACE
    release: str = RELEASE

    def describe(self) -> str:
        return f"kube context {self.context} (cluster {self.cluster})"


def kubectl(
    prj: Project,
    args: Sequence[str],
    *,
    context: str | None = None,
    what: str = "",
    stdin: bytes | None = None,
) -> bytes:
    """Run the pinned kubectl; a failure is one KubeError line with kubectl's own message."""
    command = [str(prj.tool("kubectl"))]
    if context:
        command += ["--context", context]
    command += ["--request-timeout", REQUEST_TIMEOUT, *args]
    label = what or f"kubectl {args[0]}"
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, timeout=TIMEOUT, check=False, env=prj.tool_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise KubeError(f"{label}: no answer from the cluster within {TIMEOUT:.0f}s") from exc
    if done.returncode != 0:
        raise KubeError(f"{label}: {_condense(done.stderr)}")
    return done.stdout


def _condense(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")] or lines
    return " ".join(errors[:2]).removeprefix("error: ").removeprefix("Error from server ") or "kubectl failed"


def resolve(prj: Project, context: str | None = None) -> Target:
    """The context (``--kube-context``, else the current one) and its cluster, from the kubeconfig alone."""
    args = ["config", "view", "--minify", "--output", "json"]
    config = json.loads(kubectl(prj, args, context=context, what="kubectl config view") or b"{}")
    contexts = config.get("contexts") or []
    clusters = config.get("clusters") or []
    if not contexts:
        where = f"kube context {context}" if context else "a current kube context"
        raise KubeError(f"the kubeconfig has no {where} (kubectl config get-contexts lists them)")
    entry = contexts[0]
    cluster = str((entry.get("context") or {}).get("cluster") or "")
    server = next(
        (
            str((item.get("cluster") or {}).get("server", ""))
            for item in clusters
            if item.get("name") == cluster
        ),
        "",
    )
    return Target(str(entry.get("name", context or "")), cluster, server)


def api_versions(prj: Project, target: Target) -> tuple[str, ...]:
    """What the cluster serves, as helm's ``.Capabilities.APIVersions`` holds it: every ``group/version``
    and every ``group/version/Kind``."""
    versions = kubectl(prj, ["api-versions"], context=target.context).decode().split()
    resources = kubectl(prj, ["api-resources", "--no-headers"], context=target.context).decode()
    kinds = []
    for line in resources.splitlines():
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND: short names may be missing, so read from the right.
        fields = line.split()
        if len(fields) >= 4:
            kinds.append(f"{fields[-3]}/{fields[-1]}")
    return tuple(sorted({*versions, *kinds}))


def server_version(prj: Project, target: Target) -> str:
    """The cluster's Kubernetes version (``v1.35.0``), as helm's ``.Capabilities.KubeVersion`` holds it."""
    output = kubectl(prj, ["version", "--output", "json"], context=target.context)
    return str((json.loads(output).get("serverVersion") or {}).get("gitVersion") or "")


def get(
    prj: Project, target: Target, kinds: Sequence[str], namespace: str | None = None, selector: str = ""
) -> list[Object]:
    """The live objects of ``kinds`` (in ``namespace``, or cluster-scoped; with the labels of
    ``selector``, ``k=v,k=v``, when given), as the API server returns them."""
    args = ["get", ",".join(kinds), "--output", "json", "--ignore-not-found"]
    if namespace:
        args += ["--namespace", namespace]
    if selector:
        args += ["--selector", selector]
    output = kubectl(prj, args, context=target.context, what=f"kubectl get {','.join(kinds)}")
    items: list[Any] = json.loads(output).get("items", []) if output.strip() else []
    return [item for item in items if isinstance(item, dict)]


# Only each Secret's name and key names leave kubectl: a Secret's values never reach this process.
_SECRET_KEYS = (
    '{{range .items}}{{.metadata.name}}{{range $key, $value := .data}} {{$key}}{{end}}{{"\\n"}}{{end}}'
)


def secret_keys(prj: Project, target: Target, namespace: str) -> dict[str, frozenset[str]]:
    """Every Secret of ``namespace`` with the names of its keys (never their values)."""
    args = ["get", "secrets", "--namespace", namespace, "--output", f"go-template={_SECRET_KEYS}"]
    output = kubectl(prj, args, context=target.context, what=f"kubectl get secrets -n {namespace}").decode()
    found: dict[str, frozenset[str]] = {}
    for line in output.splitlines():
        if line.strip():
            name, *keys = line.split()
            found[name] = frozenset(keys)
    return found
