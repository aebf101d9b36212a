"""Stage outputs in ``dist/.staging-XXXX`` and move them into place only when everything passed.

    with Staging(dist) as stage:
        build(stage.path / "packages")                  # anything may fail here: dist/ is untouched
        stage.commit([(stage.path / "packages", dist / "packages" / "prod")])

``commit`` moves each staged path over its target with a rename (atomic for a file; for a folder
the old one is renamed aside first). A failure part-way puts back everything moved so far. On any
exit the staging folder is removed, and ``dist/`` too when this run created it and it is empty,
so a failed run leaves ``dist/`` exactly as it found it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from keelson.project import Project


def dist_dir(prj: Project) -> Path:
    """Where releases are written: ``dist/`` of the project (git-ignored)."""
    return prj.root / "dist"


def default_repo(prj: Project) -> Path:
    """The default chart repository: a directory any static web server can serve."""
    return dist_dir(prj) / "repo"


class Staging:
    def __init__(self, dist: Path) -> None:
        self.dist = dist
        self._created_dist = False
        self.path = Path()

    def __enter__(self) -> Staging:
        self._created_dist = not self.dist.exists()
        self.dist.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.dist))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._created_dist:
            with contextlib.suppress(OSError):  # something was committed (or another run is staging): keep it
                self.dist.rmdir()

    def commit(self, moves: Sequence[tuple[Path, Path]]) -> None:
        """Move each ``(staged, target)`` into place, in order; all of them or none."""
        backups = self.path / ".replaced"
        backups.mkdir()
        undo: list[tuple[Path, Path | None, bool]] = []  # target, its old content, moved in yet
        made: list[Path] = []  # folders made for a target, removed again on failure
        try:
            for number, (staged, target) in enumerate(moves):
                missing = [path for path in (target.parent, *target.parent.parents) if not path.exists()]
                target.parent.mkdir(parents=True, exist_ok=True)
                made += missing
                backup: Path | None = None
                if target.is_dir() and not target.is_symlink():
                    backup = backups / str(number)
                    target.rename(backup)
                elif target.exists():
                    backup = backups / str(number)
                    os.link(target, backup)  # keep the old file; replace() below swaps atomically
                undo.append((target, backup, False))
                os.replace(staged, target)
                undo[-1] = (target, backup, True)
        except BaseException:
            self._undo(undo, made)
            raise

    @staticmethod
    def _undo(undo: list[tuple[Path, Path | None, bool]], made: list[Path]) -> None:
        for target, backup, moved in reversed(undo):
            if moved and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif moved:
                target.unlink()
            if backup is not None and (moved or not target.exists()):
                os.replace(backup, target)
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
