"""Keelson's tasks: argument parsing and printing only; the work is in the keelson package.

A user mistake (a KeelsonError, or unreadable input) ends a task with one line on stderr,
``error: <file>: <key path>: <what is wrong> (<what is allowed>)``, and exit status 1.
"""

from __future__ import annotations

import functools
import json as jsonlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import yaml
from invoke.exceptions import Exit
from invoke.tasks import task

from keelson import check as pipeline
from keelson import cluster as local_cluster
from keelson import deploy as deploying
from keelson import diff as diffing
from keelson import gates as gating
from keelson import immutable, kube, prerequisites, record, sources, yamlio
from keelson import lint as linters
from keelson import package as packaging
from keelson import preflight as preflighting
from keelson import publish as publishing
from keelson import release as releasing
from keelson.errors import KeelsonError, UsageError
from keelson.models import CheckReport, Finding, StageResult
from keelson.project import ENVS, project
from keelson.render import write_objects
from keelson.values import load as values_of

if TYPE_CHECKING:
    from invoke.context import Context

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


@task(
    help={
        "env": "lint the umbrella with this environment only (default: every environment)",
        "ct": "also run chart-testing's own ct lint (slower; it repeats helm lint)",
    }
)
@user_errors
def lint(c: Context, env: str | None = None, ct: bool = False) -> None:
    """helm lint --strict, yamllint and ct lint's checks (Chart.yaml schema, ct's yamllint rules)."""
    results = linters.run([env] if env else ENVS, PRJ, real_ct=ct)
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


@task(iterable=["values"], help=ENV_HELP)
@user_errors
def schema(c: Context, env: str | None = None, values: list[str] | None = None) -> None:
    """Check the merged values against every chart's values.schema.json; list every problem."""
    report = pipeline.check(_one_env(env), values or [], PRJ, until="schema")
    _report([report])


@task(
    name="check",
    iterable=["values"],
    help={
        **ENV_HELP,
        "all": "every environment",
    },
)
@user_errors
def check_(c: Context, env: str | None = None, all: bool = False, values: list[str] | None = None) -> None:
    """Values, values schema, render, Kubernetes schemas, backend config models, gates, rules; no writes."""
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
    for name in ENVS if all else [_one_env(env)]:
        report = pipeline.check(name, values or [], PRJ, until="render")
        reports.append(pipeline.check_rules(report, PRJ) if report.ok else report)
    _report(reports)


@task
@user_errors
def test(c: Context) -> None:
    """ruff check, ruff format --check, mypy, then the whole pytest suite in parallel."""
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
        c.run(f"{PRJ.tool('pytest')} -n auto", echo=True)


# --- release tooling: diff, package, publish, release, rollback, bench ------------------------------


def _color() -> bool:
    """ANSI colour only for a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _signing(
    sign: bool, key: str | None, keyring: str | None, passphrase_file: str | None
) -> packaging.Signing | None:
    if not sign:
        if key or keyring or passphrase_file:
            raise UsageError("--key, --keyring and --passphrase-file go with --sign")
        return None
    if not key or not keyring:
        raise UsageError("--sign needs --key NAME and --keyring PATH (a secret keyring file)")
    return packaging.Signing(key, Path(keyring), Path(passphrase_file) if passphrase_file else None)


SIGN_HELP = {
    "sign": "sign each archive (a .prov beside it), like helm package --sign",
    "key": "with --sign: the key's name (part of its user id) in the keyring",
    "keyring": "with --sign: the secret keyring file (gpg --export-secret-keys > secring.gpg)",
    "passphrase_file": "with --sign: a file holding the key's passphrase",
}


@task(
    iterable=["values"],
    help={
        "env": "dev, staging or prod: the new side",
        "against": "another env, a git ref, a published version, last (the env's last release) or cluster",
        "values": "extra values file over values/<env>.yaml, for the --env side (repeatable)",
        "json": "print the report as JSON",
        "exit_code": "exit with status 2 when there are differences",
        "ignore_checksums": "leave the checksum/* annotations out of the comparison",
        "repo": "the chart repository folder for versions and last (default dist/repo)",
        "kube_context": "with --against cluster: the kube context (default: the current one)",
    },
)
@user_errors
def diff(  # noqa: PLR0917 (invoke turns every parameter into a flag)
    c: Context,
    env: str | None = None,
    against: str | None = None,
    values: list[str] | None = None,
    json: bool = False,
    exit_code: bool = False,
    ignore_checksums: bool = False,
    repo: str | None = None,
    kube_context: str | None = None,
) -> None:
    """Semantic diff of the env's render against another env, a git ref, a release or the cluster."""
    env = _one_env(env)
    if not against:
        raise UsageError("--against is required (an env, a git ref, a published version, last or cluster)")
    # Against the cluster, render what helm would install there: only the APIs it serves.
    target = kube.resolve(PRJ, kube_context) if against == "cluster" else None
    objects, _ = sources.render_env(env, PRJ, values or [], kube_context=target.context if target else None)
    side = sources.resolve(
        against, env=env, prj=PRJ, repo_dir=Path(repo) if repo else None, overlays=values or [], target=target
    )
    # An upgrade from that side (another env is not one) would be refused by the API server here.
    refused = immutable.changes(side.objects, objects) if side.kind != "env" else []
    report = diffing.compare(
        side.objects, objects, old=side.label, new=env, ignore_checksums=ignore_checksums
    )
    if json:
        print(
            jsonlib.dumps({**diffing.to_json(report), "refusedOnUpgrade": refused}, indent=2, sort_keys=True)
        )
    else:
        for line in refused:
            print(f"refused on upgrade: {line}")
        print(diffing.text(report, color=_color()))
    if exit_code and report.differs:
        raise Exit(code=2)


