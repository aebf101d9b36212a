"""Helpers for the tests (conftest.py turns some into fixtures): paths, project copies, lookups."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from keelson.project import Project, project
from keelson.render import charts_lock

if TYPE_CHECKING:
    from keelson.models import Object

REPO = Path(__file__).resolve().parent.parent
FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixtures" / "project"
PROJECT_FILES = ("charts", "values", "schemas", "tasks", "ct.yaml", "ct", ".yamllint.yaml")


def find_object(objects: list[Object], kind: str, name: str) -> Object:
    """The one object of ``kind`` named ``name``; fails listing what there is."""
    matches = [o for o in objects if o.get("kind") == kind and (o.get("metadata") or {}).get("name") == name]
    if len(matches) != 1:
        present = sorted(f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}" for o in objects)
        pytest.fail(f"expected one {kind}/{name}, found {len(matches)}; rendered: {', '.join(present)}")
    return matches[0]


def copy_project(source: Path, target: Path) -> Project:
    """A copy of a project's sources (not its built chart dependencies) sharing the pinned tools."""
    target.mkdir(parents=True)
    # Under the charts' shared lock: another test's `helm dependency build` (exclusive) adds and
    # removes files there (helm's tmpcharts-<pid>/) while it runs.
    with charts_lock(project(source), exclusive=False):
        for name in PROJECT_FILES:
            if (source / name).is_dir():
                # Built dependencies (charts/*/charts, Chart.lock, helm's tmpcharts-*) stay behind,
                # as in a fresh clone.
                ignored = shutil.ignore_patterns("Chart.lock", "charts", "tmpcharts*")
                shutil.copytree(source / name, target / name, ignore=ignored)
            elif (source / name).is_file():
                shutil.copy2(source / name, target / name)
    for link in (".tools", ".venv"):
        (target / link).symlink_to(REPO / link)
    return project(target)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str, cwd: Path = REPO, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``.venv/bin/invoke ARGS`` as a user runs it, from ``cwd`` (KEELSON_ROOT=root when given)."""
    env = {key: value for key, value in os.environ.items() if key != "KEELSON_ROOT"}
    if root is not None:
        env["KEELSON_ROOT"] = str(root)
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "invoke"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit status 1, no traceback, exactly one ``error:`` line on stderr holding ``fragments``."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
