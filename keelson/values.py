"""Load and merge values exactly like Helm, remembering which file set each key.

Precedence, lowest first: each dependency chart's ``values.yaml`` (under its key), the chart's own
``values.yaml``, ``values/<env>.yaml``, then every ``--values FILE`` in the order given. Mappings
merge key by key, lists and scalars replace, and ``null`` deletes a key. Every subchart gets the
parent's ``global`` block merged over its own (the parent wins), as Helm does. The result is
compared with Helm's own in the tests, so the schema check sees what the templates will see.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson.charts import Chart, load_chart
from keelson.errors import ValuesError
from keelson.models import KeyPath, format_path
from keelson.project import Project, check_env, project
from keelson.yamlio import load_mapping, parse_mapping, read_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Values = dict[str, Any]


def merge(base: Values, override: Values, keep_nulls: bool = False) -> Values:
    """Helm's coalescing: ``override`` wins, mappings merge recursively, lists and scalars replace.

    A ``null`` deletes the key it overrides; a ``null`` with nothing to delete stays, as in Helm.
    With ``keep_nulls`` every null stays (Helm joining several ``-f`` files, or a parent handing
    values down to a subchart): it deletes later, when it meets the default it was meant for.
    """
    result: Values = {}
    for key, value in base.items():
        if keep_nulls or value is not None:
            # A key the override sets is decided below; it keeps its place, and its old value is
            # not copied only to be replaced (merge never changes its arguments).
            result[key] = value if key in override else copy.deepcopy(value)
    for key, value in override.items():
        if value is None and key in result and not keep_nulls:
            del result[key]
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value, keep_nulls)
        else:
            result[key] = copy.deepcopy(value)
    return result


def lookup(values: Any, path: Iterable[str | int]) -> Any:
    """The value at ``path``, or None when any step is missing."""
    node = values
    for key in path:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return None
    return node


@dataclass(frozen=True)
class Layer:
    """One values file placed where its top level sits in the umbrella's values."""

    source: str  # the file as the user knows it, e.g. values/prod.yaml
    prefix: KeyPath  # () for the umbrella and overlays, ("app",) for charts/app/values.yaml
    data: Values

    def reach(self, path: KeyPath) -> tuple[bool, int]:
        """Whether this file sets ``path`` (itself, or a list/scalar/null above it) and how deep it goes."""
        for common, (mine, theirs) in enumerate(zip(self.prefix, path, strict=False)):
            if mine != theirs:
                return False, common
        if len(path) <= len(self.prefix):
            return True, len(path)
        node: Any = self.data
        depth = len(self.prefix)
        for key in path[depth:]:
            if not isinstance(node, dict):
                # A list, scalar or null here replaces everything below it: this file set the path.
                return True, depth
            if not isinstance(key, str) or key not in node:
                return False, depth
            node = node[key]
            depth += 1
        return True, depth


@dataclass(frozen=True)
class MergedValues:
    env: str
    merged: Values  # what the templates see: Helm's coalesced values, globals injected
    user: Values  # values/<env>.yaml and overlays joined with nulls kept: what helm gets on stdin
    layers: tuple[Layer, ...]  # lowest precedence first
    charts: tuple[tuple[KeyPath, Chart], ...]  # the umbrella and every enabled subchart, by value path

    def source_of(self, path: KeyPath) -> str:
        return source_of(self.layers, path)


def source_of(layers: Sequence[Layer], path: KeyPath) -> str:
    """The file that set ``path``: the last one that defines it, else the one that goes deepest."""
    best, best_depth = layers[-1].source, -1
    for layer in reversed(layers):
        defines, depth = layer.reach(path)
        if defines:
            return layer.source
        if depth > best_depth:
            best, best_depth = layer.source, depth
    return best


def _condition_holds(parent_values: Values, condition: str) -> bool:
    """Helm: the first condition path that holds a boolean decides; none of them means enabled."""
    for part in condition.split(","):
        value = lookup(parent_values, part.strip().split("."))
        if isinstance(value, bool):
            return value
    return True


