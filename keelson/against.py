"""The two sides of a diff: what ``--against`` names, rendered to objects.

    side = against.resolve("staging", env="prod", prj=prj)      # another environment
    side = against.resolve("HEAD~1", env="prod", prj=prj)       # a git ref, from a temporary worktree
    side = against.resolve("0.1.0", env="prod", prj=prj)        # a published umbrella version
    side = against.resolve("last", env="prod", prj=prj)         # the env's last published release
    side = against.resolve("cluster", env="prod", prj=prj)      # helm get manifest (current context)

For ``cluster`` the other side must be rendered against that cluster
(``render_env(env, prj, kube_context=target.context)``): the charts leave out what it does not serve
(ServiceMonitor, PrometheusRule without the Prometheus Operator), as helm does when it installs.

A bare word is tried in that order: environment, ``cluster``, ``last``, a version in the
repository index, then a git ref; ``git:REF`` and ``version:X`` say which one outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson import check, git, helm, kube, repository, staging, values
from keelson.errors import KeelsonError
from keelson.project import ENVS, OPTIONAL_APIS, UMBRELLA, Project
from keelson.publish import RECORDS
from keelson.record import ReleaseRecord, read_record
from keelson.staging import default_repo, dist_dir
from keelson.yamlio import parse_all

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from keelson.models import Object


class AgainstError(KeelsonError):
    """What ``--against`` names cannot be found or rendered."""


@dataclass(frozen=True)
class Side:
    label: str  # how the report names it: "staging", "git HEAD~1 (1a2b3c4)", "keelson 0.1.0", "cluster"
    kind: str  # env, git, version, last, cluster
    objects: list[Object]


def record_path(prj: Project, env: str, dist: Path | None = None) -> Path:
    return (dist or dist_dir(prj)) / RECORDS / f"{env}.json"


def render_env(
    env: str, prj: Project, overlays: Sequence[Path | str] = (), kube_context: str | None = None
) -> tuple[list[Object], dict[str, Any]]:
    """``env`` checked (values, values schema) and rendered (against ``kube_context``'s cluster when
    given): the objects and the user values the check loaded."""
    report = check.check(env, overlays, prj, until="render", kube_context=kube_context)
    if not report.ok:
        raise AgainstError(KeelsonError.from_findings(report.findings).message)
    return report.objects, report.user


def render_ref(ref: str, env: str, prj: Project) -> Side:
    """``env`` as it was at ``ref``: that commit's charts/ and values/, this checkout's pinned tools."""
    sha = git.resolve(prj.root, ref)
    if sha is None:
        raise AgainstError(f'--against "{ref}": not a commit of {prj.root}')
    with git.worktree(prj.root, sha) as tree:
        for link in (".tools", ".venv"):
            if (prj.root / link).exists() and not (tree / link).exists():
                (tree / link).symlink_to((prj.root / link).resolve())
        objects, _ = render_env(env, Project(tree))
    return Side(f"git {ref} ({sha[:7]})", "git", objects)


def _archive(repo_dir: Path, index: dict[str, Any], name: str, version: str) -> Path:
    entry = repository.find(index, name, version)
    if entry is None:
        published = ", ".join(str(e.get("version")) for e in repository.versions(index, name)) or "none"
        raise AgainstError(f"{repo_dir}: {name} {version} is not published (published: {published})")
    urls = entry.get("urls") or []
    url = str(urls[0]) if urls else ""
    if not url or "://" in url:
        raise AgainstError(f"{repo_dir}: {name} {version}: only archives next to the index can be rendered")
    archive = repo_dir / url
    if not archive.is_file():
        raise AgainstError(f"{repo_dir}: {name} {version}: {url} is in the index but not in the repository")
    return archive


def render_version(
    version: str, prj: Project, repo_dir: Path, values: dict[str, Any], index: dict[str, Any] | None = None
) -> Side:
    """The published umbrella ``version`` rendered with ``values``.

    ``index``: the repository's, when the caller read it (holding the repository lock, which
    recovered the repository first); otherwise it is read here once a crashed write is finished.
    """
    if index is None:
        staging.recover(repo_dir)  # a write a crash interrupted is finished before the index is read
        index = repository.load_index(repo_dir)
    archive = _archive(repo_dir, index, UMBRELLA, version)
    objects = helm.render_archive(prj, archive, values, api_versions=OPTIONAL_APIS)
    return Side(f"{UMBRELLA} {version}", "version", objects)


def last_record(
    prj: Project, env: str, dist: Path | None = None, held: Sequence[Path] = ()
) -> ReleaseRecord | None:
    """The env's last release record, as the last write left it (finished if it crashed; ``held``:
    the locks the caller holds, see ``staging.recover``)."""
    staging.recover(dist or dist_dir(prj), held=held)
    path = record_path(prj, env, dist)
    return read_record(path) if path.is_file() else None


def render_last(
    env: str,
    prj: Project,
    repo_dir: Path,
    dist: Path | None = None,
    *,
    index: dict[str, Any] | None = None,
    held: Sequence[Path] = (),
) -> Side | None:
    """The env's last published release: its archive with the values it was released with.

    ``index``: the repository's, when the caller read it; ``held``: the locks the caller holds (a
    release holds the repository's).
    """
    rec = last_record(prj, env, dist, held=held)
    if rec is None:
        return None
    side = render_version(rec.version, prj, repo_dir, rec.values, index)
    return Side(f"last {env} release ({rec.chart} {rec.version}, {rec.git_sha[:7]})", "last", side.objects)


def cluster(prj: Project, target: kube.Target, binary: str = "helm") -> Side:
    """The deployed release's manifest (``helm get manifest``) on ``target``."""
    command = helm.command(prj, binary, target.context)
    try:
        output = helm.call(
            f"helm get manifest {target.release}",
            lambda: command.run(["get", "manifest", target.release, "--namespace", target.namespace]),
            AgainstError,
        )
    except AgainstError as exc:
        if "not found" in exc.message:
            where = f"namespace {target.namespace} of {target.describe()}"
            raise AgainstError(f"--against cluster: no release {target.release} in {where}") from exc
        raise
    objects = [doc for doc in parse_all(bytes(output).decode(), "helm get manifest") if isinstance(doc, dict)]
    return Side(f"cluster ({target.release} in {target.namespace}, {target.context})", "cluster", objects)


