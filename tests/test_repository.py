"""The chart repository index (merge, never rebuild), its lock, archives and staging, in isolation."""

from __future__ import annotations

import gzip
import os
import tarfile
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from keelson import archive, repository
from keelson.staging import Staging

if TYPE_CHECKING:
    from pathlib import Path


def entry(name: str, version: str, digest: str = "a" * 64) -> repository.Entry:
    metadata: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version, "type": "application"}
    return repository.Entry(
        name,
        version,
        digest,
        f"{name}-{version}.tgz",
        "2026-01-01T00:00:00Z",
        f"charts/{name}/Chart.yaml",
        metadata,
    )


def test_versions_sort_by_semver_precedence() -> None:
    ordered = ["0.1.0-alpha", "0.1.0-alpha.1", "0.1.0-beta", "0.1.0", "0.1.1", "0.2.0", "0.10.0", "1.0.0"]
    assert sorted(reversed(ordered), key=repository.version_key) == ordered
    with pytest.raises(repository.RepositoryError, match="not a semantic version"):
        repository.version_key("one")


def test_merge_adds_and_never_drops() -> None:
    index = repository.merge(repository.empty_index(), [entry("app", "0.1.0")], now=0).index
    merged = repository.merge(index, [entry("app", "0.2.0", "b" * 64), entry("loki", "0.1.0")], now=1)
    assert merged.changed
    assert [e["version"] for e in merged.index["entries"]["app"]] == ["0.2.0", "0.1.0"]
    assert merged.index["entries"]["loki"][0]["urls"] == ["loki-0.1.0.tgz"]
    assert merged.index["entries"]["app"][0]["digest"] == "b" * 64
    assert [d.action for d in merged.decisions] == ["add", "add"]


def test_same_version_same_digest_is_a_no_op() -> None:
    index = repository.merge(repository.empty_index(), [entry("app", "0.1.0")], now=0).index
    again = repository.merge(index, [entry("app", "0.1.0")], now=99)
    assert not again.changed
    assert again.index is index
    assert [d.action for d in again.decisions] == ["unchanged"]


def test_same_version_other_digest_is_refused_naming_chart_and_version() -> None:
    index = repository.merge(repository.empty_index(), [entry("app", "0.1.0")], now=0).index
    with pytest.raises(repository.RepositoryError) as caught:
        repository.merge(index, [entry("loki", "0.1.0"), entry("app", "0.1.0", "c" * 64)], now=1)
    message = caught.value.message
    assert message.startswith("chart app (charts/app/Chart.yaml): version 0.1.0 is already published")
    assert "bump version in charts/app/Chart.yaml" in message


def test_a_version_below_the_newest_is_refused() -> None:
    index = repository.merge(repository.empty_index(), [entry("app", "0.2.0")], now=0).index
    with pytest.raises(
        repository.RepositoryError, match=r"chart app .*0\.1\.5 is below the published 0\.2\.0"
    ):
        repository.merge(index, [entry("app", "0.1.5", "d" * 64)], now=1)


def test_index_round_trip(tmp_path: Path) -> None:
    merged = repository.merge(repository.empty_index(), [entry("app", "0.1.0")], now=0)
    (tmp_path / "index.yaml").write_text(repository.dump_index(merged.index))
    loaded = repository.load_index(tmp_path)
    assert repository.find(loaded, "app", "0.1.0") is not None
    assert loaded["generated"] == "1970-01-01T00:00:00.000000Z"
    (tmp_path / "index.yaml").write_text("entries: [1]\n")
    with pytest.raises(repository.RepositoryError, match="entries"):
        repository.load_index(tmp_path)


def test_lock_serializes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    order: list[str] = []

    def hold(name: str, seconds: float) -> None:
        with repository.lock(repo):
            order.append(f"{name} in")
            (repo / f"{name}.tgz").write_text(name)
            time.sleep(seconds)
            order.append(f"{name} out")

    first = threading.Thread(target=hold, args=("first", 0.3))
    first.start()
    time.sleep(0.1)
    second = threading.Thread(target=hold, args=("second", 0))
    second.start()
    first.join()
    second.join()
    assert order == ["first in", "first out", "second in", "second out"]
    assert sorted(p.name for p in repo.iterdir()) == ["first.tgz", "second.tgz"]


def test_lock_removes_a_repository_it_made_when_nothing_was_written(tmp_path: Path) -> None:
    with repository.lock(tmp_path / "repo"):
        pass
    assert not (tmp_path / "repo").exists()


def test_helmignore_follows_helm_rules() -> None:
    rules = archive.ignore_rules("# comment\n*.swp\nci/\n/README.md\ntemplates/*.bak\n")
    assert archive.ignored(rules, "ci", is_dir=True)
    assert not archive.ignored(rules, "ci", is_dir=False)
    assert archive.ignored(rules, "deep/a.swp", is_dir=False)
    assert archive.ignored(rules, "README.md", is_dir=False)
    assert not archive.ignored(rules, "docs/README.md", is_dir=False)
    assert archive.ignored(rules, "templates/x.bak", is_dir=False)
    assert not archive.ignored(rules, "templates/sub/x.bak", is_dir=False)
    assert archive.ignored(rules, "templates/.hidden", is_dir=False)  # Helm's default rule
    assert not archive.ignored(rules, "values.yaml", is_dir=False)
    with pytest.raises(archive.ArchiveError, match="double-star"):
        archive.ignore_rules("**/x\n")


def test_archives_are_reproducible_whatever_the_file_times(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "ci").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("a: 1\n")
    (chart / "templates" / "b.yaml").write_text("kind: B\n")
    (chart / "templates" / "a.yaml").write_text("kind: A\n")
    (chart / "ci" / "x-values.yaml").write_text("a: 2\n")
    (chart / ".helmignore").write_text("ci/\n")
    archive.write(chart, "demo", tmp_path / "one.tgz", 1_700_000_000, {"values.yaml": b"a: 3\n"})
    for path in chart.rglob("*"):
        os.utime(path, (1, 1))
    archive.write(chart, "demo", tmp_path / "two.tgz", 1_700_000_000, {"values.yaml": b"a: 3\n"})
    assert (tmp_path / "one.tgz").read_bytes() == (tmp_path / "two.tgz").read_bytes()
    raw = (tmp_path / "one.tgz").read_bytes()
    assert raw[3] & 0x08 == 0, "no file name in the gzip header"
    assert raw[4:8] == b"\0\0\0\0", "gzip header time is 0"
    with tarfile.open(tmp_path / "one.tgz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            "demo/.helmignore",
            "demo/Chart.yaml",
            "demo/templates/a.yaml",
            "demo/templates/b.yaml",
            "demo/values.yaml",
        ]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
            (1_700_000_000, 0, 0, "", "", 0o644)
        }
        values = tar.extractfile("demo/values.yaml")
        assert values is not None
        assert values.read() == b"a: 3\n"
    assert gzip.decompress(raw)  # a plain gzip stream


def test_staging_removes_a_dist_it_made(tmp_path: Path) -> None:
    def fail_half_way() -> None:
        with Staging(tmp_path / "dist") as stage:
            (stage.path / "x").write_text("x")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_half_way()
    assert not (tmp_path / "dist").exists()
