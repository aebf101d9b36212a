"""Publish packaged charts: into a directory repository (merged index) and to an OCI registry.

    plan = publish.prepare(packaged, repo_dir, index, stage.area(repo_dir), now=publish.now())
    pushed = publish.push_oci(prj, packaged, "oci://127.0.0.1:5000/charts", plain_http=True)
    stage.commit(publish.moves(plan), locks=[repo_dir])   # new archives first, index.yaml last

``prepare`` writes nothing into the repository: it stages the new archives (and their ``.prov``)
and, when anything is new, the merged ``index.yaml`` in a staging folder on the repository's own
filesystem; the caller commits them once every other stage has passed, holding
``repository.lock``. A second identical release stages nothing at all, so the repository stays
byte for byte as it was. The index's ``generated`` stamp honours ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from keelson import cosign, helm, repository
from keelson.charts import all_charts
from keelson.errors import KeelsonError
from keelson.package import Archive, PackageResult, sha256_file
from keelson.record import RECORD, ReleaseRecord, read_record, write_record
from keelson.staging import Staging, WriteError, default_repo, describe, dist_dir
from keelson.yamlio import parse

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence
    from pathlib import Path

    from pyhelm3.command import Command

    from keelson.project import Project

_PUSHED = re.compile(r"Pushed:\s*(\S+)")
RECORDS = "releases"  # dist/releases/<env>.json: the last published release of each env
_DIGEST = re.compile(r"Digest:\s*(sha256:[0-9a-f]{64})")


class PublishError(KeelsonError):
    """The packages cannot be published (a conflict in the repository, a registry that refuses)."""


@dataclass(frozen=True)
class PublishPlan:
    repo_dir: Path
    staged: Path  # holds the new files and, when changed, index.yaml
    decisions: tuple[repository.Decision, ...]
    files: tuple[str, ...]  # new files for the repository (archives, .prov), in order
    index_changed: bool

    @property
    def added(self) -> list[repository.Decision]:
        return [decision for decision in self.decisions if decision.action == "add"]

    @property
    def unchanged(self) -> list[repository.Decision]:
        return [decision for decision in self.decisions if decision.action == "unchanged"]


@dataclass(frozen=True)
class OciPush:
    chart: str
    version: str
    reference: str  # host/path/chart:version
    digest: str  # the manifest digest the registry answered
    signed: bool = False  # cosign signed it by that digest (--cosign-key)


def now() -> float:
    """The time stamped on a merged index: ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return float(epoch) if epoch.isdigit() else time.time()


def prepare(
    packaged: PackageResult, repo_dir: Path, index: dict[str, Any], staging: Path, now: float
) -> PublishPlan:
    """Stage what ``packaged`` adds to ``repo_dir``, whose ``index`` the caller read holding
    ``repository.lock``; RepositoryError on a version conflict."""
    merged = repository.merge(index, [archive.entry() for archive in packaged.archives], now)
    staged = staging / "repo"
    staged.mkdir(parents=True)
    files: list[str] = []
    for archive, decision in zip(packaged.archives, merged.decisions, strict=True):
        if decision.action != "add":
            continue
        for name in (archive.file, archive.provenance):
            if name is None:
                continue
            existing = repo_dir / name
            if existing.exists() and sha256_file(existing) != sha256_file(packaged.folder / name):
                raise PublishError(
                    f"{existing}: already there but not in index.yaml, with other content; "
                    "move it away or add it to the index"
                )
            shutil.copy2(packaged.folder / name, staged / name)
            files.append(name)
    if merged.changed:
        (staged / repository.INDEX).write_text(repository.dump_index(merged.index), encoding="utf-8")
    return PublishPlan(repo_dir, staged, merged.decisions, tuple(files), merged.changed)


def moves(plan: PublishPlan) -> list[tuple[Path, Path]]:
    """``(staged, target)`` pairs for Staging.commit: archives before the index that names them."""
    pairs = [(plan.staged / name, plan.repo_dir / name) for name in plan.files]
    if plan.index_changed:
        pairs.append((plan.staged / repository.INDEX, plan.repo_dir / repository.INDEX))
    return pairs


def load_packages(folder: Path, prj: Project | None = None) -> PackageResult:
    """A folder written by ``invoke package`` (archives + release.json), its digests checked.

    With ``prj``, each archive names its chart's ``Chart.yaml`` as its source, so a refusal says
    which file to bump; without, the archive itself.
    """
    rec = read_record(folder / RECORD)
    chart_files = (
        {chart.name: prj.display(chart.path / "Chart.yaml") for chart in all_charts(prj.charts_dir)}
        if prj
        else {}
    )
    archives = []
    for item in rec.charts:
        path = folder / item.archive
        if not path.is_file():
            raise PublishError(f"{path}: missing; run invoke package --env {rec.env} again")
        if sha256_file(path) != item.sha256:
            raise PublishError(f"{path}: sha256 differs from {folder / RECORD}; run invoke package again")
        metadata, created = _chart_yaml(path, item.name)
        source = chart_files.get(item.name, f"{folder.name}/{item.archive}")
        archives.append(
            Archive(
                item.name, item.version, item.archive, item.sha256, created, source, metadata, item.provenance
            )
        )
    return PackageResult(rec.env, folder, tuple(archives), rec, ())


