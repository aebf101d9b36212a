"""Issue 13: the values schemas are generated from schemas/values/ (keelson/schemagen.py).

The committed charts/*/values.schema.json must equal what the generator makes now; the shared
definitions live once, in schemas/values/shared.json; the definitions that had drifted apart
between charts refuse and accept what the reconciled definition says.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator
from support import REPO, write

from keelson import schemagen, valuesschema
from keelson.errors import SchemaError
from keelson.project import project

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

SOURCES = REPO / "schemas" / "values"
SHARED = json.loads((SOURCES / "shared.json").read_text(encoding="utf-8"))["$defs"]


def test_every_committed_schema_is_what_the_generator_makes() -> None:
    stale = [
        f"{item.target.relative_to(REPO)} is stale: run {schemagen.COMMAND}"
        for item in schemagen.stale(project(REPO))
    ]
    if stale:
        pytest.fail("\n".join(stale), pytrace=False)


def test_every_chart_schema_has_a_source() -> None:
    committed = {path.parent.name for path in REPO.glob("charts/*/values.schema.json")}
    assert {item.chart for item in schemagen.generate(project(REPO))} == committed
    assert len(committed) == 9


def test_no_definition_body_is_in_three_or_more_sources() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for source in sorted(SOURCES.glob("*.json")):
        if source.name == schemagen.SHARED_FILE:
            continue
        for name, body in json.loads(source.read_text(encoding="utf-8")).get("$defs", {}).items():
            where[json.dumps(body, sort_keys=True)].append(f"{source.stem}:{name}")
    copied = sorted(", ".join(places) for places in where.values() if len(places) >= 3)
    assert copied == [], "move these to schemas/values/shared.json"


@pytest.mark.parametrize("source", sorted(SOURCES.glob("*.json")), ids=lambda path: path.name)
def test_each_source_passes_the_metaschema(source: Path) -> None:
    valuesschema.check_schema(source, json.loads(source.read_text(encoding="utf-8")))


def test_generated_schemas_embed_the_shared_bodies_verbatim() -> None:
    for item in schemagen.generate(project(REPO)):
        embedded = json.loads(item.text)["$defs"]
        for name in set(embedded) & set(SHARED):
            assert embedded[name] == SHARED[name], f"{item.chart}: $defs/{name}"
        assert schemagen.SHARED_FILE not in item.text.replace("schemas/values/shared.json", "")


# --- the generator on a small project --------------------------------------------------------


def small_project(tmp_path: Path, source: dict[str, Any], shared: dict[str, Any]) -> Project:
    (tmp_path / "charts" / "web").mkdir(parents=True)
    write(tmp_path / "charts" / "web" / "Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (tmp_path / "schemas" / "values").mkdir(parents=True)
    write(tmp_path / "schemas" / "values" / "web.json", json.dumps(source))
    write(tmp_path / "schemas" / "values" / "shared.json", json.dumps({"$defs": shared}))
    return project(tmp_path)


SMALL_SHARED = {
    "name": {"$ref": "#/$defs/label", "maxLength": 20},
    "label": {"type": "string", "pattern": "^[a-z]+$"},
    "box": {"type": "object", "properties": {"side": {"type": "integer", "minimum": 1}}},
    "unused": {"type": "integer"},
}
SMALL_SOURCE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "name": {"$ref": "shared.json#/$defs/name"},
        "size": {"$ref": "#/$defs/size"},
        "side": {"$ref": "shared.json#/$defs/box/properties/side"},
    },
    "$defs": {"size": {"type": "integer", "minimum": 1}},
}


def test_a_chart_gets_exactly_the_shared_definitions_it_reaches(tmp_path: Path) -> None:
    prj = small_project(tmp_path, SMALL_SOURCE, SMALL_SHARED)
    [item] = schemagen.generate(prj)
    generated = json.loads(item.text)
    assert item.target == prj.charts_dir / "web" / "values.schema.json"
    assert list(generated) == ["$schema", "$comment", "type", "properties", "$defs"]
    assert "invoke values-schemas" in generated["$comment"]
    assert generated["properties"] == {
        "name": {"$ref": "#/$defs/name"},
        "size": {"$ref": "#/$defs/size"},
        "side": {"$ref": "#/$defs/box/properties/side"},
    }
    assert generated["$defs"] == {
        "box": SMALL_SHARED["box"],
        "label": SMALL_SHARED["label"],
        "name": SMALL_SHARED["name"],
        "size": {"type": "integer", "minimum": 1},
    }
    validator = Draft202012Validator(generated)
    assert validator.is_valid({"name": "web", "size": 2, "side": 1})
    assert not validator.is_valid({"name": "Web"})
    assert not validator.is_valid({"side": 0})


def test_a_changed_shared_definition_makes_its_charts_stale(tmp_path: Path) -> None:
    prj = small_project(tmp_path, SMALL_SOURCE, SMALL_SHARED)
    assert [item.chart for item in schemagen.write(prj)] == ["web"]
    assert schemagen.stale(prj) == []
    assert schemagen.write(prj) == []
    changed = {**SMALL_SHARED, "label": {"type": "string", "pattern": "^[a-z0-9]+$"}}
    write(prj.schema_sources / "shared.json", json.dumps({"$defs": changed}))
    assert [item.chart for item in schemagen.stale(prj)] == ["web"]
    # A definition the chart does not reach changes nothing.
    write(prj.schema_sources / "shared.json", json.dumps({"$defs": {**SMALL_SHARED, "unused": {}}}))
    assert [item.chart for item in schemagen.stale(prj)] == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"properties": {"x": {"$ref": "shared.json#/$defs/nope"}}},
            r"web\.json: properties/x/\$ref: shared\.json#/\$defs/nope names no definition of shared\.json "
            r"\(allowed: box, label, name, unused\)",
        ),
        (
            {"properties": {"x": {"$ref": "#/$defs/nope"}}},
            r"web\.json: properties/x/\$ref: #/\$defs/nope names no definition of this file's \$defs",
        ),
        (
            {"$defs": {"label": {"type": "string"}}},
            r"web\.json: \$defs/label: shared\.json defines label too",
        ),
        (
            {"properties": {"x": {"$ref": "../other.json#/$defs/label"}}},
            r"web\.json: properties/x/\$ref: \.\./other\.json#/\$defs/label points outside the schema",
        ),
        ([], r"web\.json: \(top level\): must be a JSON object"),
    ],
    ids=["unknown-shared", "unknown-own", "shadows-shared", "other-file", "not-an-object"],
)
def test_a_broken_source_is_named_with_its_key_path(tmp_path: Path, source: Any, expected: str) -> None:
    prj = small_project(tmp_path, source, SMALL_SHARED)
    with pytest.raises(SchemaError, match=expected):
        schemagen.generate(prj)


def test_a_source_without_a_chart_is_refused(tmp_path: Path) -> None:
    prj = small_project(tmp_path, SMALL_SOURCE, SMALL_SHARED)
    write(prj.schema_sources / "ghost.json", "{}")
    with pytest.raises(SchemaError, match=r"ghost\.json: names no chart: charts/ghost/Chart\.yaml"):
        schemagen.generate(prj)


def test_the_format_round_trips_and_keeps_lines_short() -> None:
    value = {"a": [1, 2, {"b": "x" * 200}], "c": {"d": True, "e": None}, "f": []}
    text = schemagen.format_schema(value)
    assert json.loads(text) == value
    assert text.splitlines()[1:3] == ['  "a": [', "    1,"]
    assert '  "c": {"d": true, "e": null},' in text.splitlines()
    assert all(len(line) <= schemagen.WIDTH for line in text.splitlines() if "x" * 200 not in line)


# --- the reconciled definitions --------------------------------------------------------------


def valid(name: str, value: Any) -> bool:
    return Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": SHARED}).is_valid(value)


RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
CASES: list[tuple[str, Any, bool]] = [
    ("dnsLabel", "prod-eu-1", True),
    ("dnsLabel", "a" * 63, True),
    ("dnsLabel", "a" * 64, False),
    ("dnsLabel", "-web", False),
    ("dnsLabel", "Web", False),
    ("dnsLabel", "", False),
    ("host", "app.example.com", True),
    ("host", "*.example.com", True),
    ("host", "10.0.0.1", False),
    ("host", "localhost", False),
    ("host", "a" * 64 + ".example.com", False),
    ("host", "app.example.com:443", False),
    ("duration", "30s", True),
    ("duration", "1m30s", True),
    ("duration", "500ms", True),
    ("duration", "1d", False),
    ("duration", "30", False),
    ("retention", "90d", True),
    ("retention", "2w", True),
    ("retention", "0", True),
    ("retention", 0, True),
    ("retention", 7, False),
    ("retention", "forever", False),
    ("intOrPercent", 0, True),
    ("intOrPercent", "25%", True),
    ("intOrPercent", -1, False),
    ("intOrPercent", "25", False),
    ("secretKey", "tls.crt", True),
    ("secretKey", "a" * 253, True),
    ("secretKey", "a" * 254, False),
    ("secretKey", "", False),
    ("secretKey", "a/b", False),
    ("resources", RESOURCES, True),
    ("resources", {"requests": RESOURCES["requests"]}, False),
    ("resources", {**RESOURCES, "requests": {"cpu": "100m"}}, False),
    ("resources", {**RESOURCES, "limits": {"cpu": "1"}}, False),
    ("probe", {"httpGet": {"path": "/ready", "port": "http"}}, True),
    ("probe", {"exec": {"command": ["true"]}}, True),
    ("probe", {"grpc": {"port": 9095}}, True),
    ("probe", {"httpGet": {"path": "ready", "port": 80}}, False),
    ("probe", {"script": "true"}, False),
    ("envVar", {"name": "LOG_LEVEL", "value": "info"}, True),
    ("envVar", {"name": "AWS_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "id"}}}, True),
    ("envVar", {"name": "AWS_ACCESS_KEY", "value": "literal"}, False),
    ("envVar", {"name": "DB_PASSWORD", "value": "literal"}, False),
    ("image", {"repository": "grafana/loki", "tag": "3.7.8"}, True),
    ("image", {"repository": ""}, False),
    ("image", {"repository": "Grafana/Loki"}, False),
    ("image", {"repository": "grafana/loki", "digest": "sha256:abc"}, False),
    ("global", {"env": "prod", "cluster": "", "somethingElse": 1}, True),
    ("global", {"env": "qa"}, False),
    ("global", {"podSecurity": {"runAsUser": 0}}, False),
]


@pytest.mark.parametrize(("name", "value", "accepted"), CASES, ids=lambda x: str(x)[:30])
def test_a_reconciled_definition_refuses_and_accepts(name: str, value: Any, accepted: bool) -> None:
    assert valid(name, value) is accepted


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("dnsLabel", "must be a DNS label: lower-case letters, digits and '-', at most 63 characters"),
        ("environment", "must be one of dev, staging, prod"),
        ("resources", "every container needs requests (cpu and memory) and limits (at least memory)"),
        ("intOrPercent", "must be a non-negative integer or a percentage such as 25%"),
    ],
)
def test_a_reconciled_definition_says_what_is_allowed(name: str, message: str) -> None:
    assert SHARED[name]["errorMessage"] == message
