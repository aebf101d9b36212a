"""Clean lint verdicts, remembered by a digest of everything the linter read, so that unchanged
inputs are not linted twice (by ``invoke lint`` and then the release, or by two releases).

A linter's verdict is a function of its inputs: the files it reads, the values it is given, its
configuration, the program itself and its arguments. When a linter finds nothing, the digest of
those inputs is written to ``build/lint/<subject>.sha256``; a later run whose digest matches skips
that linter for that subject. Only a clean verdict is remembered: anything that failed runs again
and reports afresh, and any changed byte (a template, a values file, a config, a rebuilt or
upgraded program) makes a new digest. Delete ``build/lint/`` to lint everything again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from keelson.models import Finding
    from keelson.project import Project

_SUBJECT = re.compile(r"[^A-Za-z0-9._-]+")


def program(path: Path) -> str:
    """What identifies a program: a Python tool by its package version, a binary by its file."""
    try:
        return f"{path.name} {importlib.metadata.version(path.name)}"
    except importlib.metadata.PackageNotFoundError:
        info = path.resolve().stat()
        return f"{path.resolve()} {info.st_size} {info.st_mtime_ns} {info.st_ino}"


def files_digest(paths: Iterable[Path], root: Path) -> str:
    """Names and bytes of the files (a folder stands for every file under it), in sorted order."""
    digest = hashlib.sha256()
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(item for item in path.rglob("*") if item.is_file())
        elif path.is_file():
            found.add(path)
    for path in sorted(found):
        digest.update(f"\0{os.path.relpath(path, root)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _digest(inputs: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(inputs).encode()).hexdigest()


@dataclass
class Memo:
    """The clean verdicts of one project's linters; ``skipped`` and ``ran`` count this run's subjects."""

    prj: Project
    skipped: int = 0
    ran: int = 0

    @property
    def folder(self) -> Path:
        return self.prj.build_dir / "lint"

    def _stamp(self, subject: str) -> Path:
        return self.folder / f"{_SUBJECT.sub('_', subject)}.sha256"

    def remembered(self, subject: str, inputs: Sequence[str]) -> bool:
        """Whether these ``inputs`` of ``subject`` linted clean before (nothing is counted)."""
        try:
            return self._stamp(subject).read_text(encoding="utf-8").strip() == _digest(inputs)
        except OSError:
            return False  # never linted clean, or build/ was removed

    def lint(
        self,
        subject: str,
        inputs: Sequence[str],
        run: Callable[[], list[Finding]],
        *,
        stricter: tuple[str, Sequence[str]] | None = None,
    ) -> list[Finding]:
        """``run()``'s findings, or none without running it when these ``inputs`` were clean before.
        ``stricter``: the subject and inputs of a lint that checks all this one does and more (the
        same helm lint without ``--skip-schema-validation``), whose clean verdict stands for this one."""
        digest, stamp = _digest(inputs), self._stamp(subject)
        if self.remembered(subject, inputs) or (stricter is not None and self.remembered(*stricter)):
            self.skipped += 1
            return []
        self.ran += 1
        found = run()
        if not found:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a parallel run never reads half a stamp.
            fd, name = tempfile.mkstemp(dir=self.folder, prefix=f".{stamp.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(digest + "\n")
            Path(name).replace(stamp)
        return found

    def summary(self) -> str:
        """``9 of 9 unchanged since they linted clean``, or nothing when every subject ran."""
        total = self.skipped + self.ran
        return f"{self.skipped} of {total} unchanged since they linted clean" if self.skipped else ""
