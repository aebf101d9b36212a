"""Rendering through pyhelm3, and writing rendered objects to files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml
from support import REPO, copy_project, write

from keelson import render, values
from keelson.charts import build_order, load_chart
from keelson.errors import RenderError
from keelson.project import ENVS, OPTIONAL_APIS, Project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object


def obj(kind: str, name: str, namespace: str | None = "keelson", **extra: object) -> Object:
    meta: dict[str, object] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **extra}


def identities(objects: list[Object]) -> list[tuple[str, str, str]]:
    return sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects)


def test_file_names_are_kind_namespace_name_lower_cased() -> None:
    assert (
        render.file_name(obj("Deployment", "keelson-app-backend"))
        == "deployment-keelson-keelson-app-backend.yaml"
    )
    assert (
        render.file_name(obj("ClusterRole", "keelson-alloy", namespace=None))
        == "clusterrole-keelson-alloy.yaml"
    )
    assert (
        render.file_name(obj("ClusterRole", "system:keelson", namespace=None))
        == "clusterrole-system_keelson.yaml"
    )


def test_write_objects_one_sorted_file_each(tmp_path: Path) -> None:
    objects = [
        obj("Service", "b", data={"x": 1}),
        obj("ConfigMap", "a", data={"k": "v"}),
        obj("Service", "a"),
    ]
    paths = render.write_objects(objects, tmp_path / "out")
    assert [p.name for p in paths] == [
        "configmap-keelson-a.yaml",
        "service-keelson-a.yaml",
        "service-keelson-b.yaml",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in paths]
    assert yaml.safe_load((tmp_path / "out" / "configmap-keelson-a.yaml").read_text()) == objects[1]


def test_write_objects_replaces_the_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    render.write_objects([obj("ConfigMap", "old")], out)
    render.write_objects([obj("ConfigMap", "new")], out)
    assert [p.name for p in out.iterdir()] == ["configmap-keelson-new.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left behind


def test_write_objects_refuses_two_objects_with_one_name(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="ConfigMap keelson/a: rendered twice"):
        render.write_objects([obj("ConfigMap", "a"), obj("ConfigMap", "a")], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_render_returns_objects_and_skips_empty_documents(fixture_project: Project) -> None:
    objects = render.render(values.load("prod", [], fixture_project).user, prj=fixture_project)
    # web/templates/empty.yaml renders a comment only: no document for it.
    assert identities(objects) == [
        ("ConfigMap", "keelson", "keelson-values"),
        ("Deployment", "keelson", "keelson-web"),
    ]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 3


def test_render_names_the_template_of_each_object(fixture_project: Project) -> None:
    """From helm's # Source: comments, as charts/<chart>/... (the umbrella embeds its siblings)."""
    objects = render.render({}, prj=fixture_project, namespace="elsewhere")
    assert objects.sources == {
        "ConfigMap/elsewhere/keelson-values": "charts/keelson/templates/configmap.yaml",
        "Deployment/elsewhere/keelson-web": "charts/web/templates/deployment.yaml",
    }
    for path in objects.sources.values():
        assert (fixture_project.root / path).is_file(), path


def test_optional_apis_render_only_when_present(fixture_project: Project) -> None:
    user = values.load("dev", [], fixture_project).user
    without = render.render(user, prj=fixture_project)
    with_apis = render.render(user, prj=fixture_project, api_versions=OPTIONAL_APIS)
    assert "ServiceMonitor" not in {o["kind"] for o in without}
    assert "ServiceMonitor" in {o["kind"] for o in with_apis}


def test_release_and_namespace(fixture_project: Project) -> None:
    objects = render.render({}, prj=fixture_project, release="other", namespace="elsewhere")
    assert ("Deployment", "elsewhere", "other-web") in identities(objects)


def test_template_failure_is_one_line(fixture_project: Project, tmp_path: Path) -> None:
    user = values.load("dev", [write(tmp_path / "o.yaml", "web:\n  failMe: true\n")], fixture_project).user
    with pytest.raises(RenderError) as caught:
        render.render(user, prj=fixture_project)
    message = str(caught.value)
    assert message.startswith(
        "helm template charts/keelson: execution error at (keelson/charts/web/templates/"
    )
    assert message.endswith("web: failMe is set (allowed: false)")
    assert "\n" not in message


def test_helms_own_schema_error_is_one_line(fixture_project: Project) -> None:
    with pytest.raises(RenderError) as caught:
        render.render({"web": {"replicas": -1}}, prj=fixture_project)
    message = str(caught.value)
    assert "values don't meet the specifications of the schema(s)" in message
    assert "/replicas" in message
    assert "\n" not in message


@pytest.mark.parametrize("env", ENVS)
def test_helm3_and_helm4_render_the_same_objects(repo: Project, env: str) -> None:
    user = values.load(env, [], repo).user
    v4 = render.render(user, prj=repo, api_versions=OPTIONAL_APIS)
    v3 = render.render(user, prj=repo, api_versions=OPTIONAL_APIS, helm_binary="helm3")
    assert v4, "the umbrella rendered nothing"
    assert identities(v3) == identities(v4)


def test_rendered_fixture_caches_per_env(rendered: Callable[[str], list[Object]]) -> None:
    assert rendered("prod") is rendered("prod")
    assert {o["metadata"]["namespace"] for o in rendered("prod") if "namespace" in o["metadata"]} == {
        "keelson"
    }


def test_preparing_gives_up_when_another_helm_keeps_rebuilding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two helm binaries that keep re-preparing charts/ in turn: each round finds the other's stamps
    (stubbed: never up to date), so the round is bounded and then one error line."""
    prj = copy_project(REPO, tmp_path / "project")
    rounds: list[int] = []
    monkeypatch.setattr(render, "_prepare", lambda *_: rounds.append(1))
    monkeypatch.setattr(render, "_up_to_date", lambda *_: False)
    charts = build_order(load_chart(prj.umbrella))

    with pytest.raises(RenderError) as caught, render.prepared(prj, "helm", charts):
        pass

    assert caught.value.message == (
        "charts/: the chart dependencies keep being rebuilt by another helm; run again"
    )
    assert len(rounds) == render._PREPARE_ATTEMPTS
