"""No silent capability switches: global.capabilities.serviceMonitor and .prometheusRule decide
whether the objects of the Prometheus Operator's API render (issue 14 item 3).

For each kind: "auto" renders them only when the API is passed to helm, true renders them without
it, false leaves them out with it, and any other value fails the render with one line naming the
value's path (from `invoke template`, from helm's schema check, and from the template itself where
Argo CD skips the schema). The charts' own enable flags still turn their objects off.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from support import REPO, invoke, one_error_line

from keelson import helm, values
from keelson.errors import RenderError
from keelson.project import NAMESPACE, OPTIONAL_APIS, RELEASE, project
from keelson.render import charts_lock, prepare_dependencies, render

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.models import Object

PRJ = project(REPO)
ENV = "prod"


@dataclass(frozen=True)
class Kind:
    name: str  # the object kind
    key: str  # under global.capabilities
    objects: frozenset[str]  # the names the umbrella renders of it, where allowed
    chart_flag: dict[str, Any]  # values turning one chart's object off, beside the capability


SERVICE_MONITOR = Kind(
    "ServiceMonitor",
    "serviceMonitor",
    frozenset(
        f"{RELEASE}-{name}" for name in ("app-backend", "grafana", "loki", "tempo", "mimir", "pyroscope")
    ),
    # Loki leaves the agent's list too: a listed chart without its ServiceMonitor is refused.
    {
        "loki": {"serviceMonitor": {"enabled": False}},
        "alloy": {
            "agent": {
                "prometheusOperator": {
                    "serviceMonitorCharts": ["app", "grafana", "mimir", "pyroscope", "tempo"]
                }
            }
        },
    },
)
PROMETHEUS_RULE = Kind(
    "PrometheusRule",
    "prometheusRule",
    frozenset({f"{RELEASE}-alert-rules"}),
    {"alerting": {"prometheusRule": {"enabled": False}}},
)
KINDS = [SERVICE_MONITOR, PROMETHEUS_RULE]


def capability(kind: Kind, value: object) -> dict[str, Any]:
    return {"global": {"capabilities": {kind.key: value}}}


def rendered(extra: dict[str, Any], apis: tuple[str, ...]) -> list[Object]:
    user = values.merge(copy.deepcopy(values.load(ENV, (), PRJ).user), extra, keep_nulls=True)
    return render(user, prj=PRJ, api_versions=apis)


def named(objects: list[Object], kind: Kind) -> set[str]:
    return {o["metadata"]["name"] for o in objects if o["kind"] == kind.name}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_auto_renders_them_only_where_the_api_is_served(kind: Kind) -> None:
    assert named(rendered(capability(kind, "auto"), OPTIONAL_APIS), kind) == kind.objects
    assert named(rendered(capability(kind, "auto"), ()), kind) == set()


def test_auto_is_the_default_so_renders_stay_as_they_were() -> None:
    for kind in KINDS:
        assert values.load(ENV, (), PRJ).merged["global"]["capabilities"][kind.key] == "auto"
        for chart in ("app", "grafana", "loki", "tempo", "mimir", "pyroscope"):
            assert values.load(ENV, (), PRJ).merged[chart]["global"]["capabilities"][kind.key] == "auto"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_true_renders_them_without_the_api_exactly_as_auto_with_it(kind: Kind) -> None:
    forced = rendered(capability(kind, True), ())
    assert named(forced, kind) == kind.objects
    with_api = {o["metadata"]["name"]: o for o in rendered({}, OPTIONAL_APIS) if o["kind"] == kind.name}
    assert {o["metadata"]["name"]: o for o in forced if o["kind"] == kind.name} == with_api


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_false_leaves_them_out_though_the_api_is_served(kind: Kind) -> None:
    objects = rendered(capability(kind, False), OPTIONAL_APIS)
    assert named(objects, kind) == set()
    other = next(k for k in KINDS if k is not kind)
    assert named(objects, other) == other.objects  # each kind has its own switch


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_charts_own_flag_still_turns_its_object_off(kind: Kind) -> None:
    objects = rendered(values.merge(capability(kind, True), kind.chart_flag), ())
    off = {"ServiceMonitor": f"{RELEASE}-loki", "PrometheusRule": f"{RELEASE}-alert-rules"}[kind.name]
    assert named(objects, kind) == kind.objects - {off}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_an_invalid_value_is_one_error_line_from_invoke_template(kind: Kind, tmp_path: Path) -> None:
    overlay = tmp_path / "capabilities.yaml"
    overlay.write_text(yaml.safe_dump(capability(kind, "yes")), encoding="utf-8")
    done = invoke("template", "--env", ENV, "--values", str(overlay), "--out", str(tmp_path / "out"))
    one_error_line(done, str(overlay), f"global.capabilities.{kind.key}", "must be auto", "true or false")
    assert not (tmp_path / "out").exists()


def _helm_template(extra: dict[str, Any], *flags: str) -> str:
    """The umbrella with only ``extra`` over its defaults, by the helm CLI; the one-line error."""
    prepare_dependencies(PRJ)
    args = ["template", RELEASE, str(PRJ.umbrella), "--namespace", NAMESPACE, "--values", "-", *flags]
    with charts_lock(PRJ, exclusive=False), pytest.raises(RenderError) as failed:
        helm.run(PRJ, args, stdin=yaml.safe_dump(extra).encode(), what="template")
    message = str(failed.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_an_invalid_value_fails_helms_own_schema_check_naming_the_path(kind: Kind) -> None:
    message = _helm_template(capability(kind, "maybe"))
    assert f"at '/global/capabilities/{kind.key}': value must be one of 'auto', true, false" in message


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_without_the_schema_the_template_itself_fails_naming_the_path(kind: Kind) -> None:
    # Argo CD's helm.skipSchemaValidation, or a chart copied without its values.schema.json.
    message = _helm_template(capability(kind, "maybe"), "--skip-schema-validation")
    assert message.endswith(f": global.capabilities.{kind.key}: must be auto, true or false"), message


def test_a_wrong_value_fails_even_where_the_chart_turned_its_object_off() -> None:
    turned_off = values.merge(capability(PROMETHEUS_RULE, "maybe"), PROMETHEUS_RULE.chart_flag)
    message = _helm_template(turned_off, "--skip-schema-validation")
    assert message.endswith(": global.capabilities.prometheusRule: must be auto, true or false"), message


@pytest.mark.parametrize(
    ("chart", "monitors"),
    [
        ("app", {"app-backend"}),
        ("grafana", {"grafana"}),
        ("loki", {"loki"}),
        ("tempo", {"tempo"}),
        ("mimir", {"mimir"}),
        ("pyroscope", {"pyroscope"}),
    ],
)
def test_each_chart_alone_honours_the_switch(chart: str, monitors: set[str]) -> None:
    path = PRJ.charts_dir / chart
    expected = {f"{RELEASE}-{name}" for name in monitors}
    for value, apis, wanted in (
        ("auto", (), set()),
        ("auto", OPTIONAL_APIS, expected),
        (True, (), expected),
        (False, OPTIONAL_APIS, set()),
    ):
        objects = render(capability(SERVICE_MONITOR, value), prj=PRJ, chart=path, api_versions=apis)
        assert named(objects, SERVICE_MONITOR) == wanted, (value, apis)