@task(
    name="package",
    iterable=["values"],
    help={
        **ENV_HELP,
        "repo": "the chart repository whose versions are checked (default dist/repo)",
        **SIGN_HELP,
    },
)
@user_errors
def package_(  # noqa: PLR0917 (invoke turns every parameter into a flag)
    c: Context,
    env: str | None = None,
    values: list[str] | None = None,
    repo: str | None = None,
    sign: bool = False,
    key: str | None = None,
    keyring: str | None = None,
    passphrase_file: str | None = None,
) -> None:
    """Reproducible archives of every chart and the env's release record in dist/packages/<env>/."""
    start = time.perf_counter()
    result = packaging.run(
        _one_env(env),
        PRJ,
        overlays=values or [],
        repo_dir=Path(repo) if repo else None,
        sign=_signing(sign, key, keyring, passphrase_file),
    )
    for archive, decision in zip(result.archives, result.decisions, strict=True):
        state = "new" if decision.action == "add" else "published"
        print(f"{archive.file:<28} sha256:{archive.sha256}  {state}")
    detail = f"{len(result.archives)} archives and {record.RECORD} in {PRJ.display(result.folder)}"
    print(_line(StageResult("package", result.env, time.perf_counter() - start, (), detail)))


@task(
    name="publish",
    help={
        "env": "dev, staging or prod: publishes what invoke package left in dist/packages/<env>/",
        "repo": "the directory chart repository (default dist/repo)",
        "oci": "also push every chart with helm push to this oci://host/path",
        "plain_http": "talk plain HTTP to the OCI registry (a registry on loopback)",
    },
)
@user_errors
def publish_(
    c: Context,
    env: str | None = None,
    repo: str | None = None,
    oci: str | None = None,
    plain_http: bool = False,
) -> None:
    """Merge the packaged charts into the repository index (never dropping a version); --oci pushes."""
    env = _one_env(env)
    start = time.perf_counter()
    result = publishing.run(env, PRJ, repo_dir=Path(repo) if repo else None, oci=oci, plain_http=plain_http)
    for decision in result.plan.decisions:
        print(f"{decision.file:<28} {'added' if decision.action == 'add' else 'already published'}")
    for push in result.oci:
        print(f"pushed {push.reference} {push.digest}")
    index = "index.yaml updated" if result.plan.index_changed else "index.yaml unchanged"
    detail = f"{PRJ.display(result.plan.repo_dir)}: {index}; record {PRJ.display(result.record_path)}"
    print(_line(StageResult("publish", env, time.perf_counter() - start, (), detail)))


def _progress(stage: str, result: StageResult | None) -> None:
    if result is None:
        if sys.stdout.isatty():
            print(f"{stage:<9} …", end="\r", flush=True)
        return
    print(_line(result), flush=True)


