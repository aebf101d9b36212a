"""Linters: their reports cut into one-line findings; the real charts lint clean."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
from support import FIXTURE_PROJECT, REPO, copy_project

from keelson import lint
from keelson.models import Finding
from keelson.project import Project

if TYPE_CHECKING:
    from pathlib import Path

HELM_LINT = """\
==> Linting charts/keelson
[INFO] Chart.yaml: icon is recommended
[WARNING] templates/ingress.yaml: object name does not conform
[ERROR] templates/: values don't meet the specifications of the schema(s) in the following chart(s):
app:
- at '/components/backend/replicas': minimum: got -1, want 0

Error: 1 chart(s) linted, 1 chart(s) failed
"""

CT_LINT = """\
Linting chart "app => (version: \\"0.1.0\\", path: \\"charts/app\\")"
Validating charts/app/Chart.yaml...
Validation success! 👍
charts/app/values.yaml
  247:9     error    trailing spaces  (trailing-spaces)

Linting chart "common => (version: \\"0.1.0\\", path: \\"charts/common\\")"
Validation failed!
Error validating data '/tmp/x/charts/common/Chart.yaml' with schema 'ct/chart_schema.yaml'
\tdescription: Required field missing
Linting chart "loki => (version: \\"0.1.0\\", path: \\"charts/loki\\")"
------------------------------------------------------------------------------------------------------------------------
 ✖︎ app => (version: "0.1.0", path: "charts/app") > failed waiting for process: exit status 1
 ✖︎ common => (version: "0.1.0", path: "charts/common") > failed waiting for process: exit status 1
 ✖︎ loki => (version: "0.1.0", path: "charts/loki") > failed waiting for process: exit status 255
------------------------------------------------------------------------------------------------------------------------
Error: failed linting charts: failed processing charts
"""


def test_helm_lint_report_becomes_one_line_per_problem() -> None:
    assert [str(f) for f in lint.parse_helm_lint(HELM_LINT, "helm lint", "charts/keelson (prod)")] == [
        "helm lint: charts/keelson (prod): templates/ingress.yaml: object name does not conform",
        "helm lint: charts/keelson (prod): templates/: values don't meet the specifications of the schema(s) "
        "in the following chart(s): app: - at '/components/backend/replicas': minimum: got -1, want 0",
    ]


def test_ct_lint_report_becomes_one_line_per_problem() -> None:
    assert [str(f) for f in lint.parse_ct_lint(CT_LINT)] == [
        "ct lint: charts/app/values.yaml:247:9: trailing spaces (trailing-spaces)",
        "ct lint: charts/common/Chart.yaml: description: Required field missing",
        # A chart that failed without a reason in the report keeps ct's summary line.
        "ct lint: charts/loki: failed waiting for process: exit status 255",
    ]


@pytest.fixture
def lint_project(tmp_path: Path) -> Project:
    """The fixture project with the repo's lint configs, in a git work tree (ct wants one)."""
    prj = copy_project(FIXTURE_PROJECT, tmp_path / "project")
    shutil.copy2(REPO / "ct.yaml", prj.root / "ct.yaml")
    shutil.copy2(REPO / ".yamllint.yaml", prj.root / ".yamllint.yaml")
    shutil.copytree(REPO / "ct", prj.root / "ct")
    subprocess.run(["git", "init", "-q", str(prj.root)], check=True)
    return prj


def test_fixture_project_lints_clean(lint_project: Project) -> None:
    assert [r.findings for r in lint.run(("prod",), lint_project)] == [(), (), ()]


def test_yamllint_names_file_line_and_rule(lint_project: Project) -> None:
    (lint_project.values_dir / "prod.yaml").write_text("global:\n  env: prod   \n")
    assert lint.yamllint(lint_project) == [
        Finding("yamllint", "values/prod.yaml:2:12", "[error] trailing spaces (trailing-spaces)")
    ]


def test_helm_lint_failure_names_the_chart(lint_project: Project) -> None:
    template = lint_project.charts_dir / "web" / "templates" / "broken.yaml"
    template.write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.nope }}\n")
    found = [str(f) for f in lint.helm_lint(lint_project, ("dev",))]
    assert found, "helm lint passed a template that cannot render"
    assert all("nil pointer evaluating interface {}.nope" in line for line in found)
    assert any(line.startswith("helm lint: charts/keelson (dev): ") for line in found)
    assert any(line.startswith("helm lint: charts/web: ") for line in found)


def test_ct_lint_checks_chart_yaml_against_the_committed_schema(lint_project: Project) -> None:
    chart_yaml = lint_project.charts_dir / "extra" / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("kubeVersion:", "# kubeVersion:"))
    assert [str(f) for f in lint.ct_lint(lint_project)] == [
        "ct lint: charts/extra/Chart.yaml: kubeVersion: Required field missing"
    ]


def test_the_real_charts_lint_clean(repo: Project) -> None:
    for result in lint.run(prj=repo):
        assert [str(f) for f in result.findings] == [], result.stage


def test_a_chart_yaml_problem_is_reported_once_by_yamllint(lint_project: Project) -> None:
    # ct's rules are the project's (ct/lintconf.yaml extends .yamllint.yaml): one run covers both.
    chart_yaml = lint_project.charts_dir / "extra" / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text() + "icon:   \n")
    line = len(chart_yaml.read_text().splitlines())
    assert lint.yamllint(lint_project) == [
        Finding("yamllint", f"charts/extra/Chart.yaml:{line}:6", "[error] trailing spaces (trailing-spaces)")
    ]
    assert lint.ct_lint(lint_project) == []


def test_ct_rules_of_their_own_are_linted_by_ct_lint(lint_project: Project) -> None:
    # Rules that differ from the project's: ct lint runs yamllint with them over Chart.yaml and
    # values.yaml, so what ct would find is still found.
    (lint_project.root / "ct" / "lintconf.yaml").write_text(
        "extends: ./.yamllint.yaml\nrules:\n  key-ordering: enable\n"
    )
    found = [str(f) for f in lint.ct_lint(lint_project)]
    assert found
    assert all(line.startswith("ct lint: charts/") and "(key-ordering)" in line for line in found)
    assert lint.yamllint(lint_project) == []


def test_the_real_ct_rules_are_the_projects() -> None:
    assert lint._same_rules(Project(REPO), REPO / "ct" / "lintconf.yaml", REPO / ".yamllint.yaml")
