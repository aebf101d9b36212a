"""Install, upgrade and roll back the release in the current kube context, through pyhelm3.

    result = deploy.upgrade(prj, Path("dist/repo/keelson-0.2.0.tgz"), user_values, env="prod")
    result = deploy.rollback(prj, env="prod", revision=3)

``upgrade`` refuses a release stuck in ``pending-install``/``pending-upgrade``/``pending-rollback``
(another operation is running, or one died half-way: helm would refuse too, less clearly), then
runs ``helm upgrade --install --wait`` with ``--rollback-on-failure`` (Helm 4) or ``--atomic``
(Helm 3), so a failed upgrade goes back to the last good revision by itself. ``rollback`` refuses
to touch a release whose values say it belongs to another environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson import helm
from keelson.errors import KeelsonError
from keelson.project import NAMESPACE, RELEASE, Project

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_TIMEOUT = "10m"


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

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "namespace": self.namespace,
            "revision": self.revision,
            "status": self.status,
            "chart": self.chart,
            "action": self.action,
        }


def history(
    prj: Project, release: str = RELEASE, namespace: str = NAMESPACE, binary: str = "helm"
) -> list[Revision]:
    """The release's revisions, oldest first; empty when it was never installed."""
    command = helm.command(prj, binary)
    try:
        entries = helm.call(
            f"helm history {release}",
            lambda: command.history(release, namespace=namespace, max_revisions=256),
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


def refuse_pending(revisions: list[Revision], release: str, namespace: str) -> None:
    if revisions and revisions[-1].status.startswith("pending"):
        last = revisions[-1]
        raise DeployError(
            f"release {release} in namespace {namespace} is {last.status} at revision {last.revision} "
            f"({last.chart}); wait for that operation, or roll back with invoke rollback, then release again"
        )


def _env_of(prj: Project, release: str, namespace: str, binary: str) -> str | None:
    command = helm.command(prj, binary)
    found = helm.call(
        f"helm get values {release}",
        lambda: command.get_values(release, namespace=namespace, computed=True),
        DeployError,
    )
    env = (found.get("global") or {}).get("env") if isinstance(found, dict) else None
    return str(env) if env else None


def _refuse_other_env(prj: Project, env: str, release: str, namespace: str, binary: str) -> None:
    deployed = _env_of(prj, release, namespace, binary)
    if deployed not in (None, env):
        raise DeployError(
            f"release {release} in namespace {namespace} of the current kube context is {deployed}, "
            f"not {env}; switch the kube context first"
        )


def upgrade(
    prj: Project,
    archive: Path,
    values: dict[str, Any],
    *,
    env: str,
    description: str = "",
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    timeout: str = DEFAULT_TIMEOUT,
    binary: str = "helm",
) -> DeployResult:
    """``helm upgrade --install --wait`` with automatic rollback; the new revision."""
    revisions = history(prj, release, namespace, binary)
    refuse_pending(revisions, release, namespace)
    if revisions:
        _refuse_other_env(prj, env, release, namespace, binary)
    atomic = "--rollback-on-failure" if helm.major_version(prj, binary) >= 4 else "--atomic"
    command = helm.command(prj, binary)
    result = helm.call(
        f"helm upgrade --install {release}",
        lambda: command.install_or_upgrade(
            release,
            archive,
            values,
            atomic=True,
            atomic_arg=atomic,
            wait=True,
            namespace=namespace,
            timeout=timeout,
            description=description or None,
        ),
        DeployError,
    )
    info = result.get("info") or {}
    metadata = (result.get("chart") or {}).get("metadata") or {}
    return DeployResult(
        release,
        namespace,
        int(result.get("version", 0)),
        str(info.get("status", "")),
        f"{metadata.get('name', '?')}-{metadata.get('version', '?')}",
        "upgrade" if revisions else "install",
    )


def rollback(
    prj: Project,
    *,
    env: str,
    revision: int | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    timeout: str = DEFAULT_TIMEOUT,
    binary: str = "helm",
) -> DeployResult:
    """``helm rollback`` to ``revision`` (default: the one before the current), waiting for it."""
    revisions = history(prj, release, namespace, binary)
    if not revisions:
        where = f"namespace {namespace} of the current kube context"
        raise DeployError(f"release {release} is not installed in {where}")
    _refuse_other_env(prj, env, release, namespace, binary)
    known = [item.revision for item in revisions]
    if revision is not None and revision not in known:
        listed = ", ".join(map(str, known))
        raise DeployError(f"--revision {revision}: release {release} has revisions {listed}")
    if revision is None and len(revisions) < 2:
        raise DeployError(f"release {release} has only revision {known[0]}: nothing to roll back to")
    command = helm.command(prj, binary)
    helm.call(
        f"helm rollback {release}",
        lambda: command.rollback(release, revision, namespace=namespace, wait=True, timeout=timeout),
        DeployError,
    )
    latest = history(prj, release, namespace, binary)[-1]
    return DeployResult(release, namespace, latest.revision, latest.status, latest.chart, "rollback")
