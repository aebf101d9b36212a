"""What every task shares: the project, the one-line error rule, and how a stage is printed.

A user mistake (a KeelsonError, or unreadable input) ends a task with one line on stderr,
``error: <file>: <key path>: <what is wrong> (<what is allowed>)``, and exit status 1.
"""

from __future__ import annotations

import functools
import json as jsonlib
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import yaml
from invoke.exceptions import Exit

from keelson import yamlio
from keelson.errors import KeelsonError, UsageError
from keelson.project import ENVS, project
from keelson.stages import Stage, Stages, line, to_json

if TYPE_CHECKING:
    from collections.abc import Iterator

    from keelson.check import CheckReport
    from keelson.models import Finding, StageResult

PRJ = project()
# Pinned tools first, for the tasks and for every tool they start (ct calls helm and yamllint).
os.environ["PATH"] = PRJ.path_env()

F = TypeVar("F", bound=Callable[..., Any])
# The flags every rendering task shares.
ENV_HELP = {
    "env": "dev, staging or prod",
    "values": "extra values file over values/<env>.yaml (repeatable)",
}
JSON_HELP = "print one JSON document (each env's stages, as release --json) instead of the stage lines"


def user_errors(func: F) -> F:
    """Turn a user mistake into ``error: <one line>`` and exit status 1, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeelsonError as exc:
            raise Exit(f"error: {exc.message}", code=1) from None
        except yaml.YAMLError as exc:
            # str() of a YAML error quotes the offending line: describe() never shows the input.
            raise Exit(f"error: {yamlio.describe(exc, 'YAML input')}", code=1) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise Exit(f"error: {where}{exc.strerror or type(exc).__name__}", code=1) from None

    return cast("F", wrapper)


def fail(findings: Sequence[Finding], *, json: bool = False) -> None:
    """List every finding on stdout, then end with the first one as the error line. With
    ``json`` the JSON document on stdout already lists them: only the error line, on stderr."""
    if json:
        raise Exit(f"error: {KeelsonError.from_findings(findings, 'in the JSON report').message}", code=1)
    for finding in findings[1:]:
        print(f"  {finding}")
    raise Exit(f"error: {KeelsonError.from_findings(findings, 'listed above').message}", code=1)


def print_json(document: dict[str, Any]) -> None:
    """The one way a ``--json`` task prints: indented, keys sorted, nothing else on stdout."""
    print(jsonlib.dumps(document, indent=2, sort_keys=True))


# One env's stages for report_stages, and what its JSON report adds to the stages' shape.
Run = tuple[str, Sequence["StageResult"], dict[str, Any]]


def report_stages(runs: Sequence[Run], *, json: bool = False) -> None:
    """Each env's stage lines (or, with ``json``, one document of them); exit 1 on a finding.

    The document is ``{"ok": ..., "reports": [...]}``, one report per env in keelson.stages.to_json's
    shape (the stages of ``invoke release --json``) plus that env's extras."""
    if json:
        reports = [{**to_json(env, results), **extra} for env, results, extra in runs]
        print_json({"ok": all(report["ok"] for report in reports), "reports": reports})
    else:
        for _env, results, _extra in runs:
            for result in results:
                print(line(result))
    failed = [finding for _env, results, _extra in runs for result in results for finding in result.findings]
    if failed:
        fail(failed, json=json)


def report_checks(reports: Sequence[CheckReport], *, json: bool = False) -> None:
    """report_stages for checks; a check's JSON report adds its gates' counts (null before gates)."""
    runs = [(report.env, report.stages, {"gates": _gate_counts(report)}) for report in reports]
    report_stages(runs, json=json)


def _gate_counts(report: CheckReport) -> dict[str, int] | None:
    gates = report.gates
    if gates is None:
        return None
    return {"errors": len(gates.errors), "warnings": len(gates.warnings), "waived": len(gates.waived)}


def one_env(env: str | None) -> str:
    if not env:
        raise UsageError(f"--env is required (allowed: {', '.join(ENVS)})")
    return env


def color() -> bool:
    """ANSI colour only for a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def progress(name: str, result: StageResult | None) -> None:
    if result is None:
        if sys.stdout.isatty():
            print(f"{name:<9} …", end="\r", flush=True)
        return
    print(line(result), flush=True)


@contextmanager
def stage(env: str, name: str) -> Iterator[Stage]:
    """One timed stage of a task (keelson.stages): its ok/FAIL line, and its findings the error."""
    stages = Stages(env, progress=progress)
    with stages.run(name) as current:
        yield current
    if not stages.ok:
        fail(stages.results[-1].findings)
