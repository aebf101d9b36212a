"""`--json` on check, lint and schema (issue 14, item 8): one JSON document on stdout, each env's
stages in the very shape `invoke release --json` prints, the exit status as without `--json`, and
on a failure the one `error:` line on stderr, as release does."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from releasing import git_project
from support import REPO, copy_project, invoke, one_error_line, write

from keelson.check import STAGES

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

STAGE_KEYS = {"stage", "ok", "seconds", "detail", "findings"}
REPORT_KEYS = {"env", "ok", "failedStage", "error", "stages"}
# A literal password: the schema stage refuses it, and no output may repeat it.
SECRET = "hunter2"
PASSWORD_OVERLAY = f"app:\n  components:\n    backend:\n      env: [{{name: DB_PASSWORD, value: {SECRET}}}]\n"
PASSWORD_KEY = "app.components.backend.env[0]"


def document(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON on stdout: the whole of stdout, one document."""
    parsed = json.loads(done.stdout)
    assert isinstance(parsed, dict)
    return parsed


def assert_stage_shape(stage: dict[str, Any]) -> None:
    assert set(stage) == STAGE_KEYS
    assert isinstance(stage["stage"], str)
    assert isinstance(stage["ok"], bool)
    assert isinstance(stage["seconds"], float)
    assert isinstance(stage["detail"], str)
    assert all(isinstance(finding, str) for finding in stage["findings"])
    assert stage["ok"] is (not stage["findings"])


def test_check_all_json_reports_every_env_and_its_gates() -> None:
    done = invoke("check", "--all", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    report = document(done)
    assert set(report) == {"ok", "reports"}
    assert report["ok"] is True
    assert [env["env"] for env in report["reports"]] == ["dev", "staging", "prod"]
    for env in report["reports"]:
        assert set(env) == REPORT_KEYS | {"gates"}
        assert env["ok"] is True
        assert env["failedStage"] is None
        assert env["error"] is None
        assert [stage["stage"] for stage in env["stages"]] == list(STAGES)
        for stage in env["stages"]:
            assert_stage_shape(stage)
            assert stage["ok"] is True
        assert set(env["gates"]) == {"errors", "warnings", "waived"}
        assert env["gates"]["errors"] == 0
        assert all(isinstance(count, int) for count in env["gates"].values())


def test_check_json_failure_names_file_and_key_and_hides_the_secret(tmp_path: Path) -> None:
    overlay = write(tmp_path / "overlay.yaml", PASSWORD_OVERLAY)
    done = invoke("check", "--env", "prod", "--json", "--values", str(overlay))
    line = one_error_line(done, f"error: {overlay}: {PASSWORD_KEY}: ")
    assert SECRET not in done.stdout + done.stderr
    report = document(done)
    assert report["ok"] is False
    (env,) = report["reports"]
    assert env["env"] == "prod"
    assert env["ok"] is False
    assert env["failedStage"] == "schema"
    assert env["error"] is not None
    assert env["error"].startswith(f"{overlay}: {PASSWORD_KEY}: ")
    assert line == f"error: {env['error']}"  # one finding: the error line is that finding
    # The stages stop at the first that failed; gates never ran.
    assert [stage["stage"] for stage in env["stages"]] == ["values", "schema"]
    assert [stage["ok"] for stage in env["stages"]] == [True, False]
    assert env["stages"][1]["findings"] == [env["error"]]
    assert env["gates"] is None


def test_schema_json_on_the_project_passes() -> None:
    done = invoke("schema", "--env", "dev", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    (env,) = document(done)["reports"]
    assert env["env"] == "dev"
    assert env["ok"] is True
    assert env["failedStage"] is None
    assert env["error"] is None
    assert [stage["stage"] for stage in env["stages"]] == ["values", "schema"]
    for stage in env["stages"]:
        assert_stage_shape(stage)


def test_schema_json_on_a_broken_copy_lists_every_problem_and_prints_nothing_else(tmp_path: Path) -> None:
    prj = copy_project(REPO, tmp_path / "project")
    dev = prj.root / "values" / "dev.yaml"
    dev.write_text(
        dev.read_text(encoding="utf-8").replace(
            "    backend:\n", "    backend:\n      replicas: -1\n      replcas: 3\n", 1
        ),
        encoding="utf-8",
    )
    done = invoke("schema", "--env", "dev", "--json", cwd=prj.root, root=prj.root)
    line = one_error_line(done, "values/dev.yaml", "(and 1 more, in the JSON report)")
    report = document(done)  # stdout is the document alone: no finding lines after it
    assert report["ok"] is False
    (env,) = report["reports"]
    assert env["ok"] is False
    assert env["failedStage"] == "schema"
    assert line.startswith(f"error: {env['error']}")
    findings = env["stages"][1]["findings"]
    assert len(findings) == 2
    assert any("app.components.backend.replcas: unknown key" in finding for finding in findings)
    below = "app.components.backend.replicas: must be at least 0"
    assert any(below in finding for finding in findings)
    assert all(finding.startswith("values/dev.yaml: ") for finding in findings)


def test_lint_json_reports_the_linters_in_order() -> None:
    done = invoke("lint", "--env", "dev", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    report = document(done)
    assert report["ok"] is True
    (env,) = report["reports"]
    assert set(env) == REPORT_KEYS
    assert env["env"] == "dev"
    assert env["failedStage"] is None
    assert env["error"] is None
    assert [stage["stage"] for stage in env["stages"]] == ["helm lint", "yamllint", "ct lint"]
    for stage in env["stages"]:
        assert_stage_shape(stage)


def test_check_and_release_share_one_stage_shape(tmp_path: Path) -> None:
    """The same bad overlay: check's env report and release's report agree key for key, and on
    the failed stage and its error."""
    overlay = write(tmp_path / "overlay.yaml", PASSWORD_OVERLAY)
    prj = git_project(tmp_path / "project")
    args = ("release", "--env", "dev", "--dry-run", "--json", "--values", str(overlay))
    released = invoke(*args, cwd=prj.root, root=prj.root)
    checked = invoke("check", "--env", "dev", "--json", "--values", str(overlay))
    assert released.returncode == checked.returncode == 1
    release = document(released)
    (check,) = document(checked)["reports"]
    assert set(release) >= REPORT_KEYS
    assert set(check) >= REPORT_KEYS
    for field in ("env", "ok", "failedStage", "error"):
        assert release[field] == check[field], field
    assert {frozenset(stage) for stage in release["stages"]} == {frozenset(STAGE_KEYS)}
    assert {frozenset(stage) for stage in check["stages"]} == {frozenset(STAGE_KEYS)}
    failed_in_release = next(stage for stage in release["stages"] if not stage["ok"])
    failed_in_check = next(stage for stage in check["stages"] if not stage["ok"])
    for key in STAGE_KEYS - {"seconds"}:
        assert failed_in_release[key] == failed_in_check[key], key
    assert SECRET not in released.stdout + released.stderr
