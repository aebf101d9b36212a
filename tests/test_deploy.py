"""How deploy builds helm's command lines, against a fake helm that records its arguments and answers
with canned JSON: install/upgrade flags, the kube context, pending releases, the env guard.

Deploying, rolling back, the guard against the wrong cluster and preflight run on the real API
server in tests/test_operator_cluster.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from releasing import calls, use_fake_helm
from support import REPO, copy_project, invoke, one_error_line

from keelson import deploy
from keelson.kube import Target

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project


@pytest.fixture
def cluster(tmp_path: Path) -> tuple[Project, Path]:
    """A project copy whose helm is the fake one; the second item is the fake's state folder."""
    prj = copy_project(REPO, tmp_path / "project")
    state = tmp_path / "helm-state"
    use_fake_helm(prj, state)
    (state / "manifest.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keelson-x\n  namespace: keelson\n"
    )
    return prj, state


TARGET = Target("keelson-prod", "prod", "https://127.0.0.1:6443")


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
        prj, archive, {"global": {"env": "prod"}}, env="prod", target=TARGET, description="keelson prod 0.1.0"
    )
    assert result == deploy.DeployResult(
        "keelson",
        "keelson",
        1,
        "deployed",
        "keelson-0.1.0",
        "install",
        "keelson-prod",
        ("ConfigMap/keelson/keelson-x",),
    )
    args = upgrade_call(state)
    assert args[:3] == ["upgrade", "keelson", str(archive)]
    assert args[args.index("--kube-context") + 1] == "keelson-prod"
    for flag in ("--install", "--rollback-on-failure", "--wait", "--create-namespace"):
        assert flag in args
    assert "--atomic" not in args
    assert args[args.index("--namespace") + 1] == "keelson"
    assert args[args.index("--description") + 1] == "keelson prod 0.1.0"
    assert json.loads((state / "values.json").read_text()) == {"global": {"env": "prod"}}


def test_helm_3_gets_atomic(cluster: tuple[Project, Path], tmp_path: Path) -> None:
    prj, state = cluster
    (state / "version.json").write_text(json.dumps("v3.22.0"))
    deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod", target=TARGET)
    args = upgrade_call(state)
    assert "--atomic" in args
    assert "--rollback-on-failure" not in args


@pytest.mark.parametrize("status", ["pending-install", "pending-upgrade", "pending-rollback"])
def test_a_pending_release_is_refused(cluster: tuple[Project, Path], tmp_path: Path, status: str) -> None:
    prj, state = cluster
    history(state, "superseded", status)
    with pytest.raises(deploy.DeployError, match=f"is {status} at revision 2"):
        deploy.guard(prj, "prod", TARGET, cluster_of_env="prod")
    with pytest.raises(deploy.DeployError, match=f"is {status} at revision 2"):
        deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod", target=TARGET)
    assert not [args for args in calls(state) if args[0] == "upgrade"]


def test_a_release_of_another_env_is_refused(cluster: tuple[Project, Path]) -> None:
    prj, state = cluster
    history(state, "deployed")
    (state / "values.json").write_text(json.dumps({"global": {"env": "staging"}}))
    with pytest.raises(deploy.DeployError, match="is staging, not prod; pass --kube-context"):
        deploy.guard(prj, "prod", TARGET, cluster_of_env="prod")


def test_a_failed_upgrade_is_one_error(cluster: tuple[Project, Path], tmp_path: Path) -> None:
    prj, state = cluster
    (state / "fail.json").write_text("true")
    with pytest.raises(deploy.DeployError, match="UPGRADE FAILED: context deadline exceeded"):
        deploy.upgrade(prj, tmp_path / "chart.tgz", {}, env="prod", target=TARGET)


def test_rollback_arguments(cluster: tuple[Project, Path]) -> None:
    prj, state = cluster
    history(state, "superseded", "deployed")
    (state / "values.json").write_text(json.dumps({"global": {"env": "prod"}}))
    result = deploy.rollback(prj, env="prod", target=TARGET, cluster_of_env="prod", revision=1)
    assert (result.revision, result.action) == (3, "rollback")
    (rollback,) = [args for args in calls(state) if args[0] == "rollback"]
    assert rollback[:3] == ["rollback", "keelson", "1"]
    assert "--wait" in rollback
    assert rollback[rollback.index("--namespace") + 1] == "keelson"
    assert rollback[rollback.index("--kube-context") + 1] == "keelson-prod"


def test_rollback_refusals(cluster: tuple[Project, Path]) -> None:
    prj, state = cluster

    def refused(match: str, revision: int | None = None) -> None:
        with pytest.raises(deploy.DeployError, match=match):
            deploy.rollback(prj, env="prod", target=TARGET, cluster_of_env="prod", revision=revision)

    refused("release keelson is not installed in namespace keelson of kube context keelson-prod")
    history(state, "deployed")
    (state / "values.json").write_text(json.dumps({"global": {"env": "prod"}}))
    refused("has only revision 1: nothing to roll back to")
    refused("--revision 7: release keelson has revisions 1", revision=7)
    (state / "values.json").write_text(json.dumps({"global": {"env": "dev"}}))
    refused("is dev, not prod", revision=1)


def test_rollback_revision_must_be_a_number() -> None:
    one_error_line(
        invoke("rollback", "--env", "prod", "--revision", "two"),
        '--revision "two": must be a revision number',
    )


def test_dry_run_and_deploy_do_not_go_together() -> None:
    done = invoke("release", "--env", "dev", "--dry-run", "--deploy")
    one_error_line(done, "--dry-run stops before publishing, so not with --deploy")


def test_a_kube_context_needs_deploy() -> None:
    one_error_line(
        invoke("release", "--env", "dev", "--kube-context", "x"), "--kube-context goes with --deploy"
    )
