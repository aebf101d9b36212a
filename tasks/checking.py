"""Tasks that judge a render: lint, template, schema, check, gates, rules, test and bench; and
values-schemas, which writes the values schemas those checks read."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.tasks import task

from keelson import check as pipeline
from keelson import gates as gating
from keelson.errors import SchemaError, UsageError
from keelson.project import ENVS
from keelson.render import write_objects
from keelson.stages import line
from tasks.common import (
    ENV_HELP,
    JSON_HELP,
    PRJ,
    fail,
    one_env,
    report_checks,
    report_stages,
    stage,
    user_errors,
)

if TYPE_CHECKING:
    from invoke.context import Context


@task(
    help={
        "env": "lint the umbrella with this environment only (default: every environment)",
        "ct": "also run chart-testing's own ct lint (slower; it repeats helm lint)",
        "json": JSON_HELP,
    }
)
@user_errors
def lint(c: Context, env: str | None = None, ct: bool = False, json: bool = False) -> None:
    """helm lint --strict, yamllint and ct lint's checks (Chart.yaml schema, ct's yamllint rules)."""
    from keelson import lint as linters

    results = linters.run([env] if env else ENVS, PRJ, real_ct=ct)
    # The linters run once over every env asked for: one report, named as its lines name it.
    report_stages([(results[0].env if results else env or "all", results, {})], json=json)


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
    env = one_env(env)
    report = pipeline.check(env, values or [], PRJ, until="render")
    report_checks([report])
    folder = Path(out) if out else PRJ.build_dir / "manifests" / env
    with stage(env, "write") as step:
        written = write_objects(report.objects, folder)
        step.detail.append(f"{len(written)} files in {folder}")


@task(iterable=["values"], help={**ENV_HELP, "json": JSON_HELP})
@user_errors
def schema(c: Context, env: str | None = None, values: list[str] | None = None, json: bool = False) -> None:
    """Check the merged values against every chart's values.schema.json; list every problem."""
    report = pipeline.check(one_env(env), values or [], PRJ, until="schema")
    report_checks([report], json=json)


@task(
    name="values-schemas",
    help={"check": "write nothing; fail naming every chart whose values.schema.json is stale"},
)
@user_errors
def values_schemas(c: Context, check: bool = False) -> None:
    """Generate every charts/<chart>/values.schema.json from schemas/values/ (docs/charts.md)."""
    from keelson import schemagen

    if check:
        stale = schemagen.stale(PRJ)
        if stale:
            names = ", ".join(PRJ.display(item.target) for item in stale)
            raise SchemaError(
                f"{names}: stale: run {schemagen.COMMAND} (it writes them from schemas/values/)"
            )
        print("values-schemas: every values.schema.json is up to date")
        return
    written = schemagen.write(PRJ)
    for item in written:
        print(f"wrote {PRJ.display(item.target)}")
    print(f"values-schemas: {len(written)} schema(s) written")


@task(
    name="annotations",
    help={"check": "write nothing; fail naming every chart whose Artifact Hub annotations are stale"},
)
@user_errors
def annotations_(c: Context, check: bool = False) -> None:
    """Write the Artifact Hub annotations of every Chart.yaml from CHANGELOG.md and the prod render."""
    from keelson import artifacthub

    report = pipeline.check("prod", [], PRJ, until="render")
    if not report.ok:
        report_checks([report])  # the prod render failed: its stages say where
    if check:
        stale = artifacthub.stale(PRJ, report.objects)
        if stale:
            names = ", ".join(PRJ.display(item.target) for item in stale)
            raise artifacthub.AnnotationError(
                f"{names}: Artifact Hub annotations are stale: run {artifacthub.COMMAND} and commit them"
            )
        print("annotations: every Chart.yaml is up to date")
        return
    written = artifacthub.write(PRJ, report.objects)
    for item in written:
        print(f"wrote {PRJ.display(item.target)}")
    print(f"annotations: {len(written)} Chart.yaml file(s) written")


