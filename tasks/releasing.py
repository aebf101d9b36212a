"""Tasks that ship: diff, package, publish, release, rollback and preflight."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.exceptions import Exit
from invoke.tasks import task

from keelson.errors import KeelsonError, UsageError
from keelson.kube import ROLLOUT_TIMEOUT
from keelson.models import Finding
from tasks.common import ENV_HELP, PRJ, color, fail, one_env, print_json, progress, stage, user_errors

if TYPE_CHECKING:
    from invoke.context import Context

    from keelson import package as packaging
    from keelson.cosign import SigningKey

# Each task imports the modules it runs when it runs (pyproject.toml says why).


def _signing(
    sign: bool, key: str | None, keyring: str | None, passphrase_file: str | None
) -> packaging.Signing | None:
    from keelson import package as packaging

    if not sign:
        if key or keyring or passphrase_file:
            raise UsageError("--key, --keyring and --passphrase-file go with --sign")
        return None
    if not key or not keyring:
        raise UsageError("--sign needs --key NAME and --keyring PATH (a secret keyring file)")
    return packaging.Signing(key, Path(keyring), Path(passphrase_file) if passphrase_file else None)


def _cosign_key(cosign_key: str | None, oci: str | None) -> SigningKey | None:
    """The checked key file of --cosign-key, before anything runs (the password: COSIGN_PASSWORD)."""
    from keelson import cosign

    if not cosign_key:
        return None
    if not oci:
        raise UsageError("--cosign-key goes with --oci: cosign signs the charts pushed there")
    return cosign.signing_key(Path(cosign_key))


COSIGN_HELP = (
    "with --oci: sign each pushed chart with cosign and this private key file "
    "(its password in COSIGN_PASSWORD; no transparency log)"
)

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
    from keelson import against as sides
    from keelson import diff as diffing
    from keelson import immutable, kube

    env = one_env(env)
    if not against:
        raise UsageError("--against is required (an env, a git ref, a published version, last or cluster)")
    # Against the cluster, render what helm would install there: only the APIs it serves.
    target = kube.resolve(PRJ, kube_context) if against == "cluster" else None
    objects, user = sides.render_env(env, PRJ, values or [], kube_context=target.context if target else None)
    side = sides.resolve(
        against, env=env, prj=PRJ, repo_dir=Path(repo) if repo else None, user_values=user, target=target
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
        print(diffing.text(report, color=color()))
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
    from keelson import check as checking
    from keelson import package as packaging
    from keelson import record

    env = one_env(env)
    signing = _signing(sign, key, keyring, passphrase_file)
    overlays = values or []
    with stage(env, "package") as step:
        checked = checking.check(env, overlays, PRJ, until="render")
        if not checked.ok:
            raise packaging.PackageError(KeelsonError.from_findings(checked.findings).message)
        result = packaging.run(
            env,
            PRJ,
            objects=checked.objects,
            user_values=checked.user,
            values_files=record.values_files(env, overlays, PRJ),
            repo_dir=Path(repo) if repo else None,
            sign=signing,
        )
        for archive, decision in zip(result.archives, result.decisions, strict=True):
            state = "new" if decision.action == "add" else "published"
            print(f"{archive.file:<28} sha256:{archive.sha256}  {state}")
        step.detail.append(
            f"{len(result.archives)} archives and {record.RECORD} in {PRJ.display(result.folder)}"
        )


@task(
    name="publish",
    help={
        "env": "dev, staging or prod: publishes what invoke package left in dist/packages/<env>/",
        "repo": "the directory chart repository (default dist/repo)",
        "oci": "also push every chart with helm push to this oci://host/path",
        "plain_http": "talk plain HTTP to the OCI registry (a registry on loopback)",
        "cosign_key": COSIGN_HELP,
    },
)
@user_errors
def publish_(  # noqa: PLR0917 (invoke turns every parameter into a flag)
    c: Context,
    env: str | None = None,
    repo: str | None = None,
    oci: str | None = None,
    plain_http: bool = False,
    cosign_key: str | None = None,
) -> None:
    """Merge the packaged charts into the repository index (never dropping a version); --oci pushes."""
    from keelson import publish as publishing

    env = one_env(env)
    key = _cosign_key(cosign_key, oci)
    with stage(env, "publish") as step:
        result = publishing.run(
            env, PRJ, repo_dir=Path(repo) if repo else None, oci=oci, plain_http=plain_http, cosign_key=key
        )
        for decision in result.plan.decisions:
            print(f"{decision.file:<28} {'added' if decision.action == 'add' else 'already published'}")
        for push in result.oci:
            print(f"pushed {push.reference} {push.digest}{' signed with cosign' if push.signed else ''}")
        index = "index.yaml updated" if result.plan.index_changed else "index.yaml unchanged"
        step.detail.append(
            f"{PRJ.display(result.plan.repo_dir)}: {index}; record {PRJ.display(result.record_path)}"
        )


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
        "cosign_key": COSIGN_HELP,
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
    timeout: str = ROLLOUT_TIMEOUT,
    json: bool = False,
    sign: bool = False,
    key: str | None = None,
    keyring: str | None = None,
    passphrase_file: str | None = None,
    kube_context: str | None = None,
    cosign_key: str | None = None,
) -> None:
    """lint, check, gates, diff against the last release, package, publish (and deploy) one env."""
    from keelson import diff as diffing
    from keelson import release as releasing

    if kube_context and not deploy:
        raise UsageError("--kube-context goes with --deploy")
    if dry_run and deploy:
        preview = "invoke diff --against cluster previews a deploy"
        raise UsageError(f"--dry-run stops before publishing, so not with --deploy ({preview})")
    report = releasing.run(
        one_env(env),
        prj=PRJ,
        overlays=values or [],
        repo_dir=Path(repo) if repo else None,
        oci=oci,
        plain_http=plain_http,
        cosign_key=_cosign_key(cosign_key, oci),
        sign=_signing(sign, key, keyring, passphrase_file),
        dry_run=dry_run,
        deploy=deploy,
        kube_context=kube_context,
        timeout=timeout,
        progress=None if json else progress,
    )
    if json:
        print_json(report.to_json())
    else:
        if report.diff is not None and report.diff.differs:
            print(diffing.text(report.diff, color=color()))
        for line in report.summary():
            print(line)
    if not report.ok:
        fail(report.findings, json=json)


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
    timeout: str = ROLLOUT_TIMEOUT,
    kube_context: str | None = None,
) -> None:
    """helm rollback of the env's release, waiting until it is ready; the env guard runs first."""
    from keelson import deploy as deploying
    from keelson import kube
    from keelson import preflight as preflighting
    from keelson.values import load as values_of

    env = one_env(env)
    if revision is not None and not revision.isdigit():
        raise UsageError(f'--revision "{revision}": must be a revision number (helm history lists them)')
    with stage(env, "rollback") as step:
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
        step.detail.append(
            f"{result.release} is at revision {result.revision} ({result.status}, {result.chart})"
        )


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
    from keelson import kube, prerequisites
    from keelson import preflight as preflighting

    if list:
        print(prerequisites.readme_list(PRJ), end="")
        return
    env = one_env(env)
    with stage(env, "preflight") as step:
        target = kube.resolve(PRJ, kube_context)
        report = preflighting.run(PRJ, env, target=target, overlays=values or [])
        for need in report.unchecked:
            print(f"not checked (outside the cluster): {need.describe()}")
        step.detail.append(
            f"{target.describe()}: {len(report.needs) - len(report.unchecked)} prerequisites checked"
        )
        step.findings += [Finding(target.context, "", problem) for problem in report.problems]
