"""Issue 14 item 7: `invoke bump --chart NAME --part PART` raises a chart's version and every
dependent's, in place (keelson/bump.py)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from support import REPO, copy_project, invoke, one_error_line

from keelson import bump as bumping
from keelson.errors import UsageError, ValuesError
from keelson.render import prepare_dependencies

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

SIBLINGS = ("alloy", "app", "grafana", "kube-state-metrics", "loki", "mimir", "pyroscope", "tempo")


@pytest.fixture
def copy(tmp_path: Path) -> Project:
    return copy_project(REPO, tmp_path / "project")


def chart_files(prj: Project) -> dict[str, str]:
    return {
        path.parent.name: path.read_text(encoding="utf-8") for path in prj.charts_dir.glob("*/Chart.yaml")
    }


def meta(prj: Project, chart: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (prj.charts_dir / chart / "Chart.yaml").read_text(encoding="utf-8")
    )
    return loaded


def entries(prj: Project, chart: str) -> dict[str, str]:
    return {dep["name"]: dep["version"] for dep in meta(prj, chart).get("dependencies", [])}


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_raised_versions() -> None:
    assert bumping.raised("0.2.9", "patch") == "0.2.10"
    assert bumping.raised("0.2.9", "minor") == "0.3.0"
    assert bumping.raised("0.2.9", "major") == "1.0.0"


def test_a_patch_bump_of_a_sibling_reaches_only_the_umbrella(copy: Project) -> None:
    before = chart_files(copy)
    old = {chart: meta(copy, chart)["version"] for chart in before}
    old_entries = entries(copy, "keelson")

    changes = bumping.bump(copy, "loki", "patch")

    assert [change.chart for change in changes] == ["loki", "keelson"]
    assert meta(copy, "loki")["version"] == bumping.raised(old["loki"], "patch")
    assert meta(copy, "keelson")["version"] == bumping.raised(old["keelson"], "patch")
    assert entries(copy, "keelson") == {**old_entries, "loki": meta(copy, "loki")["version"]}
    after = chart_files(copy)
    assert {chart for chart in before if before[chart] != after[chart]} == {"loki", "keelson"}
    # Only the version lines changed: comments, order and the other keys are as they were.
    assert changed_lines(before["loki"], after["loki"]) == [
        (f"version: {old['loki']}", f"version: {meta(copy, 'loki')['version']}")
    ]
    assert len(changed_lines(before["keelson"], after["keelson"])) == 2


def test_a_minor_bump_of_the_library_reaches_every_chart_through_every_path(copy: Project) -> None:
    old = {chart: meta(copy, chart)["version"] for chart in chart_files(copy)}

    bumping.bump(copy, "keelson-common", "minor")

    common = bumping.raised(old["keelson-common"], "minor")
    assert meta(copy, "keelson-common")["version"] == common
    for chart in SIBLINGS:
        assert meta(copy, chart)["version"] == bumping.raised(old[chart], "patch"), chart
        assert entries(copy, chart) == {"keelson-common": common}, chart
    # The umbrella depends on the library twice over (itself and through each sibling): one patch bump.
    assert meta(copy, "keelson")["version"] == bumping.raised(old["keelson"], "patch")
    assert entries(copy, "keelson") == {"keelson-common": common} | {
        chart: meta(copy, chart)["version"] for chart in SIBLINGS
    }

    # helm resolves the new versions: every dependency builds, and helm lint finds them in place.
    helm = str(copy.tool("helm"))
    prepare_dependencies(copy, helm_binary=helm)
    lock = yaml.safe_load((copy.umbrella / "Chart.lock").read_text(encoding="utf-8"))
    assert {dep["name"]: dep["version"] for dep in lock["dependencies"]} == entries(copy, "keelson")
    built = sorted(path.name for path in (copy.umbrella / "charts").glob("*.tgz"))
    assert built == sorted(f"{name}-{version}.tgz" for name, version in entries(copy, "keelson").items())
    linted = subprocess.run([helm, "lint", str(copy.umbrella)], capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_quoted_version_stays_quoted_and_its_comment_stays(copy: Project) -> None:
    path = copy.charts_dir / "app" / "Chart.yaml"
    old = meta(copy, "app")["version"]
    path.write_text(
        path.read_text(encoding="utf-8").replace(f"version: {old}\n", f'version: "{old}"  # the app\n', 1),
        encoding="utf-8",
    )

    bumping.bump(copy, "app", "minor")

    assert f'version: "{bumping.raised(old, "minor")}"  # the app\n' in path.read_text(encoding="utf-8")


def test_a_version_that_is_not_plain_semver_is_refused_before_anything_is_written(copy: Project) -> None:
    path = copy.charts_dir / "tempo" / "Chart.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("\nversion: ", "\nversion: 1.0-", 1), encoding="utf-8"
    )
    before = chart_files(copy)

    with pytest.raises(ValuesError, match=r"charts/tempo/Chart.yaml: version: is not MAJOR.MINOR.PATCH"):
        bumping.bump(copy, "app", "patch")
    assert chart_files(copy) == before


def test_a_dependency_range_is_refused_rather_than_overwritten(copy: Project) -> None:
    path = copy.umbrella / "Chart.yaml"
    old = meta(copy, "loki")["version"]
    text = path.read_text(encoding="utf-8")
    loki_entry = f"  - name: loki\n    version: {old}\n"
    assert loki_entry in text
    path.write_text(text.replace(loki_entry, f"  - name: loki\n    version: ~{old}\n"), encoding="utf-8")
    before = chart_files(copy)

    with pytest.raises(
        ValuesError, match=r"charts/keelson/Chart.yaml: dependencies\[name=loki\].version: is not"
    ):
        bumping.bump(copy, "loki", "patch")
    assert chart_files(copy) == before


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--chart", "nope", "--part", "minor"], ["--chart: not a chart of charts/ (allowed: alloy, app,"]),
        (["--chart", "app", "--part", "huge"], ["--part: not a version part (allowed: major, minor, patch)"]),
        (["--chart", "app"], ["--chart NAME and --part PART are required"]),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(
    copy: Project, args: list[str], fragments: list[str]
) -> None:
    before = chart_files(copy)

    line = one_error_line(invoke("bump", *args, root=copy.root), *fragments)

    assert "nope" not in line
    assert "huge" not in line

    assert chart_files(copy) == before


def test_the_task_prints_each_change(copy: Project) -> None:
    old = meta(copy, "grafana")["version"]

    done = invoke("bump", "--chart", "grafana", "--part", "major", root=copy.root)

    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first == f"charts/grafana/Chart.yaml: {old} -> {bumping.raised(old, 'major')}"
    assert "charts/keelson/Chart.yaml:" in done.stdout


def test_plan_refuses_an_empty_part(copy: Project) -> None:
    with pytest.raises(UsageError, match=r"^--part: not a version part \(allowed: major, minor, patch\)$"):
        bumping.plan(copy, "grafana", "")


def test_every_alias_entry_of_the_bumped_chart_is_edited(copy: Project) -> None:
    umbrella = copy.charts_dir / "keelson" / "Chart.yaml"
    text = umbrella.read_text(encoding="utf-8")
    second = "  - name: loki\n    alias: loki2\n    version: 0.2.0\n    repository: file://../loki\n"
    umbrella.write_text(text.replace("dependencies:\n", f"dependencies:\n{second}", 1), encoding="utf-8")

    changes = bumping.plan(copy, "loki", "minor")

    edited = yaml.safe_load(next(change.text for change in changes if change.chart == "keelson"))
    versions = [(dep.get("alias"), dep["version"]) for dep in edited["dependencies"] if dep["name"] == "loki"]
    new = bumping.raised(meta(copy, "loki")["version"], "minor")
    assert versions == [("loki2", new), (None, new)]


def test_a_chart_yaml_that_does_not_parse_is_named(copy: Project) -> None:
    (copy.charts_dir / "app" / "Chart.yaml").write_text("name: app\nversion: [0.2.0\n", encoding="utf-8")
    before = chart_files(copy)

    line = one_error_line(
        invoke("bump", "--chart", "app", "--part", "patch", root=copy.root),
        "charts/app/Chart.yaml:",
        "invalid YAML",
    )

    assert "YAML input" not in line
    assert chart_files(copy) == before


def test_a_dependency_from_elsewhere_is_refused(copy: Project) -> None:
    umbrella = copy.charts_dir / "keelson" / "Chart.yaml"
    text = umbrella.read_text(encoding="utf-8")
    umbrella.write_text(text.replace("file://../loki", "https://charts.example.org"), encoding="utf-8")

    with pytest.raises(ValuesError) as caught:
        bumping.plan(copy, "app", "patch")

    index = [dep["name"] for dep in meta(copy, "keelson")["dependencies"]].index("loki")
    assert caught.value.message == (
        f"charts/keelson/Chart.yaml: dependencies[{index}].repository: not a sibling chart "
        "(allowed: file://../NAME)"
    )
