"""The local control plane's parts that need no cluster: processes, the cluster's objects, bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support import copy_project, invoke, one_error_line

from keelson import cluster as local_cluster
from keelson import clusterspec, daemons
from keelson.errors import ClusterError, ToolError, UsageError

SLEEP = Path(shutil.which("sleep") or "/bin/sleep")
KWOK_SHARE = Path(__file__).resolve().parent.parent / ".tools" / "share" / "kwok"


def test_stop_ends_the_process_it_started(tmp_path: Path) -> None:
    daemon = daemons.start("sleeper", SLEEP, ["300"], tmp_path / "sleeper.log", tmp_path)
    assert daemons.alive(daemon)
    assert daemons.stop(daemon) is True
    assert not daemons.alive(daemon)
    assert daemons.stop(daemon) is False  # already gone: nothing to do


def test_stop_spares_a_process_that_is_not_the_recorded_one(tmp_path: Path) -> None:
    """A pid reused by another program, or the same program started later, is never signalled."""
    bystander = subprocess.Popen([str(SLEEP), "300"])
    try:
        # Popen returns during execve, before the kernel has put the new command line in place.
        for _ in range(500):
            if Path(f"/proc/{bystander.pid}/cmdline").read_bytes().startswith(bytes(SLEEP)):
                break
            time.sleep(0.01)
        stat = Path(f"/proc/{bystander.pid}/stat").read_text(encoding="utf-8")
        started = int(stat[stat.rindex(")") + 2 :].split()[19])
        log = str(tmp_path / "log")
        itself = daemons.Daemon("sleeper", bystander.pid, str(SLEEP), started, log)
        other_program = daemons.Daemon("etcd", bystander.pid, "/usr/bin/etcd", started, log)
        other_start = daemons.Daemon("sleeper", bystander.pid, str(SLEEP), started + 1, log)
        assert daemons.alive(itself)  # the record that does match, so the two below differ in one field
        assert daemons.stop(other_program) is False
        assert daemons.stop(other_start) is False
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_waiting_on_a_program_that_exits_names_it_and_its_last_log_lines(tmp_path: Path) -> None:
    script = "import sys; print('listening'); print('fatal: port in use', file=sys.stderr); sys.exit(3)"
    daemon = daemons.start("etcd", Path(sys.executable), ["-c", script], tmp_path / "etcd.log", tmp_path)
    with pytest.raises(ClusterError) as caught:
        daemons.wait_until(daemon, lambda: False, 30)
    assert caught.value.message.startswith(f"etcd exited ({tmp_path / 'etcd.log'}): ")
    assert caught.value.message.endswith("listening | fatal: port in use")


def test_waiting_gives_up_after_its_deadline(tmp_path: Path) -> None:
    daemon = daemons.start("kwok", SLEEP, ["300"], tmp_path / "kwok.log", tmp_path)
    try:
        with pytest.raises(ClusterError, match=r"^kwok not ready after 0s \(.*kwok.log\): empty log$"):
            daemons.wait_until(daemon, lambda: False, 0.3)
    finally:
        daemons.stop(daemon)


def test_nodes_have_their_own_hostname_and_zone_and_declare_every_resource() -> None:
    nodes = clusterspec.nodes()
    labels = [node["metadata"]["labels"] for node in nodes]
    assert [label["kubernetes.io/hostname"] for label in labels] == [
        "kwok-node-a",
        "kwok-node-b",
        "kwok-node-c",
    ]
    assert [label["topology.kubernetes.io/zone"] for label in labels] == ["a", "b", "c"]
    for node in nodes:
        assert node["metadata"]["name"] == node["metadata"]["labels"]["kubernetes.io/hostname"]
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        for key in ("capacity", "allocatable"):
            assert set(node["status"][key]) == {"cpu", "memory", "pods", "ephemeral-storage"}


def test_the_storage_class_is_the_default_and_provisioned_by_the_controller_manager() -> None:
    storage = clusterspec.storage_class()
    assert storage["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage["provisioner"] == "kubernetes.io/host-path"
    assert storage["reclaimPolicy"] == "Delete"


def test_kwok_config_sets_every_parallelism_option_and_the_stages() -> None:
    if not KWOK_SHARE.is_dir():
        pytest.fail(f"{KWOK_SHARE} is missing; run scripts/bootstrap --test")
    documents = list(yaml.safe_load_all(clusterspec.kwok_config(KWOK_SHARE, 4321)))
    options = documents[0]["options"]
    for key in (
        "podPlayStageParallelism",
        "nodePlayStageParallelism",
        "nodeLeaseParallelism",
        "podsOnNodeSyncParallelism",
    ):
        assert options[key] > 0, key
    assert options["serverAddress"] == "127.0.0.1:4321"
    assert options["manageAllNodes"] is False
    assert [d["metadata"]["name"] for d in documents[1:]] == [name for _, name in clusterspec.STAGES]
    assert {d["kind"] for d in documents[1:]} == {"Stage"}


def test_missing_kwok_stages_are_named(tmp_path: Path) -> None:
    stage = "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: {}\n"
    (tmp_path / "node" / "fast").mkdir(parents=True)
    (tmp_path / "node" / "fast" / "node-initialize.yaml").write_text(stage.format("node-initialize"))
    # The same name in another profile (kwok's pod/general has slow stages named like pod/fast's).
    (tmp_path / "pod" / "general").mkdir(parents=True)
    (tmp_path / "pod" / "general" / "pod-ready.yaml").write_text(stage.format("pod-ready"))
    with pytest.raises(ToolError) as caught:
        clusterspec.stage_documents(tmp_path)
    assert caught.value.message == (
        "kwok stages node/heartbeat-with-lease/node-heartbeat-with-lease, pod/fast/pod-ready, "
        f"pod/fast/pod-complete, pod/fast/pod-delete not found in {tmp_path}; run scripts/bootstrap --test"
    )


@pytest.mark.parametrize("name", ["Prod", "-dev", "dev_1", "a" * 41, ""])
def test_a_bad_cluster_name_is_refused_without_echoing_it(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        local_cluster.check_name(name)
    assert caught.value.message.startswith("--name: not a cluster name (allowed: lower-case letters")
    assert not name or name not in caught.value.message


def test_cluster_up_without_the_control_plane_binaries_says_how_to_get_them(tmp_path: Path) -> None:
    prj = copy_project(Path(__file__).resolve().parent.parent, tmp_path / "clone")
    # A clone whose tools lack the test profile: the main tools only.
    (prj.root / ".tools").unlink()
    (prj.root / ".tools" / "bin").mkdir(parents=True)
    for tool in ("helm", "kubeconform"):
        (prj.root / ".tools" / "bin" / tool).symlink_to(
            Path(__file__).resolve().parent.parent / ".tools" / "bin" / tool
        )
    done = invoke("cluster-up", root=prj.root)
    one_error_line(done, "etcd not found in .tools/bin; run scripts/bootstrap --test")
    assert not (prj.root / ".cluster").exists()
