"""Outside scanners over a rendered manifest: checkov (Kubernetes framework), kube-score, kube-linter.

They cross-check the gates with other people's rules. Each returns its failed checks after the
skips in ``gates/scanner-skips.yaml`` (one file, a reason per skipped check). A skip without
``objects`` is handed to the scanner (the check does not run); one with ``objects`` (globs over
``Kind/namespace/name``) drops only those objects' failures. The binaries are the pinned ones in
.tools/bin (scripts/bootstrap); a missing one raises ToolError. Nothing here reaches the network:
checkov runs with ``--skip-download``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keelson.errors import ToolError, ValuesError
from keelson.project import KUBE_VERSIONS, Project, project
from keelson.yamlio import load_mapping

SCANNERS = ("checkov", "kube-score", "kube-linter")
SKIPS_FILE = Path("gates") / "scanner-skips.yaml"
TIMEOUT = 600


@dataclass(frozen=True)
class Skip:
    check: str
    reason: str
    objects: tuple[str, ...] = ()  # globs over Kind/namespace/name; () = everywhere

    def covers(self, failure: Failure) -> bool:
        return failure.check == self.check and any(
            fnmatch.fnmatchcase(failure.subject, o) for o in self.objects
        )


@dataclass(frozen=True)
class Failure:
    scanner: str
    check: str
    subject: str  # Kind/namespace/name, as the gates and the waivers name objects
    message: str

    def __str__(self) -> str:
        return f"{self.scanner}: {self.check} {self.subject}: {self.message}"


@dataclass(frozen=True)
class ScanResult:
    scanner: str
    failures: tuple[Failure, ...]
    passed: int  # checks that passed (checkov and kube-score count them; kube-linter does not say)
    skipped: tuple[Failure, ...] = ()  # failures that a per-object skip covers


def _skip(where: str, entry: Any) -> Skip:
    if not isinstance(entry, Mapping) or not {"check", "reason"} <= set(entry) <= {
        "check",
        "reason",
        "objects",
    }:
        raise ValuesError(f"{where}: each skip has a check and a reason (and optionally objects)")
    check, reason = str(entry["check"]).strip(), " ".join(str(entry["reason"] or "").split())
    if not check or not reason:
        raise ValuesError(f"{where}: the check and its reason must not be empty")
    objects = entry.get("objects", [])
    if (
        not isinstance(objects, list)
        or ("objects" in entry and not objects)
        or not all(isinstance(item, str) and item.count("/") in (1, 2) for item in objects)
    ):
        raise ValuesError(f"{where}: objects must be a non-empty list of Kind/namespace/name globs")
    return Skip(check, reason, tuple(objects))


def load_skips(prj: Project | None = None) -> dict[str, list[Skip]]:
    """``gates/scanner-skips.yaml``: per scanner, the checks left out and why."""
    prj = prj or project()
    source = prj.display(prj.root / SKIPS_FILE)
    data = load_mapping(prj.root / SKIPS_FILE, source)
    skips: dict[str, list[Skip]] = {}
    for scanner, entries in data.items():
        if scanner not in SCANNERS:
            raise ValuesError(f"{source}: {scanner}: not a scanner (allowed: {', '.join(SCANNERS)})")
        if not isinstance(entries, list):
            raise ValuesError(f"{source}: {scanner}: must be a list of {{check, reason}}")
        skips[scanner] = [
            _skip(f"{source}: {scanner}[{index}]", entry) for index, entry in enumerate(entries)
        ]
        everywhere = [skip.check for skip in skips[scanner] if not skip.objects]
        twice = sorted({check for check in everywhere if everywhere.count(check) > 1})
        if twice:
            raise ValuesError(f"{source}: {scanner}: {', '.join(twice)} is listed twice")
    return skips


def _run(args: Sequence[str], cwd: Path, prj: Project) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": prj.path_env(), "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"}
    try:
        return subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{Path(args[0]).name} did not finish within {TIMEOUT}s") from exc


def _json(proc: subprocess.CompletedProcess[str], name: str) -> Any:
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        tail = " ".join((proc.stderr or proc.stdout).split())[-300:]
        raise ToolError(f"{name} exited {proc.returncode} without JSON output: {tail}") from exc


def _everywhere(skips: Sequence[Skip]) -> list[str]:
    return [skip.check for skip in skips if not skip.objects]


def _checkov(manifest: Path, skips: Sequence[Skip], prj: Project) -> tuple[list[Failure], int]:
    args = [
        str(prj.tool("checkov")),
        "-f",
        str(manifest),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--quiet",
        "--compact",
        "--output",
        "json",
    ]
    if _everywhere(skips):
        args += ["--skip-check", ",".join(_everywhere(skips))]
    data = _json(_run(args, manifest.parent, prj), "checkov")
    failures: list[Failure] = []
    passed = 0
    for report in data if isinstance(data, list) else [data]:
        if not isinstance(report, Mapping):
            continue
        passed += int((report.get("summary") or {}).get("passed", 0))
        for item in (report.get("results") or {}).get("failed_checks") or []:
            kind, _, rest = str(item.get("resource")).partition(".")  # Deployment.keelson.keelson-app
            namespace, _, name = rest.partition(".")
            failures.append(
                Failure(
                    "checkov",
                    str(item.get("check_id")),
                    f"{kind}/{namespace}/{name}",
                    str(item.get("check_name")),
                )
            )
    return failures, passed


def _kube_score(manifest: Path, skips: Sequence[Skip], prj: Project) -> tuple[list[Failure], int]:
    minor = ".".join(KUBE_VERSIONS[0].split(".")[:2])
    args = [
        str(prj.tool("kube-score")),
        "score",
        str(manifest),
        "--output-format",
        "json",
        "--kubernetes-version",
        f"v{minor}",
    ]
    for check in _everywhere(skips):
        args += ["--ignore-test", check]
    data = _json(_run(args, manifest.parent, prj), "kube-score")
    failures: list[Failure] = []
    passed = 0
    for obj in data or []:
        meta = obj.get("object_meta") or {}
        subject = f"{(obj.get('type_meta') or {}).get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}"
        for check in obj.get("checks") or []:
            if check.get("skipped"):
                continue
            if int(check.get("grade", 0)) >= 10:
                passed += 1
                continue
            comments = "; ".join(str(c.get("summary")) for c in check.get("comments") or [])
            failures.append(
                Failure("kube-score", str((check.get("check") or {}).get("id")), subject, comments)
            )
    return failures, passed


def _kube_linter(manifest: Path, skips: Sequence[Skip], prj: Project) -> tuple[list[Failure], int]:
    with tempfile.TemporaryDirectory() as scratch:  # no .kube-linter.yaml from the working directory
        args = [str(prj.tool("kube-linter")), "lint", str(manifest), "--format", "json"]
        for check in _everywhere(skips):
            args += ["--exclude", check]
        data = _json(_run(args, Path(scratch), prj), "kube-linter")
    failures = []
    for report in (data or {}).get("Reports") or []:
        meta = (report.get("Object") or {}).get("K8sObject") or {}
        kind = (meta.get("GroupVersionKind") or {}).get("Kind", "")
        failures.append(
            Failure(
                "kube-linter",
                str(report.get("Check")),
                f"{kind}/{meta.get('Namespace', '')}/{meta.get('Name', '')}",
                str((report.get("Diagnostic") or {}).get("Message")),
            )
        )
    return failures, 0


def scan(scanner: str, manifest: Path, prj: Project | None = None) -> ScanResult:
    """Run one scanner over a manifest with its skips."""
    prj = prj or project()
    skips = load_skips(prj).get(scanner, [])
    runners = {"checkov": _checkov, "kube-score": _kube_score, "kube-linter": _kube_linter}
    found, passed = runners[scanner](manifest, skips, prj)
    covered = [failure for failure in found if any(skip.covers(failure) for skip in skips)]
    return ScanResult(scanner, tuple(f for f in found if f not in covered), passed, tuple(covered))
