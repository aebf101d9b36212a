"""Keelson's tasks: argument parsing and printing only; the work is in the keelson package.

A user mistake (a KeelsonError, or unreadable input) ends a task with one line on stderr,
``error: <file>: <key path>: <what is wrong> (<what is allowed>)``, and exit status 1.
"""

from __future__ import annotations

import functools
import json as jsonlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import yaml
from invoke.exceptions import Exit
from invoke.tasks import task

from keelson import check as pipeline
from keelson import gates as gating
from keelson import lint as linters
from keelson.errors import KeelsonError, UsageError
from keelson.models import CheckReport, Finding, StageResult
from keelson.project import ENVS, project
from keelson.render import write_objects

if TYPE_CHECKING:
    from invoke.context import Context

PRJ = project()
# Pinned tools first, for the tasks and for every tool they start (ct calls helm and yamllint).
os.environ["PATH"] = PRJ.path_env()

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn a user mistake into ``error: <one line>`` and exit status 1, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeelsonError as exc:
            raise Exit(f"error: {exc.message}", code=1) from None
        except (yaml.YAMLError, OSError) as exc:
            raise Exit(f"error: {' '.join(str(exc).split())}", code=1) from None

    return cast("F", wrapper)


def _line(stage: StageResult) -> str:
    status = "ok" if stage.ok else "FAIL"
    return f"{stage.stage:<9} {stage.env:<8} {status:<4} {stage.seconds:6.2f}s  {stage.detail}".rstrip()


def _fail(findings: Sequence[Finding]) -> None:
    """List every finding on stdout, then end with the first one as the error line."""
    for finding in findings[1:]:
        print(f"  {finding}")
    raise Exit(f"error: {KeelsonError.from_findings(findings, 'listed above').message}", code=1)


def _report(reports: Sequence[CheckReport]) -> None:
    for report in reports:
        for stage in report.stages:
            print(_line(stage))
    failed = [finding for report in reports for finding in report.findings]
    if failed:
        _fail(failed)


def _one_env(env: str | None) -> str:
    if not env:
        raise UsageError(f"--env is required (allowed: {', '.join(ENVS)})")
    return env


@task(help={"env": "lint the umbrella with this environment only (default: every environment)"})
@user_errors
def lint(c: Context, env: str | None = None) -> None:
    """helm lint --strict, yamllint and ct lint."""
    results = linters.run([env] if env else ENVS, PRJ)
    for result in results:
        print(_line(result))
    findings = [finding for result in results for finding in result.findings]
    if findings:
        _fail(findings)


@task(
    iterable=["values"],
    help={
        "env": "dev, staging or prod",
        "out": "folder for the manifests (default build/manifests/<env>)",
        "values": "extra values file over values/<env>.yaml, like helm -f (repeatable)",
    },
)
@user_errors
def template(
    c: Context, env: str | None = None, out: str | None = None, values: list[str] | None = None
) -> None:
    """Check the values, render the charts and write one file per object."""
    env = _one_env(env)
    report = pipeline.check(env, values or [], PRJ, until="render")
    _report([report])
    folder = Path(out) if out else PRJ.build_dir / "manifests" / env
    start = time.perf_counter()
    written = write_objects(report.objects, folder)
    print(
        _line(StageResult("write", env, time.perf_counter() - start, (), f"{len(written)} files in {folder}"))
    )


@task(iterable=["values"], help={"env": "dev, staging or prod", "values": "extra values file (repeatable)"})
@user_errors
def schema(c: Context, env: str | None = None, values: list[str] | None = None) -> None:
    """Check the merged values against every chart's values.schema.json; list every problem."""
    report = pipeline.check(_one_env(env), values or [], PRJ, until="schema")
    _report([report])


@task(
    name="check",
    iterable=["values"],
    help={
        "env": "dev, staging or prod",
        "all": "every environment",
        "values": "extra values file over values/<env>.yaml (repeatable)",
    },
)
@user_errors
def check_(c: Context, env: str | None = None, all: bool = False, values: list[str] | None = None) -> None:
    """Values, values schema, render and Kubernetes schemas; writes nothing."""
    if bool(env) == all:
        raise UsageError(f"give either --env ENV or --all (environments: {', '.join(ENVS)})")
    reports = (
        pipeline.check_all(values or [], PRJ) if all else [pipeline.check(_one_env(env), values or [], PRJ)]
    )
    _report(reports)


@task(
    name="gates",
    iterable=["values"],
    help={
        "env": "dev, staging or prod",
        "values": "extra values file over values/<env>.yaml (repeatable)",
        "json": "print the report as JSON instead of the table",
        "sarif": "also write a SARIF 2.1.0 log to this file (for code-scanning UIs)",
        "list_rules": "list the rules and exit",
    },
)
@user_errors
def gates_(  # noqa: PLR0917 (invoke turns every parameter into a flag)
    c: Context,
    env: str | None = None,
    values: list[str] | None = None,
    json: bool = False,
    sarif: str | None = None,
    list_rules: bool = False,
) -> None:
    """Production gates over the render: findings with remediation; exit 1 on any error finding."""
    if list_rules:
        for item in gating.rules():
            print(f"{item.id}  {item.severity:<7}  {', '.join(item.envs):<17}  {item.title}")
        return
    env = _one_env(env)
    checked = pipeline.check(env, values or [], PRJ)
    report = checked.gates
    if report is None:  # an earlier stage failed: say which
        _report([checked])
        return
    if json:
        print(jsonlib.dumps(gating.to_json(report), indent=2))
    else:
        for stage in checked.stages:
            print(_line(stage))
        print(gating.table(report))
    if sarif:
        gating.write_json(gating.to_sarif(report), Path(sarif))
    if not report.ok:
        _fail([found.to_finding(env) for found in report.errors])


@task
def test(c: Context) -> None:
    """ruff check, ruff format --check, mypy, then the whole pytest suite in parallel."""
    with c.cd(str(PRJ.root)):
        c.run(f"{PRJ.tool('ruff')} check .", echo=True)
        c.run(f"{PRJ.tool('ruff')} format --check .", echo=True)
        c.run(f"{PRJ.tool('mypy')}", echo=True)
        c.run(f"{PRJ.tool('pytest')} -n auto", echo=True)


@task(help={"env": "dev, staging or prod"})
@user_errors
def release(c: Context, env: str | None = None) -> None:
    """For now: the check of one environment (packaging and publishing come later)."""
    env = _one_env(env)
    print(f"release: runs only `check --env {env}` for now; packaging and publishing are not written yet")
    _report([pipeline.check(env, [], PRJ)])
