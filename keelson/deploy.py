"""Install, upgrade and roll back the release on a target (a kube context), through pyhelm3.

    target = kube.resolve(prj, "keelson-prod")
    deploy.guard(prj, "prod", target, cluster_of_env="prod")          # seconds; raises DeployError
    result = deploy.upgrade(prj, Path("dist/repo/keelson-0.2.0.tgz"), user_values, env="prod", target=target)
    result = deploy.rollback(prj, env="prod", target=target, revision=3)

``guard`` is the env guard, run before anything else: the target's cluster must be the env's
(``global.cluster``), the release there must belong to the env, and (for an upgrade) must not be
stuck in ``pending-install``/``pending-upgrade``/``pending-rollback`` (another operation is running,
or one died half-way: helm would refuse too, less clearly). ``upgrade`` then runs ``helm upgrade
--install --wait`` with ``--rollback-on-failure`` (Helm 4) or ``--atomic`` (Helm 3), so a failed
upgrade goes back to the last good revision by itself, and reads back what helm installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson import helm, preflight
from keelson.errors import KeelsonError
from keelson.k8s import ref
from keelson.kube import ROLLOUT_TIMEOUT
from keelson.yamlio import parse_all

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.kube import Target
    from keelson.project import Project


class DeployError(KeelsonError):
    """The cluster refused, or the release is in a state that must not be built on."""


@dataclass(frozen=True)
class Revision:
    revision: int
    status: str
    chart: str  # name-version
    app_version: str
    description: str


@dataclass(frozen=True)
class DeployResult:
    release: str
    namespace: str
    revision: int
    status: str
    chart: str
    action: str  # install, upgrade or rollback
    context: str = ""
    installed: tuple[str, ...] = ()  # Kind/namespace/name of each object, as helm installed them

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "release": self.release,
            "namespace": self.namespace,
            "revision": self.revision,
            "status": self.status,
            "chart": self.chart,
            "action": self.action,
        }
        if self.context:
            data["context"] = self.context
        if self.installed:
            data["objects"] = len(self.installed)
            data["installed"] = list(self.installed)
        return data


def history(prj: Project, target: Target, binary: str = "helm") -> list[Revision]:
    """The release's revisions, oldest first; empty when it was never installed."""
    command = helm.command(prj, binary, target.context)
    try:
        entries = helm.call(
            f"helm history {target.release}",
            lambda: command.history(target.release, namespace=target.namespace, max_revisions=256),
            DeployError,
        )
    except DeployError as exc:
        if "not found" in exc.message:
            return []
        raise
    revisions = [
        Revision(
            int(entry.get("revision", 0)),
            str(entry.get("status", "")),
            str(entry.get("chart", "")),
            str(entry.get("app_version", "")),
            str(entry.get("description", "")),
        )
        for entry in entries or []
        if isinstance(entry, dict)
    ]
    return sorted(revisions, key=lambda item: item.revision)


def refuse_pending(revisions: list[Revision], target: Target) -> None:
    if revisions and revisions[-1].status.startswith("pending"):
        last = revisions[-1]
        raise DeployError(
            f"release {target.release} in namespace {target.namespace} is {last.status} at revision "
            f"{last.revision} ({last.chart}); wait for that operation, or roll back with invoke rollback, "
            "then release again"
        )


def _env_of(prj: Project, target: Target, binary: str) -> str | None:
    command = helm.command(prj, binary, target.context)
    found = helm.call(
        f"helm get values {target.release}",
        lambda: command.get_values(target.release, namespace=target.namespace, computed=True),
        DeployError,
    )
    env = (found.get("global") or {}).get("env") if isinstance(found, dict) else None
    return str(env) if env else None


