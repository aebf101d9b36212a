"""Git facts a release needs: the commit, whether the tree is clean, commit times, and worktrees.

Every call runs ``git -C <project root>``; a project that is not inside a git work tree raises
GitError with one line saying so.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keelson.errors import KeelsonError, ToolError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


class GitError(KeelsonError):
    """git refused: not a work tree, an unknown ref, a worktree that cannot be made."""


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int  # committer time, unix seconds
    dirty: tuple[str, ...]  # `git status --porcelain` lines; empty when the tree is clean

    @property
    def clean(self) -> bool:
        return not self.dirty


def run(root: Path, args: Sequence[str], what: str = "") -> str:
    """``git -C root ARGS``; stdout, or GitError naming what was asked."""
    git = shutil.which("git")
    if git is None:
        raise ToolError("git not found on PATH; install git (Debian: apt-get install git)")
    done = subprocess.run(
        [git, "-C", str(root), *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        message = " ".join(done.stderr.split()).removeprefix("fatal: ") or f"exit status {done.returncode}"
        raise GitError(f"git {what or ' '.join(args)}: {message}")
    return done.stdout


def toplevel(root: Path) -> Path:
    try:
        return Path(run(root, ["rev-parse", "--show-toplevel"], "rev-parse").strip())
    except GitError as exc:
        raise GitError(
            f"{root} is not inside a git work tree (a release records the commit it came from)"
        ) from exc


def head(root: Path) -> Commit:
    """HEAD's SHA and time, and the tree's uncommitted changes (untracked files count; ignored ones not)."""
    toplevel(root)
    sha, time = run(root, ["log", "-1", "--format=%H %ct", "HEAD"], "log HEAD").split()
    status = run(root, ["status", "--porcelain", "--untracked-files=all"], "status")
    return Commit(sha, int(time), tuple(line for line in status.splitlines() if line.strip()))


def last_change(root: Path, paths: Sequence[Path]) -> int:
    """The committer time of the last commit that touched any of ``paths`` (HEAD's time if none did)."""
    relative = [str(path.resolve().relative_to(root.resolve())) for path in paths]
    out = run(root, ["log", "-1", "--format=%ct", "HEAD", "--", *relative], "log").strip()
    return int(out) if out else head(root).time


def resolve(root: Path, ref: str) -> str | None:
    """The commit SHA ``ref`` names, or None when it names none."""
    try:
        return (
            run(root, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], "rev-parse").strip() or None
        )
    except GitError:
        return None


@contextmanager
def worktree(root: Path, ref: str) -> Iterator[Path]:
    """A detached worktree of ``ref`` in a temporary folder; yields where ``root`` sits inside it.

    The worktree is removed (and pruned from the repository's list) afterwards, whatever happens.
    """
    sha = resolve(root, ref)
    if sha is None:
        raise GitError(f'"{ref}" is not a commit of {toplevel(root)}')
    prefix = run(root, ["rev-parse", "--show-prefix"], "rev-parse").strip()
    parent = Path(tempfile.mkdtemp(prefix="keelson-worktree-"))
    tree = parent / "tree"
    try:
        run(root, ["worktree", "add", "--detach", "--quiet", str(tree), sha], f"worktree add {ref}")
        yield tree / prefix
    finally:
        if tree.exists():
            try:
                run(root, ["worktree", "remove", "--force", str(tree)], "worktree remove")
            except GitError:
                shutil.rmtree(tree, ignore_errors=True)
        run(root, ["worktree", "prune"], "worktree prune")
        shutil.rmtree(parent, ignore_errors=True)