def _chart_yaml(archive: Path, name: str) -> tuple[dict[str, Any], str]:
    """The archive's Chart.yaml and its (pinned) time, as the index entry wants them."""
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.getmember(f"{name}/Chart.yaml")
        handle = tar.extractfile(member)
        data = parse(handle.read().decode() if handle else "", f"{archive.name}:{name}/Chart.yaml")
    if not isinstance(data, dict):
        raise PublishError(f"{archive}: {name}/Chart.yaml is not a mapping")
    return data, repository.rfc3339(member.mtime)


def push_oci(
    prj: Project,
    packaged: PackageResult,
    url: str,
    *,
    plain_http: bool = False,
    binary: str = "helm",
    charts: Sequence[str] = (),
    cosign_key: cosign.SigningKey | None = None,
) -> list[OciPush]:
    """``helm push`` each archive (``charts``: only those) to ``url`` (``oci://host[:port]/path``);
    with ``cosign_key``, cosign signs each right after its push, by the digest the registry answered."""
    if not url.startswith("oci://") or len(url) <= len("oci://"):
        raise PublishError(f'--oci "{url}": must look like oci://registry.example.com/charts')
    if cosign_key:
        prj.tool("cosign")  # a missing cosign stops the release before the first push, not after it
    pushed: list[OciPush] = []
    command = helm.command(prj, binary)
    for archive in packaged.archives:
        if charts and archive.name not in charts:
            continue
        args = ["push", str(packaged.folder / archive.file), url.rstrip("/")]
        if plain_http:
            args.append("--plain-http")
        output = helm.call(f"helm push {archive.file} {url}", _runner(command, args), PublishError)
        text = bytes(output).decode(errors="replace")
        reference = _PUSHED.search(text)
        digest = _DIGEST.search(text)
        repository_path = f"{url.removeprefix('oci://').rstrip('/')}/{archive.name}"
        fallback = f"{repository_path}:{archive.version}"
        answered = digest.group(1) if digest else ""
        if cosign_key:
            try:
                if not answered:
                    raise PublishError(
                        f"helm push {archive.file} {url}: helm named no digest, so cosign cannot sign it"
                    )
                cosign.sign(prj, cosign_key, f"{repository_path}@{answered}", plain_http=plain_http)
            except KeelsonError as exc:
                # The registry holds these now: say which, so whoever reruns knows what is there.
                before = ", ".join(f"{done.chart} {done.version}" for done in pushed) or "none"
                raise PublishError(
                    f"{exc.message}; {archive.name} {archive.version} was pushed unsigned; "
                    f"pushed and signed before it: {before}"
                ) from None
        pushed.append(
            OciPush(
                archive.name,
                archive.version,
                reference.group(1) if reference else fallback,
                answered,
                signed=cosign_key is not None,
            )
        )
    return pushed


def _runner(command: Command, args: list[str]) -> Callable[[], Coroutine[Any, Any, bytes]]:
    return lambda: command.run(args)


@dataclass(frozen=True)
class PublishResult:
    plan: PublishPlan
    oci: tuple[OciPush, ...]
    record: ReleaseRecord
    record_path: Path


def run(
    env: str,
    prj: Project,
    *,
    repo_dir: Path | None = None,
    dist: Path | None = None,
    oci: str | None = None,
    plain_http: bool = False,
    cosign_key: cosign.SigningKey | None = None,
) -> PublishResult:
    """``invoke publish``: what ``invoke package`` left in ``dist/packages/<env>/`` goes into the
    repository (and to ``oci``), and becomes the env's last release (``dist/releases/<env>.json``).
    """
    dist = dist or dist_dir(prj)
    repo = repo_dir or default_repo(prj)
    folder = dist / "packages" / env
    if not (folder / RECORD).is_file():
        raise PublishError(
            f"{prj.display(folder)}: nothing packaged for {env}; run invoke package --env {env}"
        )
    packaged = load_packages(folder, prj)
    try:
        with Staging(dist) as stage, repository.lock(repo):
            try:
                plan = prepare(packaged, repo, repository.load_index(repo), stage.area(repo), now=now())
                pushed = (
                    tuple(push_oci(prj, packaged, oci, plain_http=plain_http, cosign_key=cosign_key))
                    if oci
                    else ()
                )
                record = replace(packaged.record, oci=tuple(push.reference for push in pushed))
                staged_record = stage.path / "record.json"
                write_record(record, staged_record)
                target = dist / RECORDS / f"{env}.json"
                stage.commit([*moves(plan), (staged_record, target)], locks=[repo])
            finally:
                stage.drop_areas()  # before the lock goes: a repository it made is removed if empty
    except OSError as exc:  # a full or read-only disk while staging: nothing was moved yet
        raise WriteError(f"{describe(exc)}; nothing was published") from None
    return PublishResult(plan, pushed, record, target)
