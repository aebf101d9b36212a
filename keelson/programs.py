"""The upstream programs judge the rendered configs: each program's own validation, run on its config.

The configs come from the rendered ConfigMaps, and the command line from the rendered workload
(its container args, with the config file moved to a scratch folder), so what is checked is what
would run. scripts/bootstrap builds the programs from their pinned module source (scripts/pins.txt):

- Alloy: Keelson's trimmed build of Alloy v1.18.0 (the components the charts use, nothing else):
  ``alloy validate FILE``, and the ``alloy run`` command line of the rendered workload, which
  tests/test_alloy.py starts on loopback.
- Tempo: the proxy serves no 2.x release, so no binary: every key of the config must be one of the
  keys of Tempo's configuration reference (a fixture with its source named).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from keelson.project import RELEASE

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

TIMEOUT = 120


@dataclass(frozen=True)
class Workload:
    """Where a program's config lives in the render and how the program is started."""

    program: str  # binary in .tools/bin
    configmap: str
    key: str
    kind: str
    name: str
    container: str


WORKLOADS: dict[str, Workload] = {
    "tempo": Workload("tempo", f"{RELEASE}-tempo", "tempo.yaml", "StatefulSet", f"{RELEASE}-tempo", "tempo"),
    "alloy-agent": Workload(
        "alloy", f"{RELEASE}-alloy-agent", "config.alloy", "DaemonSet", f"{RELEASE}-alloy-agent", "alloy"
    ),
    "alloy-gateway": Workload(
        "alloy",
        f"{RELEASE}-alloy-gateway",
        "config.alloy",
        "Deployment",
        f"{RELEASE}-alloy-gateway",
        "alloy",
    ),
}


@dataclass(frozen=True)
class Verdict:
    """One program's judgement of one config: the command run and what it said."""

    config: str
    ok: bool
    command: tuple[str, ...]
    output: str

    def __str__(self) -> str:
        status = "accepted" if self.ok else "REJECTED"
        return f"{self.config}: {status} by `{' '.join(self.command)}`\n{self.output}".rstrip()


def _one(objects: Iterable[Object], kind: str, name: str) -> Object:
    found = [o for o in objects if o.get("kind") == kind and o.get("metadata", {}).get("name") == name]
    if len(found) != 1:
        raise LookupError(f"expected one {kind}/{name} in the render, found {len(found)}")
    return found[0]


def config_text(objects: Sequence[Object], config: str) -> str:
    """The config file of ``config`` (a key of WORKLOADS) as rendered into its ConfigMap."""
    workload = WORKLOADS[config]
    text: str = _one(objects, "ConfigMap", workload.configmap)["data"][workload.key]
    return text


def _run(command: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


# --- Alloy ---------------------------------------------------------------------------------------


def container_args(objects: Sequence[Object], config: str) -> list[str]:
    """The rendered container's args of ``config``'s workload (``run /etc/alloy/config.alloy ...``)."""
    workload = WORKLOADS[config]
    pod = _one(objects, workload.kind, workload.name)["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == workload.container]
    return [str(arg) for arg in container.get("args", [])]


def alloy_run_command(
    prj: Project, objects: Sequence[Object], config: str, *, config_file: Path, storage: Path, listen: str
) -> list[str]:
    """``alloy run`` as the rendered workload starts it, with the config file, the storage path and
    the HTTP listen address (``host:port``) moved to the test's own: the other flags stay."""
    args = container_args(objects, config)
    if args[:1] != ["run"] or len(args) < 2:
        raise LookupError(f"{config}: the container does not run `alloy run FILE` (args {args})")
    moved = {"--server.http.listen-addr": listen, "--storage.path": str(storage)}
    flags = [
        f"{arg.split('=', 1)[0]}={moved[arg.split('=', 1)[0]]}" if arg.split("=", 1)[0] in moved else arg
        for arg in args[2:]
    ]
    missing = sorted(set(moved) - {arg.split("=", 1)[0] for arg in flags})
    if missing:
        raise LookupError(f"{config}: the container sets no {', '.join(missing)}")
    return [str(prj.tool("alloy")), "run", str(config_file), *flags]


def check_alloy(
    prj: Project, objects: Sequence[Object], config: str, workdir: Path, text: str | None = None
) -> Verdict:
    """``alloy validate``: Alloy parses the file, resolves every component against the ones this
    build registers and every reference between them. Argument checks that only run when a
    component is built (a batch bound below the batch size) need ``alloy run`` (tests/test_alloy.py)."""
    binary = prj.tool("alloy")
    path = workdir / f"{config}.alloy"
    path.write_text(config_text(objects, config) if text is None else text, encoding="utf-8")
    status, output = _run((str(binary), "validate", str(path)))
    return Verdict(config, status == 0, ("alloy", "validate", path.name), output)


# --- Tempo: key list -------------------------------------------------------------------------------


def key_paths(value: Any, prefix: str = "") -> list[str]:
    """Leaf key paths of a decoded YAML document: ``a.b``, ``a.list[].c``; scalar lists are leaves."""
    if isinstance(value, dict):
        if not value and prefix:
            return [prefix]
        paths: list[str] = []
        for key, item in value.items():
            paths += key_paths(item, f"{prefix}.{key}" if prefix else str(key))
        return paths
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return sorted({p for item in value for p in key_paths(item, f"{prefix}[]")})
    return [prefix]


def load_key_list(text: str) -> list[str]:
    """A key list fixture: one dotted path a line (``*`` matches one key), ``#`` comments."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _matches(path: str, pattern: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", r"[^.\[\]]+")
    # A pattern ending in ``.*`` is an open map: any key below it, at any depth.
    if pattern.endswith(".*"):
        regex = regex.removesuffix(r"[^.\[\]]+") + r".+"
    return re.fullmatch(regex, path) is not None


def unknown_keys(config: str, known: Sequence[str]) -> list[str]:
    """Leaf paths of the YAML ``config`` that no entry of ``known`` allows."""
    document = yaml.safe_load(config) or {}
    return [path for path in key_paths(document) if not any(_matches(path, k) for k in known)]
