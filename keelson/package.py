"""Package every chart reproducibly and write the environment's release record.

Archives are byte-identical for the same sources, on any clone: ``keelson.archive`` writes them
(sorted entries, fixed owner and modes, no gzip time) with every entry's time pinned to the last
commit that touched the chart or a chart it embeds. ``helm dependency update`` runs on a copy of
the sources, leaves first; the ``generated`` stamp of each Chart.lock is pinned, and the
dependency archives it places are swapped for the reproducible ones, so the umbrella's embedded
``keelson/charts/*.tgz`` are the published bytes. The time is per chart rather than HEAD's, so a
chart that did not change keeps its digest across commits and republishing it is a no-op.

The release record (``release.json``) says what was packaged for one environment: chart versions
and archive digests, every image of the render, the git commit, and the values with their digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson import archive as archiving
from keelson import git, k8s, repository
from keelson.charts import Chart, all_charts, build_order
from keelson.errors import KeelsonError
from keelson.project import UMBRELLA, Project
from keelson.record import (
    RECORD,
    ChartRecord,
    ReleaseRecord,
    refuse_secrets,
    values_digest,
    write_record,
)
from keelson.render import prepare_dependencies
from keelson.staging import Staging, default_repo, dist_dir
from keelson.yamlio import parse

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keelson.models import Object

_GENERATED = re.compile(r"^generated: .*$", re.MULTILINE)


class PackageError(KeelsonError):
    """A chart cannot be packaged, signed, or recorded."""


@dataclass(frozen=True)
class Signing:
    """``helm package --sign``: the key's name (uid or part of it) in a keyring given by path."""

    key: str
    keyring: Path
    passphrase_file: Path | None = None


@dataclass(frozen=True)
class Archive:
    name: str
    version: str
    file: str  # <name>-<version>.tgz, in the package folder
    sha256: str
    created: str  # RFC 3339, the pinned time
    source: str  # charts/<dir>/Chart.yaml
    metadata: dict[str, Any]  # the packaged Chart.yaml
    provenance: str | None = None  # <file>.prov when signed

    def entry(self) -> repository.Entry:
        return repository.Entry(
            self.name, self.version, self.sha256, self.file, self.created, self.source, self.metadata
        )


@dataclass(frozen=True)
class PackageResult:
    env: str
    folder: Path  # where the archives and release.json are
    archives: tuple[Archive, ...]
    record: ReleaseRecord
    decisions: tuple[repository.Decision, ...]  # against the repository index (add / unchanged)

    @property
    def umbrella(self) -> Archive:
        return next(item for item in self.archives if item.name == self.record.chart)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_sources(prj: Project, target: Path) -> None:
    """Each chart's own files: not its built charts/ folder or Chart.lock (made again below)."""
    for chart in all_charts(prj.charts_dir):
        built = {chart.path / "charts", chart.path / "Chart.lock"}
        shutil.copytree(
            chart.path,
            target / chart.path.name,
            ignore=lambda folder, names, built=built: [n for n in names if Path(folder) / n in built],
        )


def chart_times(prj: Project, charts: Sequence[Chart]) -> dict[Path, int]:
    """Per chart directory: the time of the last commit that touched it or a chart it embeds.

    ``SOURCE_DATE_EPOCH``, when set, is used for every chart instead (as reproducible builds do).
    """
    override = os.environ.get("SOURCE_DATE_EPOCH")
    times: dict[Path, int] = {}
    for chart in charts:
        tree = [node.path for node in build_order(chart)]
        times[chart.path] = int(override) if override else git.last_change(prj.root, tree)
    return times


