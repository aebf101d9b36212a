"""A kill at every file operation of the write stage leaves dist/ old or new, as the next command sees it.

The write stage ends the process like ``kill -9`` (``os._exit(137)``) before its Nth file operation
when ``KEELSON_CRASH_AT=N`` (keelson/staging.py). Each test crashes a real ``invoke publish`` (or
a release) at N = 1, 2, ... until a run gets through, and after each crash runs the real next
command, ``invoke diff --against last``, which reads what the last write left. dist/ must then be
byte for byte the state before the write or the state an uninterrupted write makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from releasing import git_project, tree_hash
from support import REPO, one_error_line
from test_release import bump

from keelson import staging
from keelson.project import Project

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

EPOCH = "1767225600"  # SOURCE_DATE_EPOCH: the index's generated stamp is the same in every run
ROUNDS = 3  # the whole sweep of kill points, three times in a row


def run(prj_root: Path, args: Sequence[str], crash_at: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != staging.CRASH_AT}
    env |= {"KEELSON_ROOT": str(prj_root), "SOURCE_DATE_EPOCH": EPOCH}
    if crash_at is not None:
        env[staging.CRASH_AT] = str(crash_at)
    return subprocess.run(
        list(args), cwd=prj_root, env=env, capture_output=True, text=True, timeout=600, check=False
    )


INVOKE = str(REPO / ".venv" / "bin" / "invoke")
# The release with lint, kubeconform and promtool skipped (tests/test_lint.py, test_kubeschema.py
# and test_rules.py cover them): a minute of lint per kill point would make the sweep take an hour.
# The values, schema, render, gates, diff, package (with its re-render of the archive),
# publish and the write stage are real.
RELEASE = textwrap.dedent(
    """
    import sys
    from unittest import mock
    from keelson import check, release
    from keelson.project import project
    real_check = check.check
    def check_to_gates(env, overlays=(), prj=None, **options):
        until = "schema" if options.get("until") == "schema" else "gates"
        return real_check(env, overlays, prj, until=until)
    with (
        mock.patch("keelson.release.linting.run", return_value=[]),
        mock.patch("keelson.release.checking.check", check_to_gates),
        mock.patch("keelson.check.kubeschema.validate", return_value=[]),
    ):
        report = release.run("dev", prj=project())  # KEELSON_ROOT: the copy under test
    sys.exit(0 if report.ok else print(report.summary(), report.findings, file=sys.stderr) or 1)
    """
)


def sweep(template: Path, work: Path, command: Sequence[str]) -> list[str]:
    """Crash ``command`` at every kill point; returns old/new per point (the last run is not killed)."""
    old = tree_hash(template / "dist")
    reference = work / "reference"
    shutil.copytree(template, reference, symlinks=True)
    done = run(reference, command)
    assert done.returncode == 0, done.stdout + done.stderr
    new = tree_hash(reference / "dist")
    assert new != old
    shutil.rmtree(reference)
    seen: list[str] = []
    point = 1
    while True:
        root = work / f"point-{point}"
        shutil.copytree(template, root, symlinks=True)
        crashed = run(root, command, crash_at=point)
        assert crashed.returncode in {0, 137}, crashed.stdout + crashed.stderr
        after = run(root, [INVOKE, "diff", "--env", "dev", "--against", "last"])
        assert after.returncode == 0, after.stdout + after.stderr
        state = tree_hash(root / "dist")
        assert state in {old, new}, f"kill point {point}: dist/ is neither the old nor the new state"
        assert not list((root / "dist").rglob(".staging-*")), f"kill point {point}: debris left"
        seen.append("new" if state == new else "old")
        shutil.rmtree(root)
        if crashed.returncode == 0:
            return seen
        point += 1


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev packaged and published once, then a bumped chart packaged: ready for ``invoke publish``."""
    root = tmp_path_factory.mktemp("crash") / "project"
    git_project(root)
    for args in (["package", "--env", "dev"], ["publish", "--env", "dev"]):
        done = run(root, [INVOKE, *args])
        assert done.returncode == 0, done.stdout + done.stderr
    bump(Project(root))
    done = run(root, [INVOKE, "package", "--env", "dev"])
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.mark.parametrize("round_", range(1, ROUNDS + 1))
def test_publish_killed_at_every_file_operation(packaged: Path, tmp_path: Path, round_: int) -> None:
    seen = sweep(packaged, tmp_path, [INVOKE, "publish", "--env", "dev"])
    # Before the journal is renamed into place (2 operations) the old state; every later kill is
    # completed by the next command.
    assert seen[:2] == ["old", "old"], seen
    assert set(seen[2:]) == {"new"}, seen
    print(f"round {round_}: {len(seen)} runs, kill points {len(seen) - 1}: {' '.join(seen)}")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev released once (lint skipped), then a bumped chart committed: ready for the next release."""
    root = tmp_path_factory.mktemp("crash-release") / "project"
    git_project(root)
    done = run(root, [sys.executable, "-c", RELEASE])
    assert done.returncode == 0, done.stdout + done.stderr
    bump(Project(root))
    return root


@pytest.mark.parametrize("round_", range(1, ROUNDS + 1))
def test_release_killed_at_every_file_operation(released: Path, tmp_path: Path, round_: int) -> None:
    seen = sweep(released, tmp_path, [sys.executable, "-c", RELEASE])
    # The staged record and the journal come before the commit point.
    assert seen[:3] == ["old", "old", "old"], seen
    assert set(seen[3:]) == {"new"}, seen
    print(f"round {round_}: {len(seen)} runs, kill points {len(seen) - 1}: {' '.join(seen)}")


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """tmpfs mounts under tmp_path on demand (root only), unmounted after the test."""
    made: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=False)
        if done.returncode != 0:
            pytest.skip("mounting a tmpfs needs root")
        made.append(point)
        return point

    yield mount
    for point in reversed(made):
        subprocess.run(["umount", str(point)], check=False)


def _publish_into(
    packaged: Path, tmp_path: Path, repo: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    root = tmp_path / "project"
    shutil.copytree(packaged, root, symlinks=True)
    return run(root, [INVOKE, "publish", "--env", "dev", "--repo", str(repo)]), root


def test_publish_to_a_repository_on_another_filesystem(
    packaged: Path, tmp_path: Path, mounts: Callable[..., Path]
) -> None:
    repo = mounts("other", "size=16m") / "repo"
    done, root = _publish_into(packaged, tmp_path, repo)
    assert done.returncode == 0, done.stdout + done.stderr  # no EXDEV: staged on the repo's own device
    assert (repo / "index.yaml").is_file()
    assert sorted(p.name for p in repo.iterdir() if p.name.startswith(".")) == []
    assert (root / "dist" / "releases" / "dev.json").is_file()


@pytest.mark.parametrize(
    ("options", "says"),
    [
        pytest.param("size=64k", "no space left on device (ENOSPC)", id="ENOSPC"),
        pytest.param("size=1m,ro", "read-only file system (EROFS)", id="EROFS"),
    ],
)
def test_publish_to_a_full_or_read_only_repository_is_one_short_line(
    packaged: Path, tmp_path: Path, mounts: Callable[..., Path], options: str, says: str
) -> None:
    volume = mounts("volume", options)
    repo = volume / "repo"
    before = tree_hash(packaged / "dist")
    done, root = _publish_into(packaged, tmp_path, repo)
    line = one_error_line(done, says)
    assert len(line) < 200, line
    assert tree_hash(root / "dist") == before  # dist/ untouched
    assert [p.name for p in volume.iterdir()] == []  # nothing left in the repository's volume