def resolve(
    against: str,
    *,
    env: str,
    prj: Project,
    repo_dir: Path | None = None,
    user_values: dict[str, Any] | None = None,
    target: kube.Target | None = None,
) -> Side:
    """Whatever ``against`` names, rendered (see the module's docstring for the forms); ``cluster``
    reads ``target`` (default: the current kube context). A published version is rendered with
    ``user_values`` (the env's, as its check loaded them; default values/<env>.yaml)."""
    repo = repo_dir or default_repo(prj)
    read: list[dict[str, Any]] = []

    def index() -> dict[str, Any]:
        """The repository's index, read once, after finishing a write a crash interrupted (its
        journal sits in dist/ and may move a new index into the repository)."""
        if not read:
            staging.recover(dist_dir(prj))
            staging.recover(repo)
            read.append(repository.load_index(repo))
        return read[0]

    kind, _, rest = against.partition(":")
    if rest and kind in ("git", "version"):
        against = rest
    elif against in ENVS:
        kind = "env"
    elif against in ("cluster", "last"):
        kind = against
    elif repository.find(index(), UMBRELLA, against) is not None:
        kind = "version"
    elif git.resolve(prj.root, against) is not None:
        kind = "git"
    else:
        raise AgainstError(
            f'--against "{against}": not an environment ({", ".join(ENVS)}), "cluster", "last", '
            f"a version published in {repo} or a git ref"
        )
    if kind == "env":
        return Side(against, "env", render_env(against, prj)[0])
    if kind == "cluster":
        return cluster(prj, target or kube.resolve(prj))
    if kind == "git":
        return render_ref(against, env, prj)
    if kind == "version":
        user = user_values if user_values is not None else values.load(env, (), prj).user
        return render_version(against, prj, repo, user, index())
    side = render_last(env, prj, repo, index=index())
    if side is None:
        missing = record_path(prj, env)
        raise AgainstError(f"--against last: {env} has no published release yet ({missing} is missing)")
    return side
