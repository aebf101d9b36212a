"""Each chart's values.schema.json, generated from its source and the shared definitions.

Sources live in ``schemas/values/``: ``shared.json`` holds the definitions several charts use (DNS
names, quantities, probes, images, the storage settings...), and ``<chart>.json`` holds one chart's
own shape, which points at a shared definition with ``{"$ref": "shared.json#/$defs/NAME"}`` and
keeps what only it uses under its own ``$defs``.

The committed ``charts/<chart>/values.schema.json`` is the source with every ``shared.json#`` ref
made local and exactly the shared definitions it reaches copied under ``$defs``. It must stay
self-contained: Helm validates a chart with the schema inside the chart's own folder, and a
packaged chart (a subchart archive inside the umbrella, or a chart pulled from the repository)
carries nothing outside it, so a ``$ref`` to a sibling file would not resolve there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.errors import SchemaError

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

SHARED_FILE = "shared.json"
SHARED_PREFIX = f"{SHARED_FILE}#/$defs/"
LOCAL_PREFIX = "#/$defs/"
COMMAND = "invoke values-schemas"
# Lines of the generated files stay short enough to review: a value goes on one line when it fits.
WIDTH = 110


@dataclass(frozen=True)
class Generated:
    chart: str
    target: Path  # charts/<chart>/values.schema.json
    text: str


def _read(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: cannot read the schema source: {exc}") from exc
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: (top level): must be a JSON object (a schema)")
    return schema


def _defs(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})
    if not isinstance(defs, dict):
        raise SchemaError(f"{path}: $defs: must be an object of named definitions")
    return defs


def _refs(node: Any, where: str = "") -> list[tuple[str, str]]:
    """Every ``$ref`` under ``node``, with the key path it sits at."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}" if where else str(key)
            if key == "$ref" and isinstance(value, str):
                found.append((here, value))
            else:
                found.extend(_refs(value, here))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_refs(item, f"{where}/{index}"))
    return found


def _localize(node: Any) -> Any:
    """``node`` with every ``shared.json#/$defs/X`` ref made ``#/$defs/X``."""
    if isinstance(node, dict):
        return {
            key: value.replace(SHARED_PREFIX, LOCAL_PREFIX, 1)
            if key == "$ref" and isinstance(value, str)
            else _localize(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_localize(item) for item in node]
    return node


def _name(ref: str, prefix: str) -> str:
    """The definition a ref points into: ``#/$defs/probe/properties/port`` -> ``probe``."""
    return ref.removeprefix(prefix).split("/", 1)[0]


def _shared_closure(
    source: Path, schema: dict[str, Any], shared_path: Path, shared: dict[str, Any]
) -> list[str]:
    """The shared definitions ``schema`` reaches, directly or through other shared definitions."""
    own = _defs(source, schema)
    wanted: list[str] = []
    pending = [(source, where, ref) for where, ref in _refs(schema)]
    while pending:
        path, where, ref = pending.pop()
        if not ref.startswith(("#", SHARED_PREFIX)):
            # Anything else would be left dangling in the generated file (see the module's docstring).
            raise SchemaError(
                f"{path}: {where}: {ref} points outside the schema "
                f'(allowed: "#/..." or "{SHARED_PREFIX}NAME")'
            )
        if path == source and ref.startswith(LOCAL_PREFIX):
            if _name(ref, LOCAL_PREFIX) not in own:
                raise SchemaError(
                    f"{path}: {where}: {ref} names no definition of this file's $defs "
                    f'(allowed: one of its own, or "{SHARED_PREFIX}NAME")'
                )
            continue
        if path == source and ref.startswith(SHARED_PREFIX):
            name = _name(ref, SHARED_PREFIX)
        elif path == shared_path and ref.startswith(LOCAL_PREFIX):
            name = _name(ref, LOCAL_PREFIX)
        else:
            continue
        if name not in shared:
            raise SchemaError(
                f"{path}: {where}: {ref} names no definition of {shared_path.name} "
                f"(allowed: {', '.join(sorted(shared))})"
            )
        if name not in wanted:
            wanted.append(name)
            pending.extend((shared_path, f"$defs/{name}/{w}", r) for w, r in _refs(shared[name]))
    return sorted(wanted)


def _inline(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def format_schema(value: Any, indent: int = 0, prefix: str = "") -> str:
    """JSON with two-space indents, each object or list on one line when it fits in WIDTH."""
    inline = _inline(value)
    if not isinstance(value, dict | list) or not value or indent + len(prefix) + len(inline) <= WIDTH:
        return prefix + inline
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [pad + format_schema(v, indent + 2, f"{_inline(k)}: ") for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [pad + format_schema(v, indent + 2) for v in value]
        opening, closing = "[", "]"
    return prefix + opening + "\n" + ",\n".join(items) + "\n" + " " * indent + closing


def generate_one(source: Path, shared_path: Path) -> str:
    """The text of one chart's values.schema.json."""
    schema = _read(source)
    shared = _defs(shared_path, _read(shared_path))
    own = _defs(source, schema)
    wanted = _shared_closure(source, schema, shared_path, shared)
    for name in sorted(own):
        if name in shared:
            raise SchemaError(
                f"{source}: $defs/{name}: {shared_path.name} defines {name} too "
                f'(allowed: use {{"$ref": "{SHARED_PREFIX}{name}"}} or another name)'
            )
    generated: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$defs":
            continue
        generated[key] = _localize(value)
        if key == "$schema":
            generated["$comment"] = (
                f"Generated from schemas/values/{source.name} and schemas/values/{SHARED_FILE} "
                f"by `{COMMAND}`: edit those, not this file."
            )
    embedded = {name: _localize(own[name]) for name in own} | {name: shared[name] for name in wanted}
    generated["$defs"] = dict(sorted(embedded.items()))
    return format_schema(generated) + "\n"


def generate(prj: Project) -> list[Generated]:
    """Every chart's values.schema.json from ``schemas/values/``, in chart order."""
    folder = prj.schema_sources
    shared_path = folder / SHARED_FILE
    results = []
    for source in sorted(folder.glob("*.json")):
        if source.name == SHARED_FILE:
            continue
        chart = source.stem
        chart_dir = prj.charts_dir / chart
        if not (chart_dir / "Chart.yaml").is_file():
            raise SchemaError(f"{source}: names no chart: {prj.display(chart_dir)}/Chart.yaml does not exist")
        results.append(Generated(chart, chart_dir / "values.schema.json", generate_one(source, shared_path)))
    return results


def stale(prj: Project) -> list[Generated]:
    """The generated schemas whose committed file differs (or is missing)."""
    return [
        item
        for item in generate(prj)
        if not item.target.is_file() or item.target.read_text(encoding="utf-8") != item.text
    ]


def write(prj: Project) -> list[Generated]:
    """Write every stale schema; the ones written."""
    written = stale(prj)
    for item in written:
        item.target.write_text(item.text, encoding="utf-8")
    return written
