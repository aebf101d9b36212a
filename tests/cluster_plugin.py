"""The local control plane for tests: the ``cluster`` fixture, one cluster per test run.

The first test that asks for ``cluster`` starts it (``keelson.cluster.up``, under its flock, so
pytest-xdist workers racing for it start one cluster between them); the run that started it
writes its run id into ``.cluster/started-by`` and the controlling process stops it in
``pytest_sessionfinish``, which xdist runs after every worker is done. A cluster that was already
running (``invoke cluster-up`` in a terminal) is used and left running.

Every test using ``cluster`` carries the ``cluster`` mark (``-m cluster`` selects them, ``-m "not
cluster"`` leaves them out). Missing binaries fail the test with ``run scripts/bootstrap --test``.
``namespace`` gives each test its own namespace under the restricted Pod Security Standard;
``cluster.shared(key, make)`` runs ``make`` once per run across workers (an install tests share);
``cluster.nodes(exclusive=True)`` keeps node drains away from installs and placement checks.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any

import pytest
from support import REPO

from keelson import cluster as local_cluster
from keelson.errors import KeelsonError
from keelson.project import Project, project

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

RUN_ID = "KEELSON_TEST_RUN"
COMMAND_SECONDS = 600
# Pod Security: the project's pods must pass the restricted profile, so that is what a test
# namespace enforces (and warns and audits on).
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
_namespaces = count()


def run_id() -> str:
    return os.environ[RUN_ID]


@dataclass(frozen=True)
class LocalCluster:
    prj: Project
    name: str
    kubeconfig: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PATH": self.prj.path_env()}

    def run(
        self,
        tool: str,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        """The pinned ``tool`` (kubectl, helm) against this cluster; ``check`` fails the test on an error."""
        done = subprocess.run(
            [str(self.prj.tool(tool)), *args],
            input=stdin,
            env=self.env(),
            cwd=self.prj.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"{tool} {' '.join(args)} exited {done.returncode}:\n{done.stderr}{done.stdout}")
        return done

    def kubectl(self, *args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, **options)

    def helm(self, *args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return self.run("helm", *args, **options)

    def get(self, *args: str) -> list[dict[str, Any]]:
        """``kubectl get ARGS -o json``: the items (one object comes back as a list of one)."""
        loaded = json.loads(self.kubectl("get", *args, "-o", "json").stdout)
        return list(loaded["items"]) if loaded.get("kind", "").endswith("List") else [loaded]

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        labels = RESTRICTED if labels is None else labels
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
        # Pods are refused until the controller-manager has made the namespace's default account.
        self.kubectl("wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s")
        return name

    @contextmanager
    def _flock(self, name: str, exclusive: bool) -> Iterator[None]:
        folder = local_cluster.state_dir(self.prj) / "tests"
        folder.mkdir(exist_ok=True)
        with (folder / f"{name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield

    def shared(self, key: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``make()`` once per test run, whichever worker asks first; every caller gets its result."""
        record = local_cluster.state_dir(self.prj) / "tests" / f"{key}.json"
        with self._flock(key, exclusive=True):
            if record.exists():
                saved: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
                if saved.get("run") == run_id():
                    return dict(saved["result"])
            result = make()
            record.write_text(json.dumps({"run": run_id(), "result": result}), encoding="utf-8")
            return result

    @contextmanager
    def nodes(self, exclusive: bool = False) -> Iterator[None]:
        """Shared: pods must stay where they are. Exclusive: this test cordons or drains nodes."""
        with self._flock("nodes", exclusive):
            yield


def _owner_file(prj: Project) -> Path:
    return local_cluster.state_dir(prj) / "started-by"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: runs on the local control plane (keelson.cluster)")
    # The controller picks the run id; xdist workers inherit it through the environment.
    os.environ.setdefault(RUN_ID, uuid.uuid4().hex[:8])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: other workers may still use the cluster; the controller stops it
    prj = project(REPO)
    owner = _owner_file(prj)
    if owner.exists() and owner.read_text(encoding="utf-8").strip() == run_id():
        local_cluster.down(prj)


@pytest.fixture(scope="session")
def cluster() -> LocalCluster:
    prj = project(REPO)
    running = local_cluster.read_state(prj)
    try:
        # A cluster already running under another name (invoke cluster-up --name N) is used as it is.
        report = local_cluster.up(prj, running.name if running else "dev")
    except KeelsonError as exc:
        pytest.fail(f"the local control plane did not start: {exc.message}", pytrace=False)
    if not report.already_running:
        _owner_file(prj).write_text(run_id() + "\n", encoding="utf-8")
    return LocalCluster(prj, report.name, report.kubeconfig)


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    """A fresh namespace enforcing the restricted Pod Security Standard, deleted after the test."""
    name = cluster.create_namespace(f"t-{run_id()}-{os.getpid()}-{next(_namespaces)}")
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
