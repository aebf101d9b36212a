"""The chart repository's index: read it, check versions against it, merge into it, and lock it.

A directory repository is archives plus ``index.yaml``, servable by any static web server. The
index is merged, never rebuilt: every earlier entry stays; a chart version already published with
the same digest is a no-op (the index is not rewritten, so ``generated`` does not move); the same
version with another digest is refused, as is a version below the newest published one.
Concurrent releases into one repository are serialized by ``lock``: an ``fcntl.flock`` on the
repository directory itself, so no lock file is left behind. Whoever takes the lock first
finishes or removes what a dead run left in the repository (``staging.recover``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import yaml

from keelson import staging
from keelson.errors import KeelsonError, ValuesError
from keelson.yamlio import load_mapping

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

INDEX = "index.yaml"
_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


class RepositoryError(KeelsonError):
    """The index cannot be read, or a chart version cannot go into it."""


VersionKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


def version_key(version: str) -> VersionKey:
    """SemVer 2 precedence: a pre-release sorts before its release; build metadata is ignored."""
    match = _SEMVER.match(version)
    if not match:
        raise RepositoryError(f'version "{version}" is not a semantic version (allowed: MAJOR.MINOR.PATCH)')
    pre = match.group("pre")
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in (pre.split(".") if pre else ())
    )
    return (int(match["major"]), int(match["minor"]), int(match["patch"]), 0 if pre else 1, parts)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Entry:
    """One packaged chart version, as it goes into the index."""

    name: str
    version: str
    digest: str  # sha256 of the archive, hex (Helm's index format)
    file: str  # the archive's name, also its URL relative to the index
    created: str  # RFC 3339
    source: str  # where it came from, for messages: charts/app/Chart.yaml
    metadata: dict[str, Any]  # the packaged Chart.yaml

    def index_entry(self) -> dict[str, Any]:
        return {**self.metadata, "created": self.created, "digest": self.digest, "urls": [self.file]}


@dataclass(frozen=True)
class Decision:
    name: str
    version: str
    action: Literal["add", "unchanged"]
    file: str


@dataclass(frozen=True)
class Merge:
    decisions: tuple[Decision, ...]
    index: dict[str, Any]  # the merged index (the old one when nothing is added)
    changed: bool  # False: the index file stays byte for byte as it is

    @property
    def added(self) -> list[Decision]:
        return [decision for decision in self.decisions if decision.action == "add"]


INDEX_MAX_BYTES = 64 << 20


def empty_index() -> dict[str, Any]:
    return {"apiVersion": "v1", "entries": {}}


def load_index(repo_dir: Path) -> dict[str, Any]:
    """``repo_dir/index.yaml``, or an empty index when the repository is new."""
    path = repo_dir / INDEX
    if not path.exists():
        return empty_index()
    try:
        # An index grows with every version ever published: allow more than a values file.
        index = load_mapping(path, str(path), max_bytes=INDEX_MAX_BYTES)
    except ValuesError as exc:
        raise RepositoryError(exc.message) from exc
    entries = index.get("entries")
    if entries is None:
        index["entries"] = {}
    elif not isinstance(entries, dict) or not all(isinstance(v, list) for v in entries.values()):
        raise RepositoryError(f"{path}: entries: must map each chart name to a list of versions")
    return index


def versions(index: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The published entries of chart ``name``, newest first."""
    found = [entry for entry in index.get("entries", {}).get(name) or [] if isinstance(entry, dict)]
    return sorted(found, key=lambda entry: _key_or_low(str(entry.get("version", ""))), reverse=True)


def _key_or_low(version: str) -> VersionKey:
    try:
        return version_key(version)
    except RepositoryError:
        return (-1, 0, 0, 0, ())


def find(index: dict[str, Any], name: str, version: str) -> dict[str, Any] | None:
    for entry in versions(index, name):
        if str(entry.get("version")) == version:
            return entry
    return None


def decide(index: dict[str, Any], entry: Entry) -> Decision:
    """ct-style version check: a changed chart needs a version above every published one."""
    key = version_key(entry.version)
    published = find(index, entry.name, entry.version)
    if published is not None:
        if str(published.get("digest")) == entry.digest:
            return Decision(entry.name, entry.version, "unchanged", entry.file)
        raise RepositoryError(
            f"chart {entry.name} ({entry.source}): version {entry.version} is already published with "
            f"different content (digest {str(published.get('digest'))[:12]}, now {entry.digest[:12]}); "
            f"bump version in {entry.source}"
        )
    newest = versions(index, entry.name)
    if newest and key < _key_or_low(str(newest[0].get("version"))):
        raise RepositoryError(
            f"chart {entry.name} ({entry.source}): version {entry.version} is below the published "
            f"{newest[0].get('version')}; set a higher version in {entry.source}"
        )
    return Decision(entry.name, entry.version, "add", entry.file)


def merge(index: dict[str, Any], entries: Sequence[Entry], now: float) -> Merge:
    """The index with ``entries`` added; refuses (RepositoryError) before changing anything."""
    decisions = tuple(decide(index, entry) for entry in entries)
    added = [entry for entry, decision in zip(entries, decisions, strict=True) if decision.action == "add"]
    if not added:
        return Merge(decisions, index, changed=False)
    merged = {**index, "entries": {name: list(items) for name, items in index.get("entries", {}).items()}}
    for entry in added:
        merged["entries"].setdefault(entry.name, []).append(entry.index_entry())
    for name in merged["entries"]:
        merged["entries"][name] = versions(merged, name)
    merged["apiVersion"] = merged.get("apiVersion") or "v1"
    merged["generated"] = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Merge(decisions, merged, changed=True)


def dump_index(index: dict[str, Any]) -> str:
    return yaml.safe_dump(index, sort_keys=True, default_flow_style=False, width=1000)


@contextmanager
def lock(repo_dir: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``repo_dir`` (made if missing, and removed again on the way out
    if it is still empty). A waiter that finds the directory replaced meanwhile locks the new one.
    """
    created = not repo_dir.exists()
    while True:
        try:
            repo_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RepositoryError(staging.describe(exc)) from None
        fd = os.open(repo_dir, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(repo_dir)):
                break
        os.close(fd)
    try:
        try:
            staging.recover(repo_dir, held=[repo_dir])
        except OSError as exc:
            raise RepositoryError(staging.describe(exc)) from None
        yield
    finally:
        if created:  # a dry run or a failure leaves no empty repository behind
            with contextlib.suppress(OSError):  # not empty: published content is there
                repo_dir.rmdir()
        os.close(fd)
