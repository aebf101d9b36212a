"""Loading and merging values: Helm's semantics, provenance and clear errors for bad input."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from support import FIXTURE_PROJECT, copy_project, write

from keelson import values
from keelson.errors import ValuesError
from keelson.render import render
from keelson.values import merge

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project


def test_merge_maps_recursively_and_replaces_lists_and_scalars() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    override = {"a": {"c": [3]}, "d": "y"}
    assert merge(base, override) == {"a": {"b": 1, "c": [3]}, "d": "y"}


def test_merge_null_deletes_the_key_it_overrides() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    assert merge(base, {"a": {"b": None}, "d": None}) == {"a": {"c": 2}}


def test_merge_null_with_nothing_to_delete_stays_as_in_helm() -> None:
    assert merge({"a": 1}, {"z": None}) == {"a": 1, "z": None}


def test_merge_keeping_nulls_keeps_every_null() -> None:
    assert merge({"a": 1, "b": None}, {"a": None}, keep_nulls=True) == {"a": None, "b": None}


def test_merge_does_not_share_structure_with_its_inputs() -> None:
    base = {"a": {"b": [1]}}
    result = merge(base, {})
    result["a"]["b"].append(2)
    assert base == {"a": {"b": [1]}}


def test_merge_keeps_the_base_key_order_and_leaves_both_inputs_as_they_were() -> None:
    base = {"a": {"x": [1], "y": 2}, "b": None, "c": 3}
    override = {"c": 4, "a": {"y": 5}, "d": {"e": 6}}
    result = merge(base, override)
    assert list(result) == ["a", "c", "d"]
    assert list(result["a"]) == ["x", "y"]
    assert result == {"a": {"x": [1], "y": 5}, "c": 4, "d": {"e": 6}}
    result["a"]["x"].append(9)
    result["d"]["e"] = 0
    assert base == {"a": {"x": [1], "y": 2}, "b": None, "c": 3}
    assert override == {"c": 4, "a": {"y": 5}, "d": {"e": 6}}


def test_an_edited_chart_values_file_is_read_again(tmp_path: Path) -> None:
    """Chart defaults are parsed once per process, but by their text: an edit is seen at once, even
    one that keeps the file's size."""
    fixture_project = copy_project(FIXTURE_PROJECT, tmp_path / "project")
    web_values = fixture_project.charts_dir / "web" / "values.yaml"
    before = values.load("prod", [], fixture_project).merged["web"]
    text = web_values.read_text(encoding="utf-8")
    assert "team: web" in text
    web_values.write_text(text.replace("team: web", "team: wcb"), encoding="utf-8")
    after = values.load("prod", [], fixture_project).merged["web"]
    assert before["annotations"]["team"] == "web"
    assert after["annotations"]["team"] == "wcb"
    assert {key: value for key, value in after.items() if key != "annotations"} == {
        key: value for key, value in before.items() if key != "annotations"
    }


def test_layering_subchart_defaults_umbrella_env_and_overlays(
    fixture_project: Project, tmp_path: Path
) -> None:
    overlay = write(tmp_path / "extra.yaml", "web:\n  replicas: 5\n  annotations:\n    drop-me: null\n")
    merged = values.load("prod", [overlay], fixture_project).merged
    web = merged["web"]
    assert web["image"] == {"repository": "example/web", "tag": "1.0.0"}  # charts/web/values.yaml
    assert merged["note"] == "umbrella"  # charts/keelson/values.yaml
    assert web["hosts"] == [{"host": "app.example.com"}, {"host": "api.example.com"}]  # list replaced
    assert web["replicas"] == 5  # the overlay beats values/prod.yaml and the umbrella
    assert web["annotations"] == {"team": "web"}  # null deleted a subchart default
    assert web["config"]["RELEASED"] == "2024-01-01"  # a date-like value stays a string, as in Helm


def test_globals_reach_every_subchart_and_the_parent_wins(fixture_project: Project) -> None:
    merged = values.load("prod", [], fixture_project).merged
    assert merged["web"]["global"] == {"env": "prod", "cluster": "prod"}
    # The library's own global default survives where the parent does not set that key.
    assert merged["lib"]["global"] == {"env": "prod", "cluster": "prod", "fromLib": "lib-default"}


