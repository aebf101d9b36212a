"""Strict models of the storage backends' config files: the ``configs`` stage of ``invoke check``.

Loki, Tempo, Mimir and Pyroscope are AGPL-3.0 programs, so the project neither builds nor runs them
(issue 10); their rendered configs are judged instead against a model of each program's
configuration reference for the pinned version (one module per program, its source named there):
every block and key the chart renders, with types and allowed values, unknown keys refused, and
the cross-field rules the programs enforce (storage, schema, retention, rings, memberlist).

    findings = configmodels.check(objects, "prod")     # [] when every config is accepted
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from keelson.configmodels import loki, mimir, pyroscope, tempo
from keelson.configmodels.program import Program, Workload
from keelson.configmodels.schema import Problem, get, validate
from keelson.models import Finding, format_path
from keelson.project import RELEASE
from keelson.yamlio import safe_load

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keelson.models import Object

PROGRAMS: tuple[Program, ...] = (loki.PROGRAM, tempo.PROGRAM, mimir.PROGRAM, pyroscope.PROGRAM)


def _find(objects: Sequence[Object], kind: str, name: str) -> Object | None:
    for obj in objects:
        if obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
            return obj
    return None


def _document(text: str) -> tuple[Any, Problem | None]:
    """The config parsed (as the programs read YAML), or the problem that it is not YAML."""
    try:
        return safe_load(text), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return None, Problem((), f"not valid YAML{where}")


def judge(program: Program, text: str, workload: Workload) -> list[Problem]:
    """Every problem ``program`` would have with the config ``text`` run by ``workload``."""
    return _judge_document(program, _document(text), workload)


def _judge_document(
    program: Program, parsed: tuple[Any, Problem | None], workload: Workload
) -> list[Problem]:
    document, unreadable = parsed
    if unreadable is not None:
        return [unreadable]
    problems = validate(document, program.model)
    if problems:  # the rules read typed values: judge them only on a config of the right shape
        return problems
    return [problem for rule in program.rules for problem in rule(document, workload)]


def rendered_config(objects: Sequence[Object], program: Program) -> tuple[Object, str, Workload] | None:
    """The ConfigMap holding ``program``'s config, its text and the StatefulSet's replicas; None when
    the chart is not part of the render."""
    configmap = _find(objects, "ConfigMap", f"{RELEASE}-{program.configmap}")
    if configmap is None or program.key not in (configmap.get("data") or {}):
        return None
    statefulset = _find(objects, "StatefulSet", f"{RELEASE}-{program.chart}") or {}
    replicas = get(statefulset, "spec", "replicas", default=1)
    return configmap, str(configmap["data"][program.key]), Workload(int(replicas))


def _cluster_label(document: Any) -> str:
    label = get(document, "memberlist", "cluster_label")
    return label if isinstance(label, str) else ""


def _subject(configmap: Object, key: str) -> str:
    meta = configmap.get("metadata") or {}
    return f"ConfigMap {meta.get('namespace', '')}/{meta.get('name', '')} {key}".replace(" /", " ")


def check(objects: Sequence[Object], env: str) -> list[Finding]:
    """Each backend's rendered config against its model, plus the rule that spans them: every ring
    needs its own memberlist cluster label."""
    findings: list[Finding] = []
    labels: dict[str, str] = {}
    for program in PROGRAMS:
        found = rendered_config(objects, program)
        if found is None:
            continue
        configmap, text, workload = found
        subject = _subject(configmap, program.key)
        parsed = _document(text)  # once, for the model and for the cluster label
        for problem in _judge_document(program, parsed, workload):
            findings.append(Finding(env, subject, f"{problem} ({program.name})"))
        label = _cluster_label(parsed[0])
        if label:
            if label in labels:
                path = format_path(("memberlist", "cluster_label"))
                findings.append(
                    Finding(
                        env,
                        subject,
                        f"{path}: the same cluster label as {labels[label]}: their rings would merge "
                        f"({program.name})",
                    )
                )
            labels[label] = program.name
    return findings


def summary(objects: Sequence[Object]) -> str:
    """Which models judged the render, for the stage line."""
    names = [program.name for program in PROGRAMS if rendered_config(objects, program) is not None]
    return ", ".join(names) if names else "no storage backend in the render"


__all__ = ["PROGRAMS", "Problem", "Program", "Workload", "check", "judge", "rendered_config", "summary"]
