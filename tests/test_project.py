"""The project root, its environments and the pinned tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import REPO, invoke, one_error_line

from keelson.errors import ToolError, ValuesError
from keelson.project import ENVS, KUBE_VERSIONS, check_env, project


def test_root_is_the_checkout_unless_keelson_root_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KEELSON_ROOT", raising=False)
    assert project().root == REPO
    monkeypatch.setenv("KEELSON_ROOT", str(tmp_path))
    assert project().root == tmp_path.resolve()
    assert project().umbrella == tmp_path.resolve() / "charts" / "keelson"


def test_environments_and_kubernetes_versions() -> None:
    assert ENVS == ("dev", "staging", "prod")
    assert KUBE_VERSIONS == ("1.30.0", "1.35.0")
    assert check_env("prod") == "prod"
    with pytest.raises(ValuesError, match=r"allowed: dev, staging, prod"):
        check_env("production")


def test_tool_prefers_tools_bin_then_venv_bin(tmp_path: Path) -> None:
    for folder, name in ((".tools/bin", "helm"), (".venv/bin", "helm"), (".venv/bin", "yamllint")):
        path = tmp_path / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    prj = project(tmp_path)
    assert prj.tool("helm") == tmp_path.resolve() / ".tools/bin/helm"
    assert prj.tool("yamllint") == tmp_path.resolve() / ".venv/bin/yamllint"


def test_tools_run_with_a_lazier_go_collector_unless_the_caller_chose(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    env = project(tmp_path).tool_env()
    assert env["GOGC"] == "400"
    assert env["PATH"].split(":")[:2] == [
        str(tmp_path.resolve() / ".tools/bin"),
        str(tmp_path.resolve() / ".venv/bin"),
    ]
    monkeypatch.setenv("GOGC", "50")
    assert project(tmp_path).tool_env()["GOGC"] == "50"


def test_missing_tool_says_run_bootstrap(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"^helm not found in \.tools/bin; run scripts/bootstrap$"):
        project(tmp_path).tool("helm")
    with pytest.raises(ToolError, match=r"^yamllint not found in \.venv/bin; run scripts/bootstrap$"):
        project(tmp_path).tool("yamllint")


def test_display_is_relative_inside_the_root(tmp_path: Path) -> None:
    prj = project(tmp_path)
    assert prj.display(tmp_path / "values" / "prod.yaml") == "values/prod.yaml"
    assert prj.display(Path("/elsewhere/x.yaml")) == "/elsewhere/x.yaml"


def _bootstrapped(root: Path, profile: str) -> None:
    """What scripts/bootstrap leaves in .tools/profile.json (install_tools.py writes it)."""
    (root / ".tools").mkdir(parents=True, exist_ok=True)
    record = {"profile": profile, "tools": {"helm": "main", "kube-apiserver": "test", "checkov": "test"}}
    (root / ".tools" / "profile.json").write_text(json.dumps(record), encoding="utf-8")


def test_a_missing_test_tool_says_run_bootstrap_test(tmp_path: Path) -> None:
    _bootstrapped(tmp_path, "main")
    prj = project(tmp_path)
    assert prj.installed_profile() == "main"
    with pytest.raises(
        ToolError, match=r"^kube-apiserver not found in \.tools/bin; run scripts/bootstrap --test$"
    ):
        prj.tool("kube-apiserver")
    with pytest.raises(ToolError, match=r"^pytest not found in \.venv/bin; run scripts/bootstrap --test$"):
        prj.tool("pytest")
    with pytest.raises(ToolError, match=r"^helm not found in \.tools/bin; run scripts/bootstrap$"):
        prj.tool("helm")


def test_installed_profile_is_none_before_bootstrap(tmp_path: Path) -> None:
    assert project(tmp_path).installed_profile() is None
    _bootstrapped(tmp_path, "test")
    assert project(tmp_path).installed_profile() == "test"


def test_invoke_test_refuses_a_main_only_bootstrap(tmp_path: Path) -> None:
    """`invoke test` on a main-profile checkout stops at once with one line, running no linter."""
    _bootstrapped(tmp_path, "main")
    done = invoke("test", root=tmp_path)
    assert done.returncode == 1
    assert one_error_line(done) == (
        "error: invoke test needs the test tools, and this checkout has the main profile; "
        "run scripts/bootstrap --test"
    )
    assert done.stdout == ""


def test_ci_runs_the_readme_test_command_and_it_checks_the_values_reference(tmp_path: Path) -> None:
    """.ci/run runs the README's test command, and `invoke test` runs `invoke docs --check` among
    its steps (each tool faked here by a script that logs its arguments)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = "./scripts/bootstrap --test && .venv/bin/invoke test"
    assert f"```sh\n{command}\n```" in readme
    assert (REPO / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith(command)

    _bootstrapped(tmp_path, "test")
    log = tmp_path / "ran.log"
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    for tool in ("ruff", "mypy", "invoke", "pytest"):
        fake = tmp_path / ".venv" / "bin" / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n', encoding="utf-8")
        fake.chmod(0o755)
    done = invoke("test", root=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.rstrip() for line in log.read_text(encoding="utf-8").splitlines()] == [
        "ruff check .",
        "ruff format --check .",
        "mypy",
        "invoke docs --check",
        "pytest -n auto",
    ]
