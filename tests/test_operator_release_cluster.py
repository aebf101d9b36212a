"""The operator's and the release engineer's commands on the local control plane, in the release
namespace ``keelson`` (one test at a time): the README's blocks verbatim from a fresh clone, preflight
and a prod install with none of its Secrets, the env guard, ``invoke release --env dev --deploy``, a
config change rolling the pods, ``invoke diff --against cluster`` and ``invoke rollback``."""

from __future__ import annotations

import json
import re
import subprocess
from typing import TYPE_CHECKING, Any

import yaml
from operator_support import (
    alias_kubeconfig,
    provision,
    release_namespace,
    remove_cluster_prerequisites,
    workloads_ready,
)
from releasing import git_project
from support import REPO, invoke, one_error_line

from keelson import kube, preflight, release, values

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from cluster_plugin import LocalCluster

    from keelson.project import Project


def readme_block(marker: str) -> list[str]:
    """The lines of the fenced block that follows ``<!-- operator:<marker> -->`` in README.md."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- operator:{marker} -->\n```sh\n(.*?)```", readme, re.S)
    assert match, f"README.md has no operator:{marker} block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def first_json(text: str) -> dict[str, Any]:
    """The JSON report of ``--json``; the findings after the first follow it, one a line."""
    report: dict[str, Any] = json.JSONDecoder().raw_decode(text)[0]
    return report


def run_lines(lines: list[str], cwd: Path, cluster: LocalCluster) -> None:
    """Each line exactly as written, in a shell, as an operator pastes it."""
    for line in lines:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=cwd,
            env=cluster.env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"


def test_prod_from_the_readme_on_a_fresh_clone_after_preflight(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(tmp_path / "clone")], check=True)
    kubeconfig = alias_kubeconfig(cluster, tmp_path, "prod")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with release_namespace(cluster), cluster.nodes():
        try:
            run_lines(readme_block("namespace"), tmp_path / "clone", cluster)
            labels = cluster.get("namespace", "keelson")[0]["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

            # None of prod's Secrets exist: preflight names each, one line a thing, and exits 1.
            checked = invoke("preflight", "--env", "prod", "--kube-context", "keelson-prod")
            assert checked.returncode == 1, checked.stdout + checked.stderr
            listed = checked.stdout + checked.stderr
            for secret in ("keelson-object-storage", "keelson-grafana-admin", "keelson-grafana-db"):
                assert f"Secret keelson/{secret} with keys" in listed
            assert "ClusterIssuer letsencrypt-prod: cert-manager is not installed" in listed
            assert "IngressClass nginx is missing" in listed
            assert "not checked (outside the cluster): Bucket keelson-prod-loki" in listed

            # A prod release with --deploy stops there, before helm runs.
            released = invoke(
                "release", "--env", "prod", "--deploy", "--kube-context", "keelson-prod", "--json"
            )
            report = first_json(released.stdout)
            assert [stage["stage"] for stage in report["stages"]] == ["target", "prerequisites"]
            assert report["failedStage"] == "prerequisites"
            history = cluster.helm("history", "keelson", "-n", "keelson", check=False)
            assert "not found" in history.stderr

            target = kube.resolve(cluster.prj, "keelson-prod")
            provision(cluster, preflight.run(cluster.prj, "prod", target=target).needs)
            ready = invoke("preflight", "--env", "prod", "--kube-context", "keelson-prod")
            assert ready.returncode == 0, ready.stdout + ready.stderr

            run_lines(readme_block("install"), tmp_path / "clone", cluster)
            status = json.loads(cluster.helm("status", "keelson", "-n", "keelson", "-o", "json").stdout)
            assert status["info"]["status"] == "deployed"
            states = workloads_ready(cluster, "keelson")
            assert states["Deployment/keelson-app-backend"] == "3/3"
            assert states["Deployment/keelson-alloy-gateway"] == "2/2"
        finally:
            remove_cluster_prerequisites(cluster)


def deploy_record(prj_root: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((prj_root / "dist" / "releases" / "dev.json").read_text())
    return record


def backend_replica_sets(cluster: LocalCluster) -> dict[str, int]:
    found = cluster.get("replicasets", "-n", "keelson", "-l", "app.kubernetes.io/component=backend")
    return {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in found}


def test_release_deploy_diff_config_roll_and_rollback_dev(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = git_project(tmp_path / "project")
    kubeconfig = alias_kubeconfig(cluster, tmp_path, "prod")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return invoke(*args, cwd=prj.root, root=prj.root)

    with release_namespace(cluster), cluster.nodes():
        # The env guard answers first: a context of another cluster is refused before anything runs.
        wrong = run("release", "--env", "dev", "--deploy", "--kube-context", "keelson-prod", "--json")
        refused = first_json(wrong.stdout)
        assert [stage["stage"] for stage in refused["stages"]] == ["target"]
        assert "dev deploys to cluster dev" in refused["error"]

        # What "Before you install" asks of dev: the namespace and the IngressClass.
        cluster.create_namespace("keelson")
        provision(cluster, preflight.run(prj, "dev", target=kube.resolve(prj, "keelson-dev")).needs)
        first = run("release", "--env", "dev", "--deploy")
        assert first.returncode == 0, first.stdout + first.stderr
        record = deploy_record(prj.root)
        manifest = cluster.helm("get", "manifest", "keelson", "-n", "keelson").stdout
        installed = [doc for doc in yaml.safe_load_all(manifest) if doc]
        # What helm installed, not the render with every optional API (no Prometheus Operator here).
        assert record["objects"] == record["deploy"]["objects"] == len(installed)
        assert not {"ServiceMonitor", "PrometheusRule"} & {doc["kind"] for doc in installed}
        assert record["deploy"]["context"] == "keelson-dev"
        same = run("diff", "--env", "dev", "--against", "cluster", "--exit-code")
        assert same.returncode == 0, same.stdout + same.stderr

        # Another env's rollback is refused; so is one on another cluster.
        one_error_line(run("rollback", "--env", "prod"), "prod deploys to cluster prod")
        one_error_line(
            run("rollback", "--env", "dev", "--kube-context", "keelson-prod"), "dev deploys to cluster dev"
        )

        before = backend_replica_sets(cluster)
        (old_set,) = before
        overlay = tmp_path / "log-level.yaml"
        overlay.write_text(
            yaml.safe_dump({"app": {"components": {"backend": {"config": {"LOG_LEVEL": "warn"}}}}})
        )
        second = run("release", "--env", "dev", "--deploy", "--values", str(overlay))
        assert second.returncode == 0, second.stdout + second.stderr
        rolled = backend_replica_sets(cluster)
        (new_set,) = [name for name in rolled if name != old_set]
        assert (rolled[old_set], rolled[new_set]) == (0, 1), "the checksum annotation rolled the pods"
        changed = run("diff", "--env", "dev", "--against", "cluster", "--exit-code")
        assert changed.returncode == 2
        assert "LOG_LEVEL" in changed.stdout

        back = run("rollback", "--env", "dev")
        assert back.returncode == 0, back.stdout + back.stderr
        assert "keelson is at revision 3 (deployed" in back.stdout
        restored = backend_replica_sets(cluster)
        assert (restored[old_set], restored[new_set]) == (1, 0), "rollback brings the old ReplicaSet back"

        assert values_loaded_by_a_deploy(prj, overlay, monkeypatch) == ["dev"]
        remove_cluster_prerequisites(cluster)


def values_loaded_by_a_deploy(prj: Project, overlay: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The envs whose values one deploy release of dev loads: one pass means its env guard loads
    them once, for prerequisites, check, lint, package and the record alike."""
    loaded: list[str] = []
    real_load = values.load

    def counting_load(env: str, *args: Any, **kwargs: Any) -> values.MergedValues:
        loaded.append(env)
        return real_load(env, *args, **kwargs)

    monkeypatch.setattr("keelson.values.load", counting_load)
    report = release.run("dev", prj=prj, overlays=[overlay], deploy=True, kube_context="keelson-dev")
    assert report.ok, [str(finding) for finding in report.findings]
    assert [stage.stage for stage in report.stages][:3] == ["target", "prerequisites", "preflight"]
    assert report.deployed is not None
    return loaded
