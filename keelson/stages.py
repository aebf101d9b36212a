"""The one stage runner: check, lint, release and the tasks time and report their stages here.

    stages = Stages("prod", progress=print_line)
    with stages.run("values") as stage:
        merged = values.load(...)
        stage.detail.append("1 file(s) over the chart defaults")
    if not stages.ok: ...

A stage's result is a StageResult: its name, env, seconds, findings and a one-line detail. Every
finding of a stage carries that env and stage (``Finding.env``, ``Finding.stage``); a KeelsonError
raised inside becomes the stage's one finding, its message as it is (the message names the file
and key path), and a FindingsError becomes one finding per entry. A missing tool (ToolError) is not
a finding about the environment: it propagates. ``line`` is the ok/FAIL line every task prints;
``to_json`` is the same stages for machines (``--json`` on check, lint, schema and release).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from keelson.errors import FindingsError, KeelsonError, ToolError
from keelson.models import Finding, StageResult

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# Called with (stage, None) when a stage starts and (stage, result) when it ends.
Progress = Callable[[str, StageResult | None], None]


def line(result: StageResult) -> str:
    """``values    prod     ok     0.08s  1 file(s) over the chart defaults``."""
    status = "ok" if result.ok else "FAIL"
    return f"{result.stage:<9} {result.env:<8} {status:<4} {result.seconds:6.2f}s  {result.detail}".rstrip()


def to_json(env: str, results: Sequence[StageResult]) -> dict[str, Any]:
    """One env's stages for machines: the one shape every ``--json`` report shares. A finding is
    its str(), which redacts anything that looks like a secret; ``error`` is the first of them."""
    failed = next((result for result in results if not result.ok), None)
    return {
        "env": env,
        "ok": failed is None,
        "failedStage": failed.stage if failed else None,
        "error": str(failed.findings[0]) if failed else None,
        "stages": [
            {
                "stage": result.stage,
                "ok": result.ok,
                "seconds": round(result.seconds, 3),
                "detail": result.detail,
                "findings": [str(finding) for finding in result.findings],
            }
            for result in results
        ],
    }


@dataclass
class Stage:
    """What a stage's body fills in while it runs."""

    name: str
    env: str
    findings: list[Finding] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)  # joined with spaces
    # The stage's own time when its work ran elsewhere (helm renders while the schema is checked).
    seconds: float | None = None


@dataclass
class Stages:
    """The stages of one env, in the order they ran; ``progress`` hears each start and end."""

    env: str
    results: list[StageResult] = field(default_factory=list)
    progress: Progress | None = None

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @contextmanager
    def run(self, name: str) -> Iterator[Stage]:
        stage = Stage(name, self.env)
        if self.progress:
            self.progress(name, None)
        start = time.perf_counter()
        try:
            yield stage
        except ToolError:
            raise
        except FindingsError as exc:
            stage.findings += [
                item if isinstance(item, Finding) else Finding("", "", str(item)) for item in exc.findings
            ]
        except KeelsonError as exc:
            stage.findings.append(Finding("", "", exc.message))
        seconds = time.perf_counter() - start if stage.seconds is None else stage.seconds
        self.add(StageResult(name, self.env, seconds, tuple(stage.findings), " ".join(stage.detail)))

    def add(self, result: StageResult) -> StageResult:
        """Record a result (a stage run here, or one run elsewhere), each finding stamped with it."""
        stamped = tuple(replace(item, env=result.env, stage=result.stage) for item in result.findings)
        result = replace(result, findings=stamped)
        self.results.append(result)
        if self.progress:
            self.progress(result.stage, result)
        return result
