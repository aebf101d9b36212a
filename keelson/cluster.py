"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

``up`` starts the five pinned programs on 127.0.0.1 (free ports, picked at start), with
certificates made for the occasion, RBAC, the API server's default admission plugins (PodSecurity
among them), service-account token signing, three kwok nodes in zones a/b/c and a default
StorageClass whose claims the controller-manager provisions and binds. ``down`` stops exactly the
processes ``up`` started and removes the state. Everything lives in ``.cluster/`` (git-ignored):

    .cluster/state.json   name, ports and each process (pid, program, start time, log)
    .cluster/kubeconfig   cluster <name>, context keelson-<name>, an administrator's certificate
    .cluster/pki/ logs/ etcd/   certificates, one log per program, etcd's data

``up`` and ``down`` hold an flock on the project folder, so parallel test workers and a user's
terminal never start two clusters or stop one that is being started.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keelson import clusterpki, clusterspec, daemons
from keelson.errors import ClusterError, ToolError, UsageError
from keelson.kubeapi import Endpoint, plain_ok

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from keelson.project import Project

PROGRAMS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# Seconds each program gets to become healthy: generous, because the machine may be busy.
READY_SECONDS = {
    "etcd": 60.0,
    "kube-apiserver": 180.0,
    "kube-controller-manager": 90.0,
    "kube-scheduler": 90.0,
    "kwok": 90.0,
}
NODES_READY_SECONDS = 120.0
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")


@dataclass
class ComponentResult:
    name: str
    seconds: float
    detail: str


@dataclass
class UpReport:
    name: str
    kubeconfig: Path
    already_running: bool
    components: list[ComponentResult] = field(default_factory=list)


@dataclass
class State:
    name: str
    ports: dict[str, int]
    daemons: list[daemons.Daemon]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ports": self.ports, "daemons": [d.to_json() for d in self.daemons]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(
            str(data["name"]),
            {str(k): int(v) for k, v in dict(data["ports"]).items()},
            [daemons.Daemon.from_json(item) for item in data["daemons"]],
        )


def state_dir(prj: Project) -> Path:
    return prj.root / ".cluster"


def kubeconfig_path(prj: Project) -> Path:
    return state_dir(prj) / "kubeconfig"


def _state_file(prj: Project) -> Path:
    return state_dir(prj) / "state.json"