def guard(
    prj: Project,
    env: str,
    target: Target,
    *,
    cluster_of_env: str,
    pending_ok: bool = False,
    binary: str = "helm",
) -> list[Revision]:
    """The env guard: the target is the env's cluster and its release is the env's. Its revisions."""
    try:
        preflight.bind(env, cluster_of_env, target)
    except preflight.PreflightError as exc:
        raise DeployError(exc.message) from exc
    revisions = history(prj, target, binary)
    if not pending_ok:
        refuse_pending(revisions, target)
    if revisions:
        deployed = _env_of(prj, target, binary)
        if deployed not in (None, env):
            raise DeployError(
                f"release {target.release} in namespace {target.namespace} of {target.describe()} is "
                f"{deployed}, not {env}; pass --kube-context for a context of the {env} cluster"
            )
    return revisions


def installed(prj: Project, target: Target, binary: str = "helm") -> tuple[str, ...]:
    """What the deployed revision holds (``helm get manifest``), as ``Kind/namespace/name`` keys."""
    command = helm.command(prj, binary, target.context)
    output = helm.call(
        f"helm get manifest {target.release}",
        lambda: command.run(["get", "manifest", target.release, "--namespace", target.namespace]),
        DeployError,
    )
    documents = parse_all(bytes(output).decode(), "helm get manifest")
    return tuple(
        ref(doc, target.namespace).key for doc in documents if isinstance(doc, dict) and "kind" in doc
    )


def upgrade(
    prj: Project,
    archive: Path,
    values: dict[str, Any],
    *,
    env: str,
    target: Target,
    description: str = "",
    timeout: str = ROLLOUT_TIMEOUT,
    binary: str = "helm",
) -> DeployResult:
    """``helm upgrade --install --wait`` with automatic rollback; the new revision and what it holds.

    The caller runs ``guard`` first (release.run does, before any other stage); this checks again
    that nothing is pending, since a minute may have passed.
    """
    revisions = history(prj, target, binary)
    refuse_pending(revisions, target)
    atomic = "--rollback-on-failure" if helm.major_version(prj, binary) >= 4 else "--atomic"
    command = helm.command(prj, binary, target.context)
    result = helm.call(
        f"helm upgrade --install {target.release}",
        lambda: command.install_or_upgrade(
            target.release,
            archive,
            values,
            atomic=True,
            atomic_arg=atomic,
            wait=True,
            namespace=target.namespace,
            timeout=timeout,
            description=description or None,
        ),
        DeployError,
    )
    info = result.get("info") or {}
    metadata = (result.get("chart") or {}).get("metadata") or {}
    return DeployResult(
        target.release,
        target.namespace,
        int(result.get("version", 0)),
        str(info.get("status", "")),
        f"{metadata.get('name', '?')}-{metadata.get('version', '?')}",
        "upgrade" if revisions else "install",
        target.context,
        installed(prj, target, binary),
    )


def rollback(
    prj: Project,
    *,
    env: str,
    target: Target,
    cluster_of_env: str,
    revision: int | None = None,
    timeout: str = ROLLOUT_TIMEOUT,
    binary: str = "helm",
) -> DeployResult:
    """``helm rollback`` to ``revision`` (default: the one before the current), waiting for it."""
    revisions = guard(prj, env, target, cluster_of_env=cluster_of_env, pending_ok=True, binary=binary)
    if not revisions:
        where = f"namespace {target.namespace} of {target.describe()}"
        raise DeployError(f"release {target.release} is not installed in {where}")
    known = [item.revision for item in revisions]
    if revision is not None and revision not in known:
        listed = ", ".join(map(str, known))
        raise DeployError(f"--revision {revision}: release {target.release} has revisions {listed}")
    if revision is None and len(revisions) < 2:
        raise DeployError(f"release {target.release} has only revision {known[0]}: nothing to roll back to")
    command = helm.command(prj, binary, target.context)
    helm.call(
        f"helm rollback {target.release}",
        lambda: command.rollback(
            target.release, revision, namespace=target.namespace, wait=True, timeout=timeout
        ),
        DeployError,
    )
    latest = history(prj, target, binary)[-1]
    return DeployResult(
        target.release,
        target.namespace,
        latest.revision,
        latest.status,
        latest.chart,
        "rollback",
        target.context,
        installed(prj, target, binary),
    )
