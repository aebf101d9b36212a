"""Gate reports for people (a table), for scripts (JSON) and for code-scanning UIs (SARIF 2.1.0)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from keelson.gates.engine import ERROR, GateFinding, GateReport, Rule

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL = "keelson-gates"
INFORMATION_URI = "https://github.com/keelson/keelson/blob/main/docs/gates.md"


def _version() -> str:
    try:
        return metadata.version("keelson")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def summary(report: GateReport) -> str:
    """``gates prod: 1 error, 2 warnings, 1 waived (31 rules)``."""

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    status = "ok" if report.ok else "FAIL"
    return (
        f"gates {report.env}: {status}: {count(len(report.errors), 'error')}, "
        f"{count(len(report.warnings), 'warning')}, {len(report.waived)} waived ({len(report.rules)} rules)"
    )


def table(report: GateReport) -> str:
    """Findings, then waived findings with their reasons, then the summary line."""
    lines: list[str] = []

    def block(title: str, findings: list[GateFinding], waived: bool) -> None:
        if not findings:
            return
        width = max(len(found.subject.display) for found in findings)
        lines.append(title)
        lines.append(f"  {'RULE':<8} {'LEVEL':<7} {'OBJECT':<{width}}  MESSAGE")
        for found in findings:
            lines.append(
                f"  {found.rule:<8} {found.severity:<7} {found.subject.display:<{width}}  {found.message}"
            )
            indent = " " * (2 + 8 + 1 + 7 + 1 + width + 2)
            lines.append(f"{indent}{'waived: ' + found.waiver if waived else 'fix: ' + found.remediation}")

    block("findings:", report.findings, waived=False)
    block("waived:", report.waived, waived=True)
    lines.append(summary(report))
    return "\n".join(lines)


def _finding_json(found: GateFinding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": found.rule,
        "severity": found.severity,
        "object": found.object,
        "kind": found.subject.kind,
        "namespace": found.subject.namespace,
        "name": found.subject.name,
        "path": found.path,
        "message": found.message,
        "remediation": found.remediation,
        "source": found.source,
    }
    if found.waiver:
        data["waiver"] = found.waiver
    return data


def _rule_json(item: Rule, env: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "severity": item.severity_for(env),
        "envs": list(item.envs),
        "concern": item.concern,
        "remediation": item.remediation,
    }


def to_json(report: GateReport) -> dict[str, Any]:
    return {
        "env": report.env,
        "ok": report.ok,
        "summary": {
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "waived": len(report.waived),
        },
        "rules": [_rule_json(item, report.env) for item in report.rules],
        "findings": [_finding_json(found) for found in report.findings],
        "waived": [_finding_json(found) for found in report.waived],
    }


def _result(found: GateFinding, index: dict[str, int], env: str) -> dict[str, Any]:
    uri = found.source or f"values/{env}.yaml"
    text = f"{found.subject.display}: {found.message}"
    fingerprint = hashlib.sha256(f"{found.rule}|{found.object}|{found.path}".encode()).hexdigest()
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}},
        "logicalLocations": [
            {
                "fullyQualifiedName": found.object,
                "name": found.subject.name or found.subject.kind,
                "kind": "resource",
            }
        ],
    }
    result: dict[str, Any] = {
        "ruleId": found.rule,
        "ruleIndex": index[found.rule],
        "level": "error" if found.severity == ERROR else "warning",
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"keelsonGate/v1": fingerprint},
        "properties": {"object": found.object, "path": found.path, "remediation": found.remediation},
    }
    if found.waiver:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": found.waiver}]
    return result


def to_sarif(report: GateReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: the rules in ``tool.driver.rules``, findings and waived ones
    (as suppressed results) in ``results``."""
    rules = list(report.rules)
    index = {item.id: position for position, item in enumerate(rules)}
    driver = {
        "name": TOOL,
        "version": _version(),
        "informationUri": INFORMATION_URI,
        "rules": [
            {
                "id": item.id,
                "name": "".join(
                    re.sub(r"[^A-Za-z0-9]", "", word).capitalize() for word in item.title.split()
                ),
                "shortDescription": {"text": item.title},
                "fullDescription": {"text": f"{item.title} (environments: {', '.join(item.envs)})"},
                "help": {"text": item.remediation},
                "defaultConfiguration": {
                    "level": "error" if item.severity_for(report.env) == ERROR else "warning"
                },
                "properties": {"tags": [item.concern], "envs": list(item.envs)},
            }
            for item in rules
        ],
    }
    results = [_result(found, index, report.env) for found in [*report.findings, *report.waived]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": f"{TOOL}/{report.env}/"},
                "invocations": [{"executionSuccessful": True}],
                "results": results,
            }
        ],
    }


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write through a temporary file in the same folder, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