def test_disabled_subchart_gets_no_defaults_until_enabled(fixture_project: Project, tmp_path: Path) -> None:
    loaded = values.load("dev", [], fixture_project)
    assert loaded.merged["extra"] == {"enabled": False}
    assert ("extra",) not in dict(loaded.charts)
    enabled = values.load("dev", [write(tmp_path / "on.yaml", "extra:\n  enabled: true\n")], fixture_project)
    assert enabled.merged["extra"]["size"] == 3
    assert ("extra",) in dict(enabled.charts)


@pytest.fixture(scope="module")
def schemaless_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The fixture project without schemas, so Helm renders values that a schema would refuse."""
    prj = copy_project(FIXTURE_PROJECT, tmp_path_factory.mktemp("schemaless") / "project")
    for schema in prj.charts_dir.glob("*/values.schema.json"):
        schema.unlink()
    return prj


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("helm_binary", ["helm", "helm3"])
def test_merge_equals_helms_own(
    schemaless_project: Project, tmp_path: Path, env: str, helm_binary: str
) -> None:
    """The fixture umbrella renders its .Values; ours must be the same, nulls and globals included."""
    overlay = write(
        tmp_path / "over.yaml",
        "web:\n  mode: null\n  annotations: {drop-me: null}\n  notAKey: null\n  nested: {a: null}\n"
        "newTop: null\nextra:\n  enabled: true\n",
    )
    loaded = values.load(env, [overlay], schemaless_project)
    objects = render(loaded.user, prj=schemaless_project, helm_binary=helm_binary)
    dump = next(o for o in objects if o["metadata"]["name"] == "keelson-values")
    assert json.loads(dump["data"]["values.json"]) == loaded.merged


def test_provenance_names_the_file_that_set_the_key(fixture_project: Project, tmp_path: Path) -> None:
    overlay = write(tmp_path / "over.yaml", "web:\n  cpu: 2\n")
    loaded = values.load("prod", [overlay], fixture_project)
    assert loaded.source_of(("web", "port")) == "charts/web/values.yaml"
    assert loaded.source_of(("web", "replicas")) == "values/prod.yaml"
    assert loaded.source_of(("note",)) == "charts/keelson/values.yaml"
    assert loaded.source_of(("web", "cpu")) == str(overlay)
    # Inside a list a file set wholesale, the file that set the list.
    assert loaded.source_of(("web", "hosts", 1, "host")) == "values/prod.yaml"
    # A key nobody set (a missing required key): the file that goes deepest towards it.
    assert loaded.source_of(("web", "image", "digest")) == "charts/web/values.yaml"


def test_broken_yaml_names_file_line_and_column(fixture_project: Project, tmp_path: Path) -> None:
    overlay = write(tmp_path / "broken.yaml", "web:\n  hosts: [unclosed\n")
    with pytest.raises(ValuesError) as caught:
        values.load("prod", [overlay], fixture_project)
    assert str(caught.value).startswith(f"{overlay}:3:1: invalid YAML: ")
    assert "started at 2:10" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", r"a string \(9 characters\)")]
)
def test_top_level_must_be_a_mapping(fixture_project: Project, tmp_path: Path, text: str, kind: str) -> None:
    overlay = write(tmp_path / "top.yaml", text)
    with pytest.raises(ValuesError, match=f"top level must be a mapping of keys to values, not {kind}"):
        values.load("dev", [overlay], fixture_project)


def test_empty_overlay_is_an_empty_mapping(fixture_project: Project, tmp_path: Path) -> None:
    overlay = write(tmp_path / "empty.yaml", "# nothing here\n")
    assert (
        values.load("dev", [overlay], fixture_project).merged
        == values.load("dev", [], fixture_project).merged
    )


def test_unknown_env_names_the_allowed_ones(fixture_project: Project) -> None:
    with pytest.raises(ValuesError, match=r"--env: not an environment \(allowed: dev, staging, prod\)"):
        values.load("qa", [], fixture_project)


def test_missing_overlay_is_a_values_error(fixture_project: Project, tmp_path: Path) -> None:
    with pytest.raises(ValuesError, match=r"nope\.yaml: file not found"):
        values.load("dev", [tmp_path / "nope.yaml"], fixture_project)


def test_subchart_block_must_be_a_mapping(fixture_project: Project, tmp_path: Path) -> None:
    overlay = write(tmp_path / "list.yaml", "web: [1, 2]\n")
    with pytest.raises(
        ValuesError, match=rf"^{overlay}: web: must be a mapping \(the values of chart web\)$"
    ):
        values.load("dev", [overlay], fixture_project)
