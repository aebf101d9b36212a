"""The chart tree: each chart's Chart.yaml and its ``file://`` dependencies, resolved on disk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.errors import ValuesError
from keelson.yamlio import load_mapping

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Chart:
    """A chart directory and, recursively, the charts it depends on."""

    name: str  # Chart.yaml name
    key: str  # where its values sit in the parent's values: the alias, else the name
    path: Path
    condition: str  # comma-separated value paths, relative to the parent's values; "" = always on
    dependencies: tuple[Chart, ...]

    @property
    def values_file(self) -> Path:
        return self.path / "values.yaml"

    @property
    def schema_file(self) -> Path:
        return self.path / "values.schema.json"


def _dependency(chart_dir: Path, index: int, entry: Any, seen: tuple[Path, ...]) -> Chart:
    where = f"{chart_dir / 'Chart.yaml'}: dependencies[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ValuesError(f"{where}: each dependency needs a name")
    repository = str(entry.get("repository", ""))
    if not repository.startswith("file://"):
        raise ValuesError(f"{where}.repository: not a sibling chart (allowed: file://../NAME)")
    # Tags and import-values change which values a chart sees; Keelson's value checks do not model
    # them, so refuse them rather than check something other than what Helm renders.
    for unsupported in ("tags", "import-values"):
        if unsupported in entry:
            raise ValuesError(f"{where}: {unsupported} is not supported (allowed: condition)")
    path = (chart_dir / repository.removeprefix("file://")).resolve()
    return load_chart(
        path,
        key=str(entry.get("alias") or entry["name"]),
        condition=str(entry.get("condition") or ""),
        _seen=seen,
    )


def load_chart(
    path: Path, key: str | None = None, condition: str = "", _seen: tuple[Path, ...] = ()
) -> Chart:
    """Read ``path/Chart.yaml`` and the charts it depends on."""
    path = path.resolve()
    if path in _seen:
        raise ValuesError(
            f"{path / 'Chart.yaml'}: dependency cycle through {' -> '.join(p.name for p in _seen)}"
        )
    meta = load_mapping(path / "Chart.yaml", str(path / "Chart.yaml"))
    name = meta.get("name")
    if not isinstance(name, str):
        raise ValuesError(f"{path / 'Chart.yaml'}: name: missing (allowed: the chart's name)")
    entries = meta.get("dependencies") or []
    if not isinstance(entries, list):
        raise ValuesError(f"{path / 'Chart.yaml'}: dependencies: must be a list")
    deps = tuple(_dependency(path, i, entry, (*_seen, path)) for i, entry in enumerate(entries))
    return Chart(name=name, key=key or name, path=path, condition=condition, dependencies=deps)


def build_order(chart: Chart) -> list[Chart]:
    """Every chart of the tree once, dependencies before the charts that use them."""
    order: list[Chart] = []
    seen: set[Path] = set()

    def visit(node: Chart) -> None:
        for dep in node.dependencies:
            visit(dep)
        if node.path not in seen:
            seen.add(node.path)
            order.append(node)

    visit(chart)
    return order


def all_charts(charts_dir: Path) -> list[Chart]:
    """Every chart under ``charts_dir`` (each is complete on its own), in build order."""
    order: list[Chart] = []
    seen: set[Path] = set()
    for chart_yaml in sorted(charts_dir.glob("*/Chart.yaml")):
        for chart in build_order(load_chart(chart_yaml.parent)):
            if chart.path not in seen:
                seen.add(chart.path)
                order.append(chart)
    return order


def aliases(chart: Chart) -> dict[str, str]:
    """Dependency alias -> chart folder name, for every aliased dependency in the tree. Helm names an
    aliased chart after its alias, in its ``# Source:`` comments too (``charts/kubeStateMetrics/...``
    for the folder ``charts/kube-state-metrics``)."""
    return {
        dep.key: dep.path.name
        for node in build_order(chart)
        for dep in node.dependencies
        if dep.key != dep.path.name
    }