@task(
    name="check",
    iterable=["values"],
    help={
        **ENV_HELP,
        "all": "every environment",
        "json": JSON_HELP,
    },
)
@user_errors
def check_(
    c: Context, env: str | None = None, all: bool = False, values: list[str] | None = None, json: bool = False
) -> None:
    """Values, values schema, render, Kubernetes schemas, backend config models, gates, rules; no writes."""
    if bool(env) == all:
        raise UsageError(f"give either --env ENV or --all (environments: {', '.join(ENVS)})")
    reports = (
        pipeline.check_all(values or [], PRJ) if all else [pipeline.check(one_env(env), values or [], PRJ)]
    )
    report_checks(reports, json=json)


@task(
    name="gates",
    iterable=["values"],
    help={
        **ENV_HELP,
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
    env = one_env(env)
    checked = pipeline.check(env, values or [], PRJ)
    report = checked.gates
    if report is None:  # an earlier stage failed: say which
        report_checks([checked])
        return
    if json:
        print(jsonlib.dumps(gating.to_json(report), indent=2))
    else:
        for result in checked.stages:
            print(line(result))
        print(gating.table(report))
    if sarif:
        gating.write_json(gating.to_sarif(report), Path(sarif))
    if not report.ok:
        fail([found.to_finding(env) for found in report.errors])


@task(
    name="rules",
    iterable=["values"],
    help={
        **ENV_HELP,
        "all": "every environment",
    },
)
@user_errors
def rules_(c: Context, env: str | None = None, all: bool = False, values: list[str] | None = None) -> None:
    """promtool check rules on every rendered rule file, amtool check-config on the Alertmanager config."""
    if bool(env) == all:
        raise UsageError(f"give either --env ENV or --all (environments: {', '.join(ENVS)})")
    reports = []
    for name in ENVS if all else [one_env(env)]:
        report = pipeline.check(name, values or [], PRJ, until="render")
        reports.append(pipeline.check_rules(report, PRJ) if report.ok else report)
    report_checks(reports)


@task
@user_errors
def test(c: Context) -> None:
    """ruff check, ruff format --check, mypy, docs --check, then the whole pytest suite in parallel."""
    if PRJ.installed_profile() != "test":
        # The tests run the control plane, the servers and the scanners, which only --test installs.
        raise UsageError(
            f"invoke test needs the test tools, and this checkout has the "
            f"{PRJ.installed_profile() or 'no'} profile; run scripts/bootstrap --test"
        )
    with c.cd(str(PRJ.root)):
        c.run(f"{PRJ.tool('ruff')} check .", echo=True)
        c.run(f"{PRJ.tool('ruff')} format --check .", echo=True)
        c.run(f"{PRJ.tool('mypy')}", echo=True)
        # CI runs this task (.ci/run): a values reference behind its values.yaml fails it here.
        c.run(f"{PRJ.tool('invoke')} docs --check", echo=True)
        c.run(f"{PRJ.tool('pytest')} -n auto", echo=True)


@task(
    help={
        "sizes": "comma-separated object counts to diff (default 1000,10000)",
        "ratios": "instead: Keelson's CPU against its floor or peer (helm template, dyff), as ratios",
        "repeat": "with --ratios: interleaved runs of each side; the median is shown (default 5)",
        "cases": "with --ratios: comma-separated subset of check,all,release,release-cold,diff,scale",
        "secrets": "instead: recall and false positives of the secret detector, per kind",
    }
)
def bench(  # noqa: PLR0917 (invoke turns every parameter into a flag)
    c: Context,
    sizes: str = "1000,10000",
    ratios: bool = False,
    repeat: int = 5,
    cases: str = "",
    secrets: bool = False,
) -> None:
    """Time the diff on synthetic renders (or --ratios, --secrets)."""
    with c.cd(str(PRJ.root)):
        if ratios:
            chosen = f" --cases {cases}" if cases else ""
            c.run(f"{sys.executable} scripts/bench_ratios.py --repeat {repeat}{chosen}", echo=True)
        elif secrets:
            c.run(f"{sys.executable} scripts/bench_secrets.py", echo=True)
        else:
            c.run(f"{sys.executable} scripts/bench_diff.py --sizes {sizes}", echo=True)
