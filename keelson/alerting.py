"""Alerting checks over the render: every rule file with ``promtool check rules``, the Alertmanager
config with ``amtool check-config``.

What is checked is what would run: the rule files are the keys of the ConfigMaps that Mimir's
StatefulSet mounts for its ruler (plus every PrometheusRule, as a rule file), and the Alertmanager
config is the ConfigMap it mounts as its fallback config. A config held in an existing Secret is not
in the render, so it is not checked here. Files go to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from keelson.errors import ToolError
from keelson.k8s import describe
from keelson.models import Finding
from keelson.project import Project, project

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from keelson.models import Object

TIMEOUT = 120
RULES_VOLUME = re.compile(r"^rules-\d+$")
ALERTMANAGER_VOLUME = "alertmanager-fallback"


@dataclass(frozen=True)
class ConfigFile:
    """One file to check: where it comes from (an object and key) and its text."""

    source: str  # "ConfigMap keelson/keelson-alert-rules: keelson-app.yaml"
    name: str  # file name in the scratch folder
    text: str


@dataclass(frozen=True)
class AlertingFiles:
    rule_files: tuple[ConfigFile, ...]
    alertmanager: tuple[ConfigFile, ...]


def _mimir_statefulsets(objects: Sequence[Object]) -> list[Object]:
    return [
        obj
        for obj in objects
        if obj.get("kind") == "StatefulSet"
        and ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name") == "mimir"
    ]


def _volumes(statefulset: Object) -> list[dict[str, Any]]:
    spec = ((statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}
    return list(spec.get("volumes") or [])


def _configmap(objects: Sequence[Object], namespace: str, name: str) -> Object | None:
    for obj in objects:
        meta = obj.get("metadata") or {}
        if (
            obj.get("kind") == "ConfigMap"
            and meta.get("name") == name
            and meta.get("namespace", "") == namespace
        ):
            return obj
    return None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@lru_cache(maxsize=64)
def _rule_file(groups: str) -> str:
    """A PrometheusRule's groups as a rule file, from their JSON (which keeps every type and key
    order of a rendered object, so it is the whole input): the envs of ``check --all`` mostly
    render the same groups, and PyYAML's emitter writes them once instead of once per env."""
    return yaml.safe_dump({"groups": json.loads(groups)}, sort_keys=False)


def collect(objects: Sequence[Object]) -> AlertingFiles:
    """The rule files and Alertmanager configs the render would load (see the module docstring)."""
    rules: dict[str, ConfigFile] = {}
    alertmanager: list[ConfigFile] = []
    for sts in _mimir_statefulsets(objects):
        namespace = (sts.get("metadata") or {}).get("namespace", "")
        for volume in _volumes(sts):
            if RULES_VOLUME.match(str(volume.get("name", ""))):
                sources = (volume.get("projected") or {}).get("sources") or []
                names = [(s.get("configMap") or {}).get("name") for s in sources if s.get("configMap")]
            elif volume.get("name") == ALERTMANAGER_VOLUME and volume.get("configMap"):
                names = [volume["configMap"].get("name")]
            else:
                continue
            for name in names:
                cm = _configmap(objects, namespace, str(name))
                if cm is None:  # an existing ConfigMap made outside the chart: not in the render
                    continue
                for key, text in sorted((cm.get("data") or {}).items()):
                    # A rule file keeps its key as its name (unit tests name it in rule_files).
                    file = _safe(key) if _safe(key) not in rules else _safe(f"{name}.{key}")
                    item = ConfigFile(f"{describe(cm)}: {key}", file, str(text))
                    if volume.get("name") == ALERTMANAGER_VOLUME:
                        alertmanager.append(item)
                    else:
                        rules[item.name] = item
    for obj in objects:
        if obj.get("kind") == "PrometheusRule":
            text = _rule_file(json.dumps((obj.get("spec") or {}).get("groups") or []))
            name = _safe(f"prometheusrule.{(obj.get('metadata') or {}).get('name', '')}.yaml")
            rules[name] = ConfigFile(describe(obj), name, text)
    return AlertingFiles(tuple(rules.values()), tuple(alertmanager))