def build(
    prj: Project, out: Path, work: Path, *, sign: Signing | None = None, binary: str = "helm"
) -> list[Archive]:
    """Archive every chart of ``prj`` into ``out`` (made if missing), dependencies first.

    ``helm dependency update`` runs on a copy of the sources in ``work`` (so no stale archive of
    the checkout's own charts/ folders can slip in); the archives it places in a chart's charts/
    are then swapped for the reproducible ones written here, byte for byte the published ones.
    """
    times = chart_times(prj, all_charts(prj.charts_dir))
    source = work / "src"
    _copy_sources(prj, source / "charts")
    for link in (".tools", ".venv"):
        if (prj.root / link).exists():
            (source / link).symlink_to((prj.root / link).resolve())
    copy = Project(source)
    out.mkdir(parents=True, exist_ok=True)
    built: dict[str, Archive] = {}  # by chart directory name
    for chart in all_charts(copy.charts_dir):
        seconds = times[prj.charts_dir.resolve() / chart.path.name]
        where = f"charts/{chart.path.name}/Chart.yaml"
        replace: dict[str, bytes] = {}
        if chart.dependencies:
            prepare_dependencies(copy, binary, [chart])
            lock = (chart.path / "Chart.lock").read_text(encoding="utf-8")
            replace["Chart.lock"] = _GENERATED.sub(
                f'generated: "{repository.rfc3339(seconds)}"', lock
            ).encode()
            for dep in chart.dependencies:
                made = built[dep.path.name]
                if not (chart.path / "charts" / made.file).is_file():
                    raise PackageError(f"{where}: helm dependency update did not place charts/{made.file}")
                replace[f"charts/{made.file}"] = (out / made.file).read_bytes()
        metadata = _chart_yaml_of(chart)
        name, version = str(metadata["name"]), str(metadata["version"])
        target = out / f"{name}-{version}.tgz"
        try:
            archiving.write(chart.path, name, target, seconds, replace)
        except OSError as exc:
            raise PackageError(f"{where}: cannot archive: {exc}") from exc
        digest = sha256_file(target)
        provenance = None
        if sign is not None:
            signed = archiving.sign(
                target,
                digest,
                metadata,
                key=sign.key,
                keyring=sign.keyring,
                passphrase_file=sign.passphrase_file,
            )
            provenance = signed.name
        built[chart.path.name] = Archive(
            name, version, target.name, digest, repository.rfc3339(seconds), where, metadata, provenance
        )
    return list(built.values())


def _chart_yaml_of(chart: Chart) -> dict[str, Any]:
    where = f"charts/{chart.path.name}/Chart.yaml"
    data = parse((chart.path / "Chart.yaml").read_text(encoding="utf-8"), where)
    if not isinstance(data, dict) or not data.get("name") or not data.get("version"):
        raise PackageError(f"{where}: needs a name and a version")
    repository.version_key(str(data["version"]))
    return data


def record(
    env: str,
    archives: Sequence[Archive],
    objects: Sequence[Object],
    user_values: dict[str, Any],
    commit: git.Commit,
    *,
    files: Sequence[str] = (),
) -> ReleaseRecord:
    umbrella = next((item for item in archives if item.name == UMBRELLA), None)
    if umbrella is None:
        raise PackageError(f"no {UMBRELLA} chart among the packaged charts")
    return ReleaseRecord(
        env=env,
        chart=umbrella.name,
        version=umbrella.version,
        charts=tuple(
            ChartRecord(item.name, item.version, item.file, item.sha256, item.provenance) for item in archives
        ),
        images=tuple(k8s.images(objects)),
        git_sha=commit.sha,
        git_dirty=not commit.clean,
        commit_time=repository.rfc3339(commit.time),
        values_digest=values_digest(user_values),
        values=user_values,
        objects=len(objects),
        values_files=tuple(files),
    )


def package(
    env: str,
    prj: Project,
    folder: Path,
    *,
    objects: Sequence[Object],
    user_values: dict[str, Any],
    index: dict[str, Any],
    sign: Signing | None = None,
    binary: str = "helm",
    values_files: Sequence[str] = (),
) -> PackageResult:
    """Archives and release.json for ``env`` in ``folder``, each decided against ``index`` (the
    repository's, read once by the caller: add or already published).

    ``folder`` should be inside a staging folder; a chart whose version cannot be published
    (same version, other content; or below the newest published) raises RepositoryError.
    """
    work = folder.parent / f".work-{folder.name}"
    try:
        archives = build(prj, folder, work, sign=sign, binary=binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    decisions = tuple(repository.decide(index, archive.entry()) for archive in archives)
    rec = record(env, archives, objects, user_values, git.head(prj.root), files=values_files)
    write_record(rec, folder / RECORD)
    return PackageResult(env, folder, tuple(archives), rec, decisions)


def run(
    env: str,
    prj: Project,
    *,
    objects: Sequence[Object],
    user_values: dict[str, Any],
    values_files: Sequence[str] = (),
    repo_dir: Path | None = None,
    dist: Path | None = None,
    sign: Signing | None = None,
) -> PackageResult:
    """``invoke package``: ``env``'s checked render and values packaged into ``dist/packages/<env>/``.

    Staged like a release: ``dist/packages/<env>/`` is replaced only when every chart packaged
    and passed the version check against the repository.
    """
    refuse_secrets(env, user_values)  # before building anything: the record could not be written
    dist = dist or dist_dir(prj)
    repo = repo_dir or default_repo(prj)
    with Staging(dist) as stage:
        staged = package(
            env,
            prj,
            stage.path / "packages",
            objects=objects,
            user_values=user_values,
            index=repository.load_index(repo),
            sign=sign,
            values_files=values_files,
        )
        target = dist / "packages" / env
        stage.commit([(staged.folder, target)])
    return PackageResult(env, target, staged.archives, staged.record, staged.decisions)
