"""What every task shares: the project, the one-line error rule, and how a stage is printed.

A user mistake (a KeelsonError, or unreadable input) ends a task with one line on stderr,
``error: <file>: <key path>: <what is wrong> (<what is allowed>)``, and exit status 1.
"""

from __future__ import annotations

import functools
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
from keelson.stages import Stage, Stages, line

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


def fail(findings: Sequence[Finding]) -> None:
    """List every finding on stdout, then end with the first one as the error line."""
    for finding in findings[1:]:
        print(f"  {finding}")
    raise Exit(f"error: {KeelsonError.from_findings(findings, 'listed above').message}", code=1)


def report_checks(reports: Sequence[CheckReport]) -> None:
    for report in reports:
        for result in report.stages:
            print(line(result))
    failed = [finding for report in reports for finding in report.findings]
    if failed:
        fail(failed)


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
