"""Package every chart reproducibly and write the environment's release record.

Archives are byte-identical for the same sources, on any clone: ``keelson.archive`` writes them
(sorted entries, fixed owner and modes, no gzip time) with every entry's time pinned to the last
commit that touched the chart or a chart it embeds. Each Chart.lock is the one helm made when
the render prepared the dependencies, its ``generated`` stamp pinned, and a chart's charts/ holds
the reproducible archives of its dependencies, so the umbrella's embedded ``keelson/charts/*.tgz``
are the published bytes. The time is per chart rather than HEAD's, so a
chart that did not change keeps its digest across commits and republishing it is a no-op.

The release record (``release.json``) says what was packaged for one environment: chart versions
and archive digests, every image of the render, the git commit, and the values with their digest.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
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
from keelson.render import prepared
from keelson.staging import Staging, default_repo, dist_dir
from keelson.yamlio import parse

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

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


def build(prj: Project, out: Path, *, sign: Signing | None = None, binary: str = "helm") -> list[Archive]:
    """Archive every chart of ``prj`` into ``out`` (made if missing), dependencies first.

    A chart's Chart.lock is the one ``binary`` made for its current sources (``render.prepared``:
    helm runs here only when the render's preparation is stale), its ``generated`` stamp pinned;
    its charts/ holds exactly the reproducible archives written here for its dependencies, byte for byte the
    published ones. Nothing else in the checkout's charts/ folders is read.
    """
    charts = all_charts(prj.charts_dir)
    times = chart_times(prj, charts)
    out.mkdir(parents=True, exist_ok=True)
    built: dict[str, Archive] = {}  # by chart directory name
    with prepared(prj, binary, charts) as locks:
        for chart in charts:
            seconds = times[chart.path]
            where = f"charts/{chart.path.name}/Chart.yaml"
            products: dict[str, bytes] = {}
            if chart.dependencies:
                lock = locks[chart.path]
                products["Chart.lock"] = _GENERATED.sub(
                    f'generated: "{repository.rfc3339(seconds)}"', lock
                ).encode()
                for dep in chart.dependencies:
                    made = built[dep.path.name]
                    if not (chart.path / "charts" / made.file).is_file():
                        raise PackageError(
                            f"{where}: helm dependency update did not place charts/{made.file}"
                        )
                    products[f"charts/{made.file}"] = (out / made.file).read_bytes()
            built[chart.path.name] = _archive(chart, out, seconds, products, sign)
    return list(built.values())


def _archive(
    chart: Chart, out: Path, seconds: int, products: dict[str, bytes], sign: Signing | None
) -> Archive:
    where = f"charts/{chart.path.name}/Chart.yaml"
    metadata = _chart_yaml_of(chart)
    name, version = str(metadata["name"]), str(metadata["version"])
    target = out / f"{name}-{version}.tgz"
    try:
        archiving.write(chart.path, name, target, seconds, products)
    except OSError as exc:
        raise PackageError(f"{where}: cannot archive: {exc}") from exc
    digest = sha256_file(target)
    provenance = None
    if sign is not None:
        signed = archiving.sign(
            target, digest, metadata, key=sign.key, keyring=sign.keyring, passphrase_file=sign.passphrase_file
        )
        provenance = signed.name
    return Archive(
        name, version, target.name, digest, repository.rfc3339(seconds), where, metadata, provenance
    )


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
    archives = build(prj, folder, sign=sign, binary=binary)
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
