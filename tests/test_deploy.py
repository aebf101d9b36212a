"""Deploy and rollback through pyhelm3, against a fake helm that records its arguments and answers
with canned JSON (no cluster here): install/upgrade flags, pending releases, env guard, rollback."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from releasing import calls, git_project, stub_lint, use_fake_helm
from support import REPO, copy_project, invoke, one_error_line

from keelson import deploy, release

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from keelson.project import Project


@pytest.fixture
def cluster(tmp_path: Path) -> tuple[Project, Path]:
    """A project copy whose helm is the fake one; the second item is the fake's state folder."""
    prj = copy_project(REPO, tmp_path / "project")
    state = tmp_path / "helm-state"
    use_fake_helm(prj, state)
    return prj, state


def history(state: Path, *statuses: str) -> None:
    entries = [
        {
            "revision": number,
            "status": status,
            "chart": "keelson-0.1.0",
            "app_version": "1.0.0",
            "description": "",
        }
        for number, status in enumerate(statuses, start=1)
    ]
    (state / "history.json").write_text(json.dumps(entries))


def upgrade_call(state: Path) -> list[str]:
    (found,) = [args for args in calls(state) if args[0] == "upgrade"]
    return found


def test_first_install_rolls_back_on_failure_and_waits(cluster: tuple[Project, Path], tmp_path: Path) -> None:
    prj, state = cluster
    archive = tmp_path / "keelson-0.1.0.tgz"
    result = deploy.upgrade(
        prj, archive, {"global": {"env": "prod"}}, env="prod", description="keelson prod 0.1.0"
    )
    assert result == deploy.DeployResult("keelson", "keelson", 1, "deployed", "keelson-0.1.0", "install")
    args = upgrade_call(state)
    assert args[:3] == ["upgrade", "keelson", str(archive)]
    for flag in ("--install", "--rollback-on-failure", "--wait", "--create-namespace"):
        assert flag in args
    assert "--atomic" not in args
    assert args[args.index("--namespace") + 1] == "keelson"
    assert args[args.index("--description") + 1] == "keelson prod 0.1.0"
    assert json.loads((state / "values.json").read_text()) == {"global": {"env": "prod"}}


def test_helm_3_gets_atomic(cluster: tuple[Project, Path], tmp_path: Path) -> None:
    prj, state = cluster
    (state / "version.json").write_text(json.dumps("v3.22.0"))
    deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod")
    args = upgrade_call(state)
    assert "--atomic" in args
    assert "--rollback-on-failure" not in args


@pytest.mark.parametrize("status", ["pending-install", "pending-upgrade", "pending-rollback"])
def test_a_pending_release_is_refused(cluster: tuple[Project, Path], tmp_path: Path, status: str) -> None:
    prj, state = cluster
    history(state, "superseded", status)
    with pytest.raises(deploy.DeployError, match=f"is {status} at revision 2"):
        deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod")
    assert not [args for args in calls(state) if args[0] == "upgrade"]


def test_a_release_of_another_env_is_refused(cluster: tuple[Project, Path], tmp_path: Path) -> None:
    prj, state = cluster
    history(state, "deployed")
    (state / "values.json").write_text(json.dumps({"global": {"env": "staging"}}))
    with pytest.raises(deploy.DeployError, match="is staging, not prod; switch the kube context first"):
        deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod")


def test_a_failed_upgrade_is_one_error(cluster: tuple[Project, Path], tmp_path: Path) -> None:
    prj, state = cluster
    (state / "fail.json").write_text("true")
    with pytest.raises(deploy.DeployError, match="UPGRADE FAILED: context deadline exceeded"):
        deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod")


def test_rollback_task(cluster: tuple[Project, Path]) -> None:
    prj, state = cluster
    history(state, "superseded", "deployed")
    (state / "values.json").write_text(json.dumps({"global": {"env": "prod"}}))
    done = invoke("rollback", "--env", "prod", "--revision", "1", cwd=prj.root, root=prj.root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "keelson is at revision 3 (deployed, keelson-0.1.0)" in done.stdout
    (rollback,) = [args for args in calls(state) if args[0] == "rollback"]
    assert rollback[:3] == ["rollback", "keelson", "1"]
    assert "--wait" in rollback
    assert rollback[rollback.index("--namespace") + 1] == "keelson"


def test_rollback_refusals(cluster: tuple[Project, Path]) -> None:
    prj, state = cluster

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return invoke("rollback", *args, cwd=prj.root, root=prj.root)

    one_error_line(run("--env", "prod"), "release keelson is not installed in namespace keelson")
    history(state, "deployed")
    (state / "values.json").write_text(json.dumps({"global": {"env": "prod"}}))
    one_error_line(run("--env", "prod"), "has only revision 1: nothing to roll back to")
    one_error_line(run("--env", "prod", "--revision", "7"), "--revision 7: release keelson has revisions 1")
    one_error_line(run("--env", "prod", "--revision", "two"), '--revision "two": must be a revision number')
    (state / "values.json").write_text(json.dumps({"global": {"env": "dev"}}))
    one_error_line(run("--env", "prod", "--revision", "1"), "is dev, not prod")


def test_release_deploy_records_the_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prj = git_project(tmp_path / "project")
    state = tmp_path / "helm-state"
    use_fake_helm(prj, state)
    stub_lint(monkeypatch)
    first = release.run("prod", prj=prj, deploy=True)
    assert first.ok, first.summary()
    assert first.deployed == deploy.DeployResult(
        "keelson", "keelson", 1, "deployed", "keelson-0.1.0", "install"
    )
    record = json.loads((prj.root / "dist" / "releases" / "prod.json").read_text())
    assert record["deploy"]["revision"] == 1
    assert upgrade_call(state)[2].endswith("/packages/keelson-0.1.0.tgz")
    second = release.run("prod", prj=prj, deploy=True)
    assert second.ok, second.summary()
    assert second.deployed is not None
    assert (second.deployed.revision, second.deployed.action) == (2, "upgrade")
    assert json.loads((prj.root / "dist" / "releases" / "prod.json").read_text())["deploy"]["revision"] == 2
    assert "  deployed keelson revision 2 (deployed) in keelson" in second.summary()


def test_dry_run_and_deploy_do_not_go_together() -> None:
    done = invoke("release", "--env", "dev", "--dry-run", "--deploy")
    one_error_line(done, "--dry-run stops before publishing, so not with --deploy")
