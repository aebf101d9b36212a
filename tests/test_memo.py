"""Lint verdicts remembered by a digest of their inputs (keelson.memo): a clean verdict is reused
only for the same inputs; a failure is never remembered."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

from support import FIXTURE_PROJECT, REPO, copy_project

from keelson import lint, values
from keelson.charts import all_charts
from keelson.memo import Memo
from keelson.models import Finding

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project


def test_a_clean_verdict_is_reused_only_for_the_same_inputs(tmp_path: Path) -> None:
    memo = Memo(copy_project(FIXTURE_PROJECT, tmp_path / "project"))
    runs: list[str] = []

    def clean() -> list[Finding]:
        runs.append("clean")
        return []

    assert memo.lint("chart", ["helm 1", "tree a"], clean) == []
    assert memo.lint("chart", ["helm 1", "tree a"], clean) == []
    assert runs == ["clean"]
    assert memo.lint("chart", ["helm 1", "tree b"], clean) == []
    assert memo.lint("chart", ["helm 2", "tree b"], clean) == []
    assert runs == ["clean"] * 3
    assert (memo.skipped, memo.ran) == (1, 3)
    assert memo.summary() == "1 of 4 unchanged since they linted clean"


def test_a_failure_is_never_remembered(tmp_path: Path) -> None:
    memo = Memo(copy_project(FIXTURE_PROJECT, tmp_path / "project"))
    found = [Finding("helm lint", "charts/web", "[ERROR] templates/: parse error")]
    runs: list[int] = []

    def failing() -> list[Finding]:
        runs.append(1)
        return found

    assert memo.lint("web", ["same"], failing) == found
    assert memo.lint("web", ["same"], failing) == found
    assert len(runs) == 2
    assert memo.summary() == ""


def _lint_project(tmp_path: Path) -> Project:
    prj = copy_project(FIXTURE_PROJECT, tmp_path / "project")
    shutil.copy2(REPO / "ct.yaml", prj.root / "ct.yaml")
    shutil.copy2(REPO / ".yamllint.yaml", prj.root / ".yamllint.yaml")
    shutil.copytree(REPO / "ct", prj.root / "ct")
    subprocess.run(["git", "init", "-q", str(prj.root)], check=True)
    return prj


def test_lint_runs_again_for_a_changed_template_and_reports_it(tmp_path: Path) -> None:
    prj = _lint_project(tmp_path)
    first = lint.run(("dev",), prj)
    assert [r.findings for r in first] == [(), (), ()]
    again = lint.run(("dev",), prj)
    assert [r.findings for r in again] == [(), (), ()]
    assert all(r.detail.endswith("unchanged since they linted clean") for r in again), again
    template = prj.charts_dir / "web" / "templates" / "broken.yaml"
    template.write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.nope }}\n")
    found = [str(f) for f in lint.helm_lint(prj, ("dev",))]
    assert any(line.startswith("helm lint: charts/web: ") for line in found), found
    assert any(line.startswith("helm lint: charts/keelson (dev): ") for line in found), found


def test_lint_runs_again_for_a_changed_values_file(tmp_path: Path) -> None:
    prj = _lint_project(tmp_path)
    assert lint.yamllint(prj) == []
    (prj.values_dir / "dev.yaml").write_text((prj.values_dir / "dev.yaml").read_text() + "extra: 1   \n")
    assert [f.message for f in lint.yamllint(prj)] == ["[error] trailing spaces (trailing-spaces)"]


def test_a_clean_full_lint_stands_for_the_release_lint_of_the_same_values(tmp_path: Path) -> None:
    """invoke lint, then a release with the same values: the umbrella is not linted again. The
    release's own lint (no schema validation: its render validated them) never stands for a full one."""
    prj = _lint_project(tmp_path)
    user = values.load("dev", (), prj).user
    charts = len(all_charts(prj.charts_dir))
    assert lint.helm_lint(prj, ("dev",)) == []  # invoke lint: every subject runs
    memo = Memo(prj)
    assert lint.helm_lint(prj, ("dev",), memo, rendered_values={"dev": user}) == []
    assert (memo.ran, memo.skipped) == (0, 1 + charts)
    # Other values than those a full lint saw: the release lints the umbrella with them.
    overlay = {**user, "note": "other"}
    memo = Memo(prj)
    assert lint.helm_lint(prj, ("dev",), memo, rendered_values={"dev": overlay}) == []
    assert (memo.ran, memo.skipped) == (1, charts)


def test_a_release_lint_does_not_stand_for_a_full_lint(tmp_path: Path) -> None:
    prj = _lint_project(tmp_path)
    user = values.load("dev", (), prj).user
    charts = len(all_charts(prj.charts_dir))
    assert lint.helm_lint(prj, ("dev",), rendered_values={"dev": user}) == []
    memo = Memo(prj)
    assert lint.helm_lint(prj, ("dev",), memo) == []
    assert (memo.ran, memo.skipped) == (1, charts)
    memo = Memo(prj)
    assert lint.helm_lint(prj, ("dev",), memo) == []
    assert (memo.ran, memo.skipped) == (0, 1 + charts)