@contextmanager
def lock(prj: Project) -> Iterator[None]:
    """An exclusive flock on the project folder (no lock file is left behind)."""
    fd = os.open(prj.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_state(prj: Project) -> State | None:
    try:
        return State.from_json(json.loads(_state_file(prj).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError(
            f"{prj.display(_state_file(prj))}: unreadable ({exc});"
            " stop the programs it names by hand and remove .cluster/"
        ) from exc


def _write_state(prj: Project, state: State) -> None:
    path = _state_file(prj)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _api(prj: Project, state: State) -> Endpoint:
    pki = clusterpki.Pki(state_dir(prj) / "pki")
    return Endpoint(
        f"https://127.0.0.1:{state.ports['kube-apiserver']}",
        pki.ca_cert,
        pki.client_cert(clusterpki.ADMIN),
        pki.client_key(clusterpki.ADMIN),
    )


def ready_nodes(api: Endpoint) -> list[str]:
    """Names of the kwok nodes whose Ready condition is True."""
    listing = api.get_json("/api/v1/nodes") or {}
    names = []
    for item in listing.get("items") or []:
        conditions = (item.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            names.append(str(item["metadata"]["name"]))
    return sorted(name for name in names if name in clusterspec.NODE_NAMES)


def healthy(prj: Project, state: State) -> bool:
    """Every process still runs, the API server is ready and all three nodes are Ready."""
    if not all(daemons.alive(daemon) for daemon in state.daemons):
        return False
    api = _api(prj, state)
    return api.ok("/readyz") and len(ready_nodes(api)) == len(clusterspec.NODE_NAMES)


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _programs(prj: Project) -> dict[str, Path]:
    found = {}
    for name in PROGRAMS:
        try:
            found[name] = prj.tool(name)
        except ToolError:
            raise ToolError(f"{name} not found in .tools/bin; run scripts/bootstrap --test") from None
    return found


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            "--name: not a cluster name (allowed: lower-case letters, digits and '-', 1 to 40 characters,"
            " starting and ending with a letter or digit)"
        )
    return name


def up(prj: Project, name: str = "dev") -> UpReport:
    """Start the cluster, or leave a healthy one as it is (an unhealthy one is replaced)."""
    check_name(name)
    programs = _programs(prj)
    share = prj.root / ".tools" / "share" / "kwok"
    clusterspec.stage_documents(share)  # fail before starting anything when the stages are missing
    with lock(prj):
        state = read_state(prj)
        if state is not None and healthy(prj, state):
            if state.name != name:
                raise UsageError(
                    f"--name: a cluster named {state.name} is already running from .cluster/;"
                    " run invoke cluster-down first"
                )
            return UpReport(name, kubeconfig_path(prj), already_running=True)
        _stop_and_remove(prj)
        return _start(prj, name, programs, share)


def _start(prj: Project, name: str, programs: dict[str, Path], share: Path) -> UpReport:
    folder = state_dir(prj)
    folder.mkdir(mode=0o700)
    report = UpReport(name, kubeconfig_path(prj), already_running=False)
    clock = time.monotonic()
    pki = clusterpki.make(folder / "pki")
    report.components.append(
        ComponentResult("certificates", time.monotonic() - clock, "CA, serving and 4 clients")
    )
    ports = {program: daemons.free_port() for program in PROGRAMS} | {"etcd-peer": daemons.free_port()}
    server = f"https://127.0.0.1:{ports['kube-apiserver']}"
    _write_private(report.kubeconfig, clusterpki.kubeconfig(name, server, pki, clusterpki.ADMIN))
    for component, identity in (
        ("kube-controller-manager", clusterpki.CONTROLLER_MANAGER),
        ("kube-scheduler", clusterpki.SCHEDULER),
        ("kwok", clusterpki.KWOK),
    ):
        _write_private(folder / f"{component}.kubeconfig", clusterpki.kubeconfig(name, server, pki, identity))
    (folder / "kwok.yaml").write_text(clusterspec.kwok_config(share, ports["kwok"]), encoding="utf-8")
    arguments = clusterspec.arguments(folder, ports, pki)
    state = State(name, ports, [])
    api = Endpoint(server, pki.ca_cert, pki.client_cert(clusterpki.ADMIN), pki.client_key(clusterpki.ADMIN))

    def launch(program: str) -> tuple[daemons.Daemon, float]:
        daemon = daemons.start(
            program, programs[program], arguments[program], folder / "logs" / f"{program}.log", folder
        )
        state.daemons.append(daemon)
        _write_state(prj, state)  # recorded at once, so a failure later still stops it
        return daemon, time.monotonic()

    checks = {
        "etcd": lambda: plain_ok(f"http://127.0.0.1:{ports['etcd']}/health"),
        "kube-apiserver": lambda: api.ok("/readyz"),
        "kube-controller-manager": lambda: _serving(pki, ports["kube-controller-manager"]).ok("/healthz"),
        "kube-scheduler": lambda: _serving(pki, ports["kube-scheduler"]).ok("/healthz"),
        "kwok": lambda: plain_ok(f"http://127.0.0.1:{ports['kwok']}/healthz"),
    }
    try:
        for program in ("etcd", "kube-apiserver"):
            daemon, since = launch(program)
            daemons.wait_until(daemon, checks[program], READY_SECONDS[program])
            report.components.append(
                ComponentResult(program, time.monotonic() - since, f"127.0.0.1:{ports[program]}")
            )
        _create(api, clusterspec.storage_class())
        for node in clusterspec.nodes():
            _create(api, node)
        # The other three only talk to the API server: start them together, then wait for each.
        started = [launch(program) for program in ("kube-controller-manager", "kube-scheduler", "kwok")]
        for daemon, since in started:
            daemons.wait_until(daemon, checks[daemon.name], READY_SECONDS[daemon.name])
            report.components.append(
                ComponentResult(daemon.name, time.monotonic() - since, f"127.0.0.1:{ports[daemon.name]}")
            )
        kwok_daemon, since = started[-1]
        wanted = len(clusterspec.NODE_NAMES)
        daemons.wait_until(
            kwok_daemon,
            lambda: len(ready_nodes(api)) == wanted,
            NODES_READY_SECONDS,
            f"done: {wanted} nodes Ready",
        )
        report.components.append(
            ComponentResult("nodes", time.monotonic() - since, f"{', '.join(ready_nodes(api))} Ready")
        )
    except BaseException:
        # Leave the logs and certificates for a look; stop what runs and forget it.
        for daemon in reversed(state.daemons):
            daemons.stop(daemon)
        _state_file(prj).unlink(missing_ok=True)
        raise
    report.components.append(ComponentResult("cluster", time.monotonic() - clock, f"{name} ({server})"))
    return report


def _serving(pki: clusterpki.Pki, port: int) -> Endpoint:
    return Endpoint(f"https://127.0.0.1:{port}", pki.ca_cert)


_COLLECTIONS = {"Node": "/api/v1/nodes", "StorageClass": "/apis/storage.k8s.io/v1/storageclasses"}


def _create(api: Endpoint, obj: dict[str, Any]) -> None:
    status, text = api.request("POST", _COLLECTIONS[obj["kind"]], obj)
    if status not in {200, 201}:
        reason = " ".join(text.split())[:200]
        raise ClusterError(
            f"kube-apiserver refused {obj['kind']} {obj['metadata']['name']} ({status}): {reason}"
        )


def _stop_and_remove(prj: Project) -> list[str]:
    state = read_state(prj) if _state_file(prj).exists() else None
    stopped = [daemon.name for daemon in reversed(state.daemons) if daemons.stop(daemon)] if state else []
    shutil.rmtree(state_dir(prj), ignore_errors=True)
    return stopped


def down(prj: Project) -> list[str]:
    """Stop the processes ``up`` started (newest first) and remove ``.cluster/``; their names."""
    with lock(prj):
        return _stop_and_remove(prj)
