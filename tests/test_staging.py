"""The write stage in isolation: the commit point, recovery by the next run, debris, other filesystems."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from releasing import tree_hash

from keelson import repository, staging
from keelson.staging import Staging, WriteError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    Mount = Callable[..., Path]


def old_state(dist: Path) -> None:
    (dist / "repo").mkdir(parents=True)
    (dist / "repo" / "index.yaml").write_text("old index\n")
    (dist / "repo" / "app-0.1.0.tgz").write_text("old archive\n")
    (dist / "packages" / "prod").mkdir(parents=True)
    (dist / "packages" / "prod" / "release.json").write_text("old record\n")


def stage_new(stage: Staging, repo: Path) -> list[tuple[Path, Path]]:
    """What a release stages: an archive and an index for the repository, a package folder, a record."""
    files = stage.area(repo) / "repo"
    files.mkdir()
    (files / "app-0.2.0.tgz").write_text("new archive\n")
    (files / "index.yaml").write_text("new index\n")
    (stage.path / "pkg").mkdir()
    (stage.path / "pkg" / "release.json").write_text("new record\n")
    (stage.path / "rec.json").write_text("{}\n")
    return [
        (files / "app-0.2.0.tgz", repo / "app-0.2.0.tgz"),
        (files / "index.yaml", repo / "index.yaml"),
        (stage.path / "pkg", stage.dist / "packages" / "prod"),
        (stage.path / "rec.json", stage.dist / "releases" / "prod.json"),
    ]


NEW_STATE = {
    "packages": None,
    "packages/prod": None,
    "packages/prod/release.json": "new record\n",
    "releases": None,
    "releases/prod.json": "{}\n",
    "repo": None,
    "repo/app-0.1.0.tgz": "old archive\n",
    "repo/app-0.2.0.tgz": "new archive\n",
    "repo/index.yaml": "new index\n",
}
OLD_STATE = {
    "packages": None,
    "packages/prod": None,
    "packages/prod/release.json": "old record\n",
    "repo": None,
    "repo/app-0.1.0.tgz": "old archive\n",
    "repo/index.yaml": "old index\n",
}


def listing(dist: Path) -> dict[str, str | None]:
    """Every path under ``dist`` with its text (None for a folder)."""
    return {
        path.relative_to(dist).as_posix(): None if path.is_dir() else path.read_text()
        for path in sorted(dist.rglob("*"))
    }


def test_a_commit_moves_everything_and_leaves_no_staging(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    old_state(dist)
    with Staging(dist) as stage:
        stage.commit(stage_new(stage, dist / "repo"), locks=[dist / "repo"])
    assert listing(dist) == NEW_STATE


def test_a_failure_past_the_commit_point_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "dist"
    old_state(dist)
    real_replace, calls = os.replace, {"n": 0}

    def flaky(src: Any, dst: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(5, "Input/output error", str(dst))
        real_replace(src, dst)

    with Staging(dist) as stage:
        moves = stage_new(stage, dist / "repo")
        monkeypatch.setattr("keelson.staging.os.replace", flaky)
        with pytest.raises(WriteError) as caught:
            stage.commit(moves)
    assert caught.value.committed
    assert caught.value.message.endswith("the next release or publish completes it")
    assert "\n" not in caught.value.message
    monkeypatch.setattr("keelson.staging.os.replace", real_replace)
    with Staging(dist):  # the next run: it finds the journal and completes the moves
        pass
    assert listing(dist) == NEW_STATE


def test_the_next_run_removes_a_dead_runs_staging_but_not_a_live_ones(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    old_state(dist)
    dead = dist / ".staging-dead"
    dead.mkdir()
    (dead / "half.tgz").write_text("half an archive")
    (dead / "journal.json.draft").write_text('{"moves": [')  # died before the commit point
    with Staging(dist) as live:
        with Staging(dist):  # a concurrent run: its own flock makes the live one's folder untouchable
            assert live.path.is_dir()
        assert not dead.exists()
        assert live.path.is_dir()
    assert listing(dist) == OLD_STATE


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from keelson.staging import Staging
    from test_staging import stage_new
    dist, repo = Path(sys.argv[1]), Path(sys.argv[2])
    with Staging(dist) as stage:
        stage.commit(stage_new(stage, repo), locks=[repo])
    """
)


