"""The upstream programs judge the rendered configs: each program's own validation, run on its config.

The configs come from the rendered ConfigMaps, and the command line from the rendered workload
(its container args, with the config file moved to a scratch folder), so what is checked is what
would run. scripts/bootstrap builds the programs from their pinned module source (scripts/pins.txt):

- Alloy: ``alloy-fmt fmt FILE``: Alloy's own parser and printer (``alloy fmt``); the printed file must
  match the input token for token. Every component block must be one Alloy registers
  (``all.go`` of the pinned release) and every reference must name a declared component.

Tempo (like Loki, Mimir and Pyroscope, an AGPL-3.0 program that is never built here) is judged by its
config model in keelson/configmodels instead.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    "alloy-agent": Workload(
        "alloy-fmt", f"{RELEASE}-alloy-agent", "config.alloy", "DaemonSet", f"{RELEASE}-alloy-agent", "alloy"
    ),
    "alloy-gateway": Workload(
        "alloy-fmt",
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

_COMPONENT_IMPORT = re.compile(r"//\s*Import\s+([a-z0-9_]+(?:\.[a-z0-9_]+)+)")
_STRINGS_AND_COMMENTS = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`|//[^\n]*|/\*.*?\*/', re.DOTALL)
_BLOCK = re.compile(r'^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)\s+"([^"]+)"\s*\{', re.MULTILINE)
_DOTTED = re.compile(r"\b[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*){2,}\b")


def registered_components(all_go: str) -> set[str]:
    """Component names from Alloy's internal/component/all/all.go (``// Import x.y.z`` comments)."""
    return set(_COMPONENT_IMPORT.findall(all_go))


def alloy_graph_problems(text: str, components: set[str]) -> list[str]:
    """Unregistered component blocks and references to components the file does not declare."""
    declared = {(name, label) for name, label in _BLOCK.findall(text)}
    problems = [
        f'{name} "{label}": {name} is not a component of this Alloy release'
        for name, label in sorted(declared)
        if name not in components
    ]
    code = _STRINGS_AND_COMMENTS.sub('""', text)
    for match in _DOTTED.finditer(code):
        parts = match.group(0).split(".")
        for cut in range(len(parts) - 1, 1, -1):
            name = ".".join(parts[:cut])
            if name in components:
                if (name, parts[cut]) not in declared:
                    problems.append(
                        f'{match.group(0)} refers to {name} "{parts[cut]}", which is not declared'
                    )
                break
    return problems


def _tokens(text: str) -> list[str]:
    return text.split()


def check_alloy(
    prj: Project, objects: Sequence[Object], config: str, workdir: Path, text: str | None = None
) -> Verdict:
    """``alloy fmt`` (Alloy's parser and printer) plus the component and reference checks."""
    binary = prj.tool("alloy-fmt")
    source = config_text(objects, config) if text is None else text
    path = workdir / f"{config}.alloy"
    path.write_text(source, encoding="utf-8")
    status, output = _run((str(binary), "fmt", str(path)))
    command = ("alloy-fmt", "fmt", path.name)
    if status != 0:
        return Verdict(config, False, command, output)
    problems: list[str] = []
    # The printer indents with tabs and packs inline objects; anything else it changed is a finding.
    if "".join(_tokens(output)) != "".join(_tokens(source)):
        problems.append("alloy fmt printed something else than the input (beyond whitespace)")
    all_go = prj.root / ".tools" / "share" / "alloy-fmt" / "all.go"
    if not all_go.is_file():
        problems.append(f"{prj.display(all_go)} is missing; run scripts/bootstrap")
    else:
        problems += alloy_graph_problems(source, registered_components(all_go.read_text(encoding="utf-8")))
    return Verdict(config, not problems, command, "\n".join(problems))
