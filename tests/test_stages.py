"""The one stage runner (keelson.stages): timing, findings of one shape, the ok/FAIL line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support import REPO

from keelson import check
from keelson.errors import FindingsError, ToolError, ValuesError
from keelson.models import Finding, StageResult
from keelson.project import project
from keelson.stages import Stages, line

if TYPE_CHECKING:
    from pathlib import Path


def test_a_clean_stage_records_its_detail_and_tells_progress_twice() -> None:
    heard: list[tuple[str, StageResult | None]] = []
    stages = Stages("prod", progress=lambda name, result: heard.append((name, result)))
    with stages.run("values") as stage:
        stage.detail += ["1 file(s)", "over the chart defaults"]
    [result] = stages.results
    assert (result.stage, result.env, result.findings, result.detail) == (
        "values",
        "prod",
        (),
        "1 file(s) over the chart defaults",
    )
    assert result.seconds >= 0
    assert heard == [("values", None), ("values", result)]
    assert stages.ok


def test_an_error_becomes_the_stages_one_finding_with_its_message_as_is() -> None:
    stages = Stages("dev")
    with stages.run("schema"):
        raise ValuesError("values/dev.yaml: app.replicas: must be an integer")
    [result] = stages.results
    assert result.findings == (
        Finding("", "", "values/dev.yaml: app.replicas: must be an integer", env="dev", stage="schema"),
    )
    assert str(result.findings[0]) == "values/dev.yaml: app.replicas: must be an integer"
    assert not stages.ok


def test_listed_findings_keep_their_where_and_subject_and_gain_env_and_stage() -> None:
    stages = Stages("staging")
    with stages.run("diff"):
        raise FindingsError([Finding("last staging release", "", "StatefulSet x: volumeClaimTemplates")])
    with stages.run("gates") as stage:
        stage.findings.append(Finding("gates staging", "KEEL001 Deployment a/b", "no limits"))
    assert [(f.where, f.subject, f.env, f.stage) for r in stages.results for f in r.findings] == [
        ("last staging release", "", "staging", "diff"),
        ("gates staging", "KEEL001 Deployment a/b", "staging", "gates"),
    ]


def test_a_missing_tool_is_not_a_finding() -> None:
    stages = Stages("prod")
    with pytest.raises(ToolError), stages.run("kube"):
        raise ToolError("kubeconform not found in .tools/bin; run scripts/bootstrap")
    assert stages.results == []


def test_a_stage_can_report_the_time_of_work_done_elsewhere() -> None:
    stages = Stages("prod")
    with stages.run("render") as stage:
        stage.seconds = 1.25
    assert stages.results[0].seconds == 1.25


def test_the_ok_and_fail_lines() -> None:
    ok = StageResult("render", "prod", 1.234, (), "74 objects")
    failed = StageResult("schema", "dev", 0.1, (Finding("", "", "x"),))
    assert line(ok) == "render    prod     ok     1.23s  74 objects"
    assert line(failed) == "schema    dev      FAIL   0.10s"


def test_check_until_values_runs_the_values_stage_alone(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("loki:\n  replicas: 2\n", encoding="utf-8")  # the charts' validation refuses it

    report = check.check("dev", [overlay], project(REPO), until="values")

    assert [result.stage for result in report.stages] == ["values"]
    assert report.ok
    assert report.values is not None
    assert report.values.user["loki"] == {"replicas": 2}
    assert report.objects == []
