"""Writes into ``dist/`` and the chart repository that a crash cannot leave half done.

    with Staging(dist) as stage:
        build(stage.path / "packages")                  # anything may fail here: nothing else changed
        files = stage.area(repo)                        # staging on the repository's own filesystem
        stage.commit([(stage.path / "packages", dist / "packages" / "prod"), ...], locks=[repo])

Everything new is written into staging folders first: ``dist/.staging-XXXX``, and for a target on
another filesystem ``.staging-XXXX`` inside that target folder, so each later move is a rename
within one filesystem (never EXDEV). ``commit`` writes the list of moves into ``journal.json`` of
the staging folder; renaming that file into place is the commit point. Before it nothing outside
the staging folders has changed; after it the moves are replayed until done. Each move is
idempotent (a staged path that is gone was moved already), so after a ``kill -9`` anywhere the next
run either deletes the debris (no journal: the old state) or finishes the moves (the new state).

Every live run holds an ``flock`` on its staging folders. ``recover`` (run by ``Staging`` on entry
and by ``repository.lock`` once it holds a repository) only touches staging folders whose flock it
can take, so a live concurrent run is left alone; a journal is finished while holding the locks
of the folders it writes into (the repository), so a concurrent release never reads a half-moved
index.

``KEELSON_CRASH_AT=N`` is the test seam: the process ends like ``kill -9`` (``os._exit(137)``)
before the Nth file operation of a commit, so a test can crash a real release at every point.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from keelson.errors import KeelsonError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import TracebackType

    from keelson.project import Project

PREFIX = ".staging-"
JOURNAL = "journal.json"
OWNER = "owner"  # in a staging folder on another filesystem: the path of the folder with the journal
CRASH_AT = "KEELSON_CRASH_AT"
_SHORT = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
_operations = 0


class WriteError(KeelsonError):
    """A write into dist/ or the repository failed at the filesystem level."""

    def __init__(self, message: str, *, committed: bool = False) -> None:
        super().__init__(message)
        self.committed = committed  # past the commit point: the next run completes the write


def dist_dir(prj: Project) -> Path:
    """Where releases are written: ``dist/`` of the project (git-ignored)."""
    return prj.root / "dist"


def default_repo(prj: Project) -> Path:
    """The default chart repository: a directory any static web server can serve."""
    return dist_dir(prj) / "repo"


def crash_point() -> None:
    """Count one file operation; end the process like ``kill -9`` at the ``KEELSON_CRASH_AT``-th."""
    global _operations  # noqa: PLW0603 (one counter per process is the point of the seam)
    wanted = os.environ.get(CRASH_AT, "")
    if not wanted.isdigit():
        return
    _operations += 1
    if _operations == int(wanted):
        os._exit(137)


def describe(exc: OSError, path: Path | None = None) -> str:
    """One short line for a filesystem error: the path and what went wrong, never a whole listing.

    ``path``: the file being written, for errors (a failed write) that carry no file name.
    """
    what = _SHORT.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()
    name = errno.errorcode.get(exc.errno or 0, "")
    filename = exc.filename or path
    where = f"{filename}: " if filename else ""
    return f"{where}{what}" + (f" ({name})" if name else "")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_hold(folder: Path) -> int | None:
    """An exclusive flock on ``folder`` if nobody holds one (its owner is dead), else None."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def _holding(folders: Sequence[Path]) -> Iterator[None]:
    """Blocking flocks on ``folders`` (the locks a journal names), in a fixed order."""
    fds: list[int] = []
    try:
        for folder in sorted(set(folders)):
            with contextlib.suppress(FileNotFoundError):
                fds.append(os.open(folder, os.O_RDONLY | os.O_DIRECTORY))
                fcntl.flock(fds[-1], fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def _move(staged: Path, target: Path, aside: Path) -> None:
    """Replay one move; a staged path already gone was moved by an earlier try."""
    if not os.path.lexists(staged):
        return
    if not target.parent.is_dir():
        crash_point()
        target.parent.mkdir(parents=True, exist_ok=True)
    if staged.is_dir() and os.path.lexists(target) and not os.path.lexists(aside):
        crash_point()
        target.rename(aside)  # a folder cannot be renamed over a full one: the old one goes aside
    crash_point()
    os.replace(staged, target)


def _finish(owner: Path, held: Sequence[Path]) -> None:
    """Complete the journal in ``owner`` (its run is dead), then remove its staging folders."""
    journal = owner / JOURNAL
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    held_ids = {os.path.realpath(folder) for folder in held}
    locks = [Path(lock) for lock in plan["locks"] if os.path.realpath(lock) not in held_ids]
    with _holding(locks):
        fd = _try_hold(owner)
        if fd is None:  # someone else finishes it
            return
        try:
            if not journal.exists():
                return
            for number, move in enumerate(plan["moves"]):
                _move(Path(move["staged"]), Path(move["target"]), owner / f"replaced-{number}")
            for target in {Path(move["target"]).parent for move in plan["moves"]}:
                _fsync_dir(target)
            crash_point()
            journal.unlink()  # done: from here on the folders are plain debris
            for area in plan["areas"]:
                crash_point()
                shutil.rmtree(area, ignore_errors=True)
            crash_point()
            shutil.rmtree(owner, ignore_errors=True)
        finally:
            os.close(fd)


def recover(folder: Path, held: Sequence[Path] = ()) -> None:
    """Finish or delete what dead runs left in ``folder`` (``dist/`` or a repository).

    ``held``: folders whose lock the caller already holds (a second flock would wait on itself).
    """
    if not folder.is_dir():
        return
    for entry in sorted(folder.glob(f"{PREFIX}*")):
        owner = entry
        with contextlib.suppress(OSError):
            owner = Path((entry / OWNER).read_text(encoding="utf-8"))
        if (owner / JOURNAL).is_file():
            _finish(owner, held)
        fd = _try_hold(entry)
        if fd is not None:  # its run is dead and left nothing to finish
            try:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                os.close(fd)


class Staging:
    def __init__(self, dist: Path) -> None:
        self.dist = dist
        self.path = Path()
        self._created_dist = False
        self._areas: list[Path] = []
        self._fds: list[int] = []
        self._pending = False  # committed but not finished: the next run completes it

    def __enter__(self) -> Staging:
        self._created_dist = not self.dist.exists()
        try:
            recover(self.dist)
            self.dist.mkdir(parents=True, exist_ok=True)
            self.path = self._make(self.dist)
        except OSError as exc:
            self._cleanup()
            raise WriteError(describe(exc)) from None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._cleanup()

    def _make(self, folder: Path) -> Path:
        path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=folder))
        fd = _try_hold(path)
        if fd is None:
            raise WriteError(f"{path}: cannot lock a staging folder it just made")
        self._fds.append(fd)
        return path

    def _cleanup(self) -> None:
        if not self._pending:
            for folder in (*self._areas, self.path):
                if folder != Path():
                    shutil.rmtree(folder, ignore_errors=True)
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        if self._created_dist:
            with contextlib.suppress(OSError):  # something was committed (or another run is staging): keep it
                self.dist.rmdir()

    def drop_areas(self) -> None:
        """Remove the staging folders made beside other targets (not once committed: the next run
        needs them), so the caller can let go of a repository it made while it still holds its lock.
        """
        if self._pending:
            return
        for area in self._areas:
            shutil.rmtree(area, ignore_errors=True)
        self._areas.clear()

    def area(self, target_dir: Path) -> Path:
        """A staging folder on ``target_dir``'s filesystem, so moving from it into there is a rename."""
        anchor = target_dir
        while not anchor.exists():
            anchor = anchor.parent
        if os.stat(anchor).st_dev == os.stat(self.path).st_dev:
            return self.path
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            area = self._make(target_dir)
            self._areas.append(area)
            (area / OWNER).write_text(str(self.path), encoding="utf-8")
        except OSError as exc:
            raise WriteError(describe(exc)) from None
        return area

    def commit(self, moves: Sequence[tuple[Path, Path]], locks: Sequence[Path] = ()) -> None:
        """Move each ``(staged, target)`` into place, in order: all of them, or (before the commit
        point) none. ``locks``: folders whose flock the caller holds, which a recovering run takes.
        """
        plan = {
            "moves": [{"staged": str(staged), "target": str(target)} for staged, target in moves],
            "areas": [str(area) for area in self._areas],
            "locks": [str(lock) for lock in locks],
        }
        draft = self.path / f"{JOURNAL}.draft"
        try:
            crash_point()
            with draft.open("w", encoding="utf-8") as handle:
                json.dump(plan, handle)
                handle.flush()
                os.fsync(handle.fileno())
            crash_point()
            draft.rename(self.path / JOURNAL)  # the commit point
            _fsync_dir(self.path)
        except OSError as exc:
            raise WriteError(f"{describe(exc, draft)}; nothing was written") from None
        self._pending = True
        try:
            for number, (staged, target) in enumerate(moves):
                _move(staged, target, self.path / f"replaced-{number}")
            for target in {target.parent for _, target in moves}:
                _fsync_dir(target)
            crash_point()
            (self.path / JOURNAL).unlink()
        except OSError as exc:
            raise WriteError(
                f"{describe(exc)}; the write was committed and the next release or publish completes it",
                committed=True,
            ) from None
        self._pending = False
        for area in self._areas:
            crash_point()
            shutil.rmtree(area, ignore_errors=True)
        crash_point()
        shutil.rmtree(self.path, ignore_errors=True)
