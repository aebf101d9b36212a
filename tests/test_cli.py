"""The command line as a user runs it: `.venv/bin/invoke ...` in a subprocess.

Bad input must end with exactly one line on stderr that names the file and the key, exit status 1,
no traceback, and nothing written under dist/ or build/.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from support import REPO, copy_project, invoke, one_error_line, write

from keelson.check import STAGES

if TYPE_CHECKING:
    from pathlib import Path


def outputs(root: Path) -> set[tuple[str, int]]:
    """Everything under build/ and dist/, with modification times."""
    return {
        (str(path.relative_to(root)), path.stat().st_mtime_ns)
        for folder in ("build", "dist")
        if (root / folder).exists()
        for path in [root / folder, *(root / folder).rglob("*")]
    }


def test_check_prod_succeeds() -> None:
    before = outputs(REPO)
    done = invoke("check", "--env", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    stages = [line.split()[:3] for line in done.stdout.splitlines()]
    assert stages == [
        [stage, "prod", "ok"] for stage in ("values", "schema", "render", "kube", "configs", "gates", "rules")
    ]
    assert outputs(REPO) == before


SPOILED = {
    "negative replicas": (
        "app:\n  components:\n    backend:\n      replicas: -1\n",
        "app.components.backend.replicas: must be at least 0",
    ),
    "typo'd key": (
        "app:\n  components:\n    backend:\n      replcas: 3\n",
        "app.components.backend.replcas: unknown key",
    ),
    "latest tag in prod": (
        "app:\n  components:\n    backend:\n      image:\n        tag: latest\n",
        "app.components.backend.image.tag: must be a semantic version such as 1.2.3 or v1.2.3 in prod",
    ),
    "unknown env in global.env": ("global:\n  env: qa\n", "global.env: must be one of dev, staging, prod"),
    "plaintext password field": (
        "app:\n  components:\n    backend:\n      password: hunter2\n",
        "app.components.backend.password: unknown key",
    ),
    "password as an env literal": (
        "app:\n  components:\n    backend:\n      env: [{name: DB_PASSWORD, value: hunter2}]\n",
        "app.components.backend.env[0]: ",
    ),
    "cpu lots": (
        "app:\n  components:\n    backend:\n      resources:\n        requests:\n          cpu: lots\n",
        "app.components.backend.resources.requests.cpu: must be a Kubernetes quantity",
    ),
    "host with spaces": (
        'app:\n  components:\n    frontend:\n      ingress:\n        hosts: [{host: "app example.com"}]\n',
        "app.components.frontend.ingress.hosts[0].host: must be a DNS host name",
    ),
    "broken YAML": ("app: [unclosed\n", ":2:1: invalid YAML: "),
}


@pytest.mark.parametrize("case", SPOILED)
def test_spoiled_overlay_fails_with_one_line(case: str, tmp_path: Path) -> None:
    overlay, expected = SPOILED[case]
    file = write(tmp_path / "overlay.yaml", overlay)
    before = outputs(REPO)
    done = invoke("check", "--env", "prod", "--values", str(file))
    line = one_error_line(done, f"error: {file}", expected)
    assert "hunter2" not in done.stdout + done.stderr, "a secret value was echoed"
    assert outputs(REPO) == before, line


def test_unknown_env_option() -> None:
    done = invoke("check", "--env", "qa")
    assert one_error_line(done) == "error: --env: not an environment (allowed: dev, staging, prod)"


def test_broken_env_file_in_a_copy_of_the_repo(tmp_path: Path) -> None:
    prj = copy_project(REPO, tmp_path / "repo")
    (prj.values_dir / "prod.yaml").write_text("app: [unclosed\n")
    done = invoke("check", "--env", "prod", cwd=prj.root, root=prj.root)
    one_error_line(done, "error: values/prod.yaml:2:1: invalid YAML: ", "started at 1:6")
    assert not (prj.root / "build").exists()
    assert not (prj.root / "dist").exists()


def test_missing_tool_is_one_line(tmp_path: Path) -> None:
    prj = copy_project(REPO, tmp_path / "repo")
    (prj.root / ".tools").unlink()
    done = invoke("check", "--env", "dev", cwd=prj.root, root=prj.root)
    assert one_error_line(done) == "error: helm not found in .tools/bin; run scripts/bootstrap"


def test_rules_checks_the_rule_files_and_alertmanager_config() -> None:
    done = invoke("rules", "--env", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    stages = [line.split()[:3] for line in done.stdout.splitlines()]
    assert stages == [[stage, "prod", "ok"] for stage in ("values", "schema", "render", "rules")]
    assert "Alertmanager config" in done.stdout.splitlines()[-1]


def test_rules_refuses_a_bad_burn_rate_with_one_line(tmp_path: Path) -> None:
    tier = "{factor: 2, longWindow: 1h, shortWindow: 5m, severity: warning, for: 5x}"
    bad = write(tmp_path / "bad.yaml", f"alerting:\n  burnRates:\n    - {tier}\n")
    one_error_line(invoke("rules", "--env", "dev", "--values", str(bad)), "alerting.burnRates[0].for")


def test_check_needs_env_or_all() -> None:
    one_error_line(invoke("check"), "give either --env ENV or --all")
    one_error_line(invoke("check", "--env", "dev", "--all"), "give either --env ENV or --all")


def test_check_all_runs_every_env() -> None:
    done = invoke("check", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    envs = [line.split()[1] for line in done.stdout.splitlines()]
    stages = len(STAGES)  # values, schema, render, kube, configs, gates, rules
    assert envs == ["dev"] * stages + ["staging"] * stages + ["prod"] * stages


def test_schema_lists_every_problem_and_ends_with_one_error_line(tmp_path: Path) -> None:
    file = write(
        tmp_path / "o.yaml", "app:\n  components:\n    backend:\n      replicas: -1\n      replcas: 3\n"
    )
    done = invoke("schema", "--env", "prod", "--values", str(file))
    one_error_line(done, "app.components.backend.replcas: unknown key", "(and 1 more, listed above)")
    assert f"{file}: app.components.backend.replicas: must be at least 0" in done.stdout


def test_template_writes_one_file_per_object(tmp_path: Path) -> None:
    done = invoke("template", "--env", "prod", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert "deployment-keelson-keelson-app-backend.yaml" in names
    assert f"{len(names)} files in {tmp_path / 'out'}" in done.stdout


def test_template_with_bad_values_writes_nothing(tmp_path: Path) -> None:
    file = write(tmp_path / "o.yaml", "global:\n  env: qa\n")
    done = invoke("template", "--env", "prod", "--out", str(tmp_path / "out"), "--values", str(file))
    one_error_line(done, "global.env: must be one of dev, staging, prod")
    assert not (tmp_path / "out").exists()


def test_the_readme_tasks_table_lists_every_task() -> None:
    done = invoke("--list", "--list-format", "json")
    assert done.returncode == 0, done.stderr
    names = {item["name"] for item in json.loads(done.stdout)["tasks"]}
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("## Tasks", 1)[1].split("\n\n", 2)[1]
    # The first cell of each row names its tasks: `invoke cluster-up [--name N]` / `invoke cluster-down`.
    listed = {
        name
        for row in table.splitlines()[2:]
        for name in re.findall(r"`invoke ([a-z-]+)", row.split(" | ")[0])
    }
    assert listed == names
