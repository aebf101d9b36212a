"""Raise a chart's version and every dependent's: ``invoke bump --chart NAME --part minor``.

A chart that depends on the bumped chart (directly or through another chart, the umbrella
included) gets its dependency entry set to the new version and a patch bump of its own: its
packaged archive carries the dependency inside it, so its contents change, and the chart
repository refuses a changed archive under a version it already holds (keelson/repository.py).
A patch, because the dependent's own values and templates did not change; a dependent whose
values do change is bumped by whoever changes them.

Chart.yaml files are edited in place, one version scalar at a time (found by its position in
the YAML), so their comments, key order and quoting stay as they were. Chart.lock is a build
product here (ignored by git; ``helm dependency update`` rewrites it), so it is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from keelson.errors import UsageError, ValuesError
from keelson.yamlio import describe

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

PARTS = ("major", "minor", "patch")
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass
class Chart:
    name: str
    path: Path  # its Chart.yaml
    text: str
    version: str
    version_node: yaml.ScalarNode
    # dependency name -> the scalar nodes of its entries' `version` (one per alias of the chart)
    dependencies: dict[str, list[yaml.ScalarNode]] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    chart: str
    path: Path
    old: str
    new: str
    dependencies: dict[str, str]  # dependency name -> its new version in this chart's entry
    text: str  # the new Chart.yaml


def raised(version: str, part: str) -> str:
    match = _VERSION.fullmatch(version)
    if match is None:
        raise ValueError(version)
    major, minor, patch = (int(group) for group in match.groups())
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def _scalar(node: yaml.Node, where: str) -> yaml.ScalarNode:
    if not isinstance(node, yaml.ScalarNode):
        raise ValuesError(f"{where}: must be a version string")
    return node


def _entries(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def read_chart(path: Path, shown: str, text: str | None = None) -> Chart:
    """A Chart.yaml (or ``text`` as its new content) with the position of its version and of each
    local dependency's version."""
    text = path.read_text(encoding="utf-8") if text is None else text
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ValuesError(describe(exc, shown)) from exc
    if not isinstance(root, yaml.MappingNode):
        raise ValuesError(f"{shown}: (top level): must be a mapping (a Chart.yaml)")
    top = _entries(root)
    name = top.get("name")
    version = top.get("version")
    if not isinstance(name, yaml.ScalarNode) or version is None:
        raise ValuesError(f"{shown}: name, version: both are required")
    version_node = _scalar(version, f"{shown}: version")
    if _VERSION.fullmatch(version_node.value) is None:
        raise ValuesError(f"{shown}: version: is not MAJOR.MINOR.PATCH (bump raises plain versions only)")
    chart = Chart(name.value, path, text, version_node.value, version_node)
    listed = top.get("dependencies")
    items = listed.value if isinstance(listed, yaml.SequenceNode) else []
    for index, item in enumerate(items):
        entry = _entries(item) if isinstance(item, yaml.MappingNode) else {}
        dep_name, repository, dep_version = (entry.get(key) for key in ("name", "repository", "version"))
        if not isinstance(repository, yaml.ScalarNode) or not repository.value.startswith("file://"):
            # keelson.charts refuses these too: every dependency is a sibling chart of charts/.
            raise ValuesError(
                f"{shown}: dependencies[{index}].repository: not a sibling chart (allowed: file://../NAME)"
            )
        if not isinstance(dep_name, yaml.ScalarNode) or dep_version is None:
            raise ValuesError(f"{shown}: dependencies[{index}]: needs a name and a version")
        node = _scalar(dep_version, f"{shown}: dependencies[{index}].version")
        chart.dependencies.setdefault(dep_name.value, []).append(node)
    return chart


def read_charts(prj: Project) -> dict[str, Chart]:
    charts = {}
    for path in sorted(prj.charts_dir.glob("*/Chart.yaml")):
        chart = read_chart(path, prj.display(path))
        charts[chart.name] = chart
    return charts


def dependents(charts: dict[str, Chart], name: str) -> list[str]:
    """Every chart that depends on ``name``, directly or through others, in name order."""
    found: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        for chart in charts.values():
            if current in chart.dependencies and chart.name not in found:
                found.add(chart.name)
                pending.append(chart.name)
    found.discard(name)
    return sorted(found)


def _replace(text: str, edits: list[tuple[yaml.ScalarNode, str]]) -> str:
    """``text`` with each scalar replaced by a new version, quoted as the old one was."""
    for node, version in sorted(edits, key=lambda edit: edit[0].start_mark.index, reverse=True):
        quote = node.style if node.style in {'"', "'"} else ""
        start, end = node.start_mark.index, node.end_mark.index
        text = f"{text[:start]}{quote}{version}{quote}{text[end:]}"
    return text


def plan(prj: Project, name: str, part: str) -> list[Change]:
    """What bumping ``name`` by ``part`` changes, one Change per chart, bumped chart first."""
    if part not in PARTS:
        raise UsageError(f"--part: not a version part (allowed: {', '.join(PARTS)})")
    charts = read_charts(prj)
    if name not in charts:
        allowed = ", ".join(sorted(charts))
        raise UsageError(f"--chart: not a chart of charts/ (allowed: {allowed})")
    new = {name: raised(charts[name].version, part)}
    for dependent in dependents(charts, name):
        new[dependent] = raised(charts[dependent].version, "patch")
    changes = []
    for chart_name, version in new.items():
        chart = charts[chart_name]
        deps = {dep: new[dep] for dep in chart.dependencies if dep in new}
        for dep in deps:
            if any(_VERSION.fullmatch(node.value) is None for node in chart.dependencies[dep]):
                # A range (~0.1.0, >=0.1) says something an exact version would not: not ours to drop.
                raise ValuesError(
                    f"{prj.display(chart.path)}: dependencies[name={dep}].version: is not MAJOR.MINOR.PATCH "
                    "(bump writes exact versions; set it by hand)"
                )
        edits = [(chart.version_node, version)]
        edits += [(node, v) for dep, v in deps.items() for node in chart.dependencies[dep]]
        text = _replace(chart.text, edits)
        changes.append(Change(chart_name, chart.path, chart.version, version, deps, text))
    return changes


def _verify(change: Change, shown: str) -> None:
    """The edited file reads back with exactly the versions planned (else nothing is written)."""
    reread = read_chart(change.path, shown, change.text)
    edited = {dep: {node.value for node in reread.dependencies[dep]} for dep in change.dependencies}
    if reread.version != change.new or edited != {dep: {v} for dep, v in change.dependencies.items()}:
        raise ValuesError(f"{shown}: version: could not be edited in place; nothing was written")


def bump(prj: Project, name: str, part: str) -> list[Change]:
    """Plan the bump, check every edited file, then write them all; the changes made."""
    changes = plan(prj, name, part)
    for change in changes:
        _verify(change, prj.display(change.path))
    for change in changes:
        change.path.write_text(change.text, encoding="utf-8")
    return changes