def run_child(dist: Path, repo: Path, crash_at: int) -> int:
    script = CHILD.format(tests=os.path.dirname(__file__))
    env = {**os.environ, staging.CRASH_AT: str(crash_at)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(dist), str(repo)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in {0, 137}, done.stderr.decode()
    return done.returncode


def kill_everywhere(tmp_path: Path, repo_of: Any) -> list[str]:
    """Crash a commit before each of its file operations; after the next run the state is old or new."""
    seen: list[str] = []
    point = 1
    while True:
        dist = tmp_path / f"dist-{point}"
        old_state(dist)
        repo = repo_of(dist, point)
        code = run_child(dist, repo, point)
        with Staging(dist), repository.lock(repo):  # the next run: completes or removes the debris
            pass
        state = listing(dist)
        if repo != dist / "repo":
            state |= {f"repo/{key}": text for key, text in listing(repo).items()}
            state["repo"] = None
        assert state in (OLD_STATE, NEW_STATE), f"kill point {point}: {state}"
        seen.append("new" if state == NEW_STATE else "old")
        if code == 0:
            return seen
        point += 1


def test_a_kill_at_any_file_operation_leaves_the_old_or_the_new_state(tmp_path: Path) -> None:
    seen = kill_everywhere(tmp_path, lambda dist, point: dist / "repo")
    # The two journal writes come before the commit point; every later kill is completed.
    assert seen[:2] == ["old", "old"]
    assert set(seen[2:]) == {"new"}
    assert len(seen) > 8  # every move, the fsyncs' neighbours and the cleanup were crash points


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """Make tmpfs mounts (sized) under tmp_path on demand; all unmounted after the test."""
    mounts: list[Path] = []

    def mount(name: str, size: str = "4m", read_only: bool = False) -> Path:
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=False)
        if done.returncode != 0:
            pytest.skip("mounting a tmpfs needs root; the errno paths are then untested here")
        mounts.append(point)
        return point

    yield mount
    for point in reversed(mounts):
        subprocess.run(["umount", str(point)], check=False)


def test_a_repository_on_another_filesystem_is_staged_there(tmp_path: Path, tmpfs: Mount) -> None:
    other = tmpfs("other")
    dist = tmp_path / "dist"
    old_state(dist)
    repo = other / "repo"
    os.rename(dist / "repo", tmp_path / "old-repo")  # a rename cannot cross devices: copy the old repo
    repo.mkdir()
    for path in (tmp_path / "old-repo").iterdir():
        (repo / path.name).write_text(path.read_text())
    with Staging(dist) as stage:
        area = stage.area(repo)
        assert area.parent == repo  # staged on the repository's own filesystem
        stage.commit(stage_new(stage, repo), locks=[repo])
    assert listing(repo) == {
        key.removeprefix("repo/"): text for key, text in NEW_STATE.items() if "repo/" in key
    }
    assert not list(repo.glob(".staging-*"))


def test_a_kill_with_the_repository_on_another_filesystem(tmp_path: Path, tmpfs: Mount) -> None:
    other = tmpfs("other")

    def repo_of(dist: Path, point: int) -> Path:
        repo = other / f"repo-{point}"
        repo.mkdir()
        for path in (dist / "repo").iterdir():
            (repo / path.name).write_text(path.read_text())
        for path in (dist / "repo").iterdir():
            path.unlink()
        (dist / "repo").rmdir()
        return repo

    seen = kill_everywhere(tmp_path, repo_of)
    assert seen[:2] == ["old", "old"]
    assert set(seen[2:]) == {"new"}


def fill(path: Path) -> int:
    """Write into ``path`` until the filesystem refuses; the errno it refused with."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            try:
                os.write(fd, b"x" * 4096)
            except OSError as exc:
                return exc.errno or 0
    finally:
        os.close(fd)


def test_a_full_disk_at_the_commit_ends_in_one_short_line_and_changes_nothing(
    tmp_path: Path, tmpfs: Mount
) -> None:
    tiny = tmpfs("tiny", size="64k")
    dist = tiny / "dist"
    old_state(dist)
    before = tree_hash(dist)
    with Staging(dist) as stage:
        moves = stage_new(stage, dist / "repo")
        # The staged files fit; then the disk fills up before the journal is written.
        assert fill(stage.path / "filler") == errno.ENOSPC
        with pytest.raises(WriteError) as caught:
            stage.commit(moves)
    draft = stage.path / "journal.json.draft"
    assert caught.value.message == f"{draft}: no space left on device (ENOSPC); nothing was written"
    assert tree_hash(dist) == before


def test_a_read_only_dist_ends_in_one_short_line(tmp_path: Path, tmpfs: Mount) -> None:
    frozen = tmpfs("frozen", read_only=True)
    with pytest.raises(WriteError) as caught, Staging(frozen / "dist"):
        pass
    assert caught.value.message == f"{frozen / 'dist'}: read-only file system (EROFS)"
    assert list(frozen.iterdir()) == []