@task(
    iterable=["values"],
    help={
        **ENV_HELP,
        "repo": "the directory chart repository (default dist/repo)",
        "oci": "also push every chart with helm push to this oci://host/path",
        "plain_http": "talk plain HTTP to the OCI registry (a registry on loopback)",
        "dry_run": "run every stage up to publishing, then stop; dist/ is not touched",
        "deploy": "then helm upgrade --install in the current kube context (waits; rolls back on failure)",
        "timeout": "with --deploy: how long helm waits (default 10m)",
        "json": "print a machine-readable report instead of the stages",
        "kube_context": "with --deploy: the kube context to deploy to (default: the current one)",
        **SIGN_HELP,
    },
)
@user_errors
def release(  # noqa: PLR0917 (invoke turns every parameter into a flag)
    c: Context,
    env: str | None = None,
    values: list[str] | None = None,
    repo: str | None = None,
    oci: str | None = None,
    plain_http: bool = False,
    dry_run: bool = False,
    deploy: bool = False,
    timeout: str = deploying.DEFAULT_TIMEOUT,
    json: bool = False,
    sign: bool = False,
    key: str | None = None,
    keyring: str | None = None,
    passphrase_file: str | None = None,
    kube_context: str | None = None,
) -> None:
    """lint, check, gates, diff against the last release, package, publish (and deploy) one env."""
    if kube_context and not deploy:
        raise UsageError("--kube-context goes with --deploy")
    if dry_run and deploy:
        preview = "invoke diff --against cluster previews a deploy"
        raise UsageError(f"--dry-run stops before publishing, so not with --deploy ({preview})")
    report = releasing.run(
        _one_env(env),
        prj=PRJ,
        overlays=values or [],
        repo_dir=Path(repo) if repo else None,
        oci=oci,
        plain_http=plain_http,
        sign=_signing(sign, key, keyring, passphrase_file),
        dry_run=dry_run,
        deploy=deploy,
        kube_context=kube_context,
        timeout=timeout,
        progress=None if json else _progress,
    )
    if json:
        print(jsonlib.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        if report.diff is not None and report.diff.differs:
            print(diffing.text(report.diff, color=_color()))
        for line in report.summary():
            print(line)
    if not report.ok:
        _fail(report.findings)


@task(
    help={
        "env": "the environment the release on the kube context's cluster must belong to",
        "revision": "the revision to go back to (default: the one before the current)",
        "timeout": "how long helm waits (default 10m)",
        "kube_context": "the kube context (default: the current one); its cluster must be the env's",
    }
)
@user_errors
def rollback(
    c: Context,
    env: str | None = None,
    revision: str | None = None,
    timeout: str = deploying.DEFAULT_TIMEOUT,
    kube_context: str | None = None,
) -> None:
    """helm rollback of the env's release, waiting until it is ready; the env guard runs first."""
    env = _one_env(env)
    if revision is not None and not revision.isdigit():
        raise UsageError(f'--revision "{revision}": must be a revision number (helm history lists them)')
    start = time.perf_counter()
    target = kube.resolve(PRJ, kube_context)
    cluster = preflighting.cluster_of(values_of(env, (), PRJ).merged)
    result = deploying.rollback(
        PRJ,
        env=env,
        target=target,
        cluster_of_env=cluster,
        revision=int(revision) if revision else None,
        timeout=timeout,
    )
    detail = f"{result.release} is at revision {result.revision} ({result.status}, {result.chart})"
    print(_line(StageResult("rollback", env, time.perf_counter() - start, (), detail)))


@task(
    iterable=["values"],
    help={
        **ENV_HELP,
        "kube_context": "the kube context to check (default: the current one); its cluster must be the env's",
        "list": "print every env's prerequisites (the README list) and exit; needs no cluster",
    },
)
@user_errors
def preflight(
    c: Context,
    env: str | None = None,
    values: list[str] | None = None,
    kube_context: str | None = None,
    list: bool = False,
) -> None:
    """Check the cluster holds every prerequisite of the env (README "Before you install"), one line a gap."""
    if list:
        print(prerequisites.readme_list(PRJ), end="")
        return
    env = _one_env(env)
    start = time.perf_counter()
    target = kube.resolve(PRJ, kube_context)
    report = preflighting.run(PRJ, env, target=target, overlays=values or [])
    for need in report.unchecked:
        print(f"not checked (outside the cluster): {need.describe()}")
    detail = f"{target.describe()}: {len(report.needs) - len(report.unchecked)} prerequisites checked"
    problems = tuple(Finding(target.context, "", line) for line in report.problems)
    print(_line(StageResult("preflight", env, time.perf_counter() - start, problems, detail)))
    if problems:
        _fail(problems)


@task(
    name="cluster-up",
    help={"name": "the cluster's name in the kubeconfig (default dev, as global.cluster of values/dev.yaml)"},
)
@user_errors
def cluster_up(c: Context, name: str = "dev") -> None:
    """Start the local control plane (etcd, API server, controller-manager, scheduler, 3 kwok nodes)."""
    report = local_cluster.up(PRJ, name)
    if report.already_running:
        print(f"cluster   {report.name:<8} ok    already running")
    for component in report.components:
        print(f"{component.name:<23} ok {component.seconds:6.2f}s  {component.detail}")
    print(f"export KUBECONFIG={report.kubeconfig}   # context keelson-{report.name}")


@task(name="cluster-down")
@user_errors
def cluster_down(c: Context) -> None:
    """Stop the processes cluster-up started and remove .cluster/."""
    stopped = local_cluster.down(PRJ)
    print(f"stopped {', '.join(stopped)}" if stopped else "no cluster was running")


@task(
    help={
        "sizes": "comma-separated object counts to diff (default 1000,10000)",
        "ratios": "instead: Keelson's CPU against its floor or peer (helm template, dyff), as ratios",
        "repeat": "with --ratios: interleaved runs of each side; the median is shown (default 5)",
        "cases": "with --ratios: comma-separated subset of check,all,release,diff,scale",
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