def _run(prj: Project, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``command``: a pinned tool's name and its arguments."""
    try:
        return subprocess.run(
            [str(prj.tool(command[0])), *command[1:]],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env=prj.tool_env(),
        )
    except OSError as exc:
        raise ToolError(f"{command[0]} could not run: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{Path(command[0]).name} took longer than {TIMEOUT}s") from exc


def _first_problem(output: str) -> str:
    """The most telling line of a tool's complaint (``FAILED: <why>``, else the first other line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        reason = line.partition("FAILED:")[2].strip()
        if reason:
            return reason
    for line in lines:
        if line.startswith(("FAILED", "SUCCESS", "Checking", "Found:", "- ")) or "failed to validate" in line:
            continue
        return line
    return lines[0] if lines else "failed without a message"


def _one_run_passes(prj: Project, command: Sequence[str], groups: Iterable[Iterable[ConfigFile]]) -> bool:
    """Whether one run of ``command`` over every file of every group passes (each group's files in
    a folder of their own, so groups may use the same names). Both tools check each file on its
    own, so a pass holds for each file alone."""
    with tempfile.TemporaryDirectory(prefix="keelson-rules-") as scratch:
        paths = []
        for number, files in enumerate(groups):
            folder = Path(scratch) / str(number)
            folder.mkdir()
            for item in files:
                path = folder / item.name
                path.write_text(item.text, encoding="utf-8")
                paths.append(str(path))
        return not paths or _run(prj, [*command, *paths]).returncode == 0


def _check_each(
    prj: Project, files: Iterable[ConfigFile], where: str, command: Sequence[str], label: str
) -> list[Finding]:
    """Run ``command FILE`` on each file written to a scratch folder; one finding per failing file.

    Both tools take several files at once, and one process costs a tenth of a second of CPU: every
    file goes to one run first, and only when that fails does each file get a run of its own, so
    that each finding names its file.
    """
    files = list(files)
    if _one_run_passes(prj, command, [files]):
        return []
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="keelson-rules-") as scratch:
        for item in files:
            path = Path(scratch) / item.name
            path.write_text(item.text, encoding="utf-8")
            done = _run(prj, [*command, str(path)])
            if done.returncode != 0:
                message = _first_problem(done.stderr + "\n" + done.stdout).replace(str(path), item.name)
                findings.append(Finding(where, item.source, f"{label}: {message}"))
    return findings


PROMTOOL = ("promtool", "check", "rules", "--lint=all", "--lint-fatal")
AMTOOL = ("amtool", "check-config")


def check_rule_files(files: Iterable[ConfigFile], where: str, prj: Project) -> list[Finding]:
    """``promtool check rules --lint=all --lint-fatal`` on each file; one finding per failing file."""
    return _check_each(prj, files, where, PROMTOOL, "promtool check rules")


def check_alertmanager(files: Iterable[ConfigFile], where: str, prj: Project) -> list[Finding]:
    """``amtool check-config`` on each Alertmanager config; one finding per failing config."""
    return _check_each(prj, files, where, AMTOOL, "amtool check-config")


def all_pass(renders: Iterable[Sequence[Object]], prj: Project) -> bool:
    """Whether every rule file and Alertmanager config of several renders passes, found with one
    promtool and one amtool run over all of them (``check --all``); when not, each render's
    :func:`check` finds its own failures, each naming its env and file."""
    collected = [collect(objects) for objects in renders]
    return _one_run_passes(prj, PROMTOOL, [files.rule_files for files in collected]) and _one_run_passes(
        prj, AMTOOL, [files.alertmanager for files in collected]
    )


@dataclass(frozen=True)
class RulesReport:
    files: AlertingFiles
    findings: tuple[Finding, ...]

    @property
    def detail(self) -> str:
        files = self.files
        return f"{len(files.rule_files)} rule file(s), {len(files.alertmanager)} Alertmanager config(s)"


def check(
    objects: Sequence[Object], env: str, prj: Project | None = None, *, passed: bool = False
) -> RulesReport:
    """Both checks over one environment's render; ``passed``: :func:`all_pass` said so already."""
    prj = prj or project()
    files = collect(objects)
    if passed:
        return RulesReport(files, ())
    findings = check_rule_files(files.rule_files, env, prj) + check_alertmanager(files.alertmanager, env, prj)
    return RulesReport(files, tuple(findings))