# A chart's values.yaml, parsed once per process (check --all loads the same ten files for every
# env), keyed by its text, so an edited file is parsed again. Only ever read: merge copies what it
# keeps, and the layers that hold these mappings are only searched.
_PARSED: dict[str, Values] = {}
_PARSED_MAX = 64  # a long test run reads many projects' files


def _chart_defaults(file: Path, source: str, root: Path) -> Values:
    text = read_text(file, source, within=root)
    parsed = _PARSED.get(text)
    if parsed is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        parsed = _PARSED[text] = parse_mapping(text, source)
    return parsed


class _Coalescer:
    """Walks the chart tree the way Helm's CoalesceValues does."""

    def __init__(self, prj: Project, user_layers: Sequence[Layer]) -> None:
        self.prj = prj
        self.user_layers = user_layers
        self.defaults: dict[Path, Values] = {}

    def defaults_of(self, chart: Chart) -> Values:
        if chart.path not in self.defaults:
            file = chart.values_file
            self.defaults[chart.path] = (
                _chart_defaults(file, self.prj.display(file), self.prj.root) if file.is_file() else {}
            )
        return self.defaults[chart.path]

    def coalesce(
        self,
        chart: Chart,
        values: Values,
        prefix: KeyPath,
        decide: Values | None,
        charts: list[tuple[KeyPath, Chart]],
    ) -> Values:
        """``decide`` holds the fully coalesced values that conditions are read from (None: all on)."""
        defaults = self.defaults_of(chart)
        dep_keys = {dep.key for dep in chart.dependencies}
        result = merge(defaults, {key: value for key, value in values.items() if key not in dep_keys})
        for key in dep_keys & values.keys():
            # A subchart's block keeps its nulls until the subchart's own defaults are merged in:
            # only there do they find the key they delete (Helm's childChartMergeTrue).
            block, default = values[key], defaults.get(key)
            if block is None:
                result.pop(key, None)
            elif isinstance(block, dict) and isinstance(default, dict):
                result[key] = merge(default, block, keep_nulls=True)
            else:
                result[key] = copy.deepcopy(block)
        charts.append((prefix, chart))
        parent_global = result.get("global")
        for dep in chart.dependencies:
            if decide is not None and not _condition_holds(lookup(decide, prefix) or {}, dep.condition):
                continue
            sub = result.get(dep.key, {})
            if not isinstance(sub, dict):
                path = (*prefix, dep.key)
                raise ValuesError(
                    f"{source_of(self.user_layers, path)}: {format_path(path)}: "
                    f"must be a mapping (the values of chart {dep.name})"
                )
            own_global = sub.get("global")
            sub = {
                **sub,
                "global": merge(
                    own_global if isinstance(own_global, dict) else {},
                    parent_global if isinstance(parent_global, dict) else {},
                ),
            }
            result[dep.key] = self.coalesce(dep, sub, (*prefix, dep.key), decide, charts)
        return result


def load(env: str, overlays: Sequence[Path | str] = (), prj: Project | None = None) -> MergedValues:
    """The values of one environment, merged over the chart defaults, with provenance."""
    prj = prj or project()
    check_env(env)
    umbrella = load_chart(prj.umbrella)
    files = [prj.env_file(env), *(Path(item) for item in overlays)]
    user_layers = [
        Layer(prj.display(file), (), load_mapping(file, prj.display(file), within=prj.root)) for file in files
    ]
    user: Values = {}
    for layer in user_layers:
        user = merge(user, layer.data, keep_nulls=True)

    coalescer = _Coalescer(prj, user_layers)
    # Helm decides which subcharts are enabled from the values coalesced with all of them, then
    # coalesces again with only the enabled ones; a disabled chart's defaults never appear.
    everything = coalescer.coalesce(umbrella, user, (), None, [])
    charts: list[tuple[KeyPath, Chart]] = []
    merged = coalescer.coalesce(umbrella, user, (), everything, charts)

    # Chart defaults in precedence order: a dependency's file before the chart that includes it.
    default_layers = [
        Layer(prj.display(chart.values_file), prefix, coalescer.defaults_of(chart))
        for prefix, chart in sorted(charts, key=lambda item: -len(item[0]))
    ]
    return MergedValues(env, merged, user, (*default_layers, *user_layers), tuple(charts))
