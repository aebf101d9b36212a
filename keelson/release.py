"""The release pipeline: [target → prerequisites, with --deploy] → preflight → check (values, schema,
render; then lint; kube, configs, gates, rules) → diff against the env's last release →
package → publish → deploy → write. ``target`` is the env guard and ``prerequisites`` is
keelson.preflight on the target.

    report = release.run("prod")                   # a ReleaseReport: stages, diff, record, ...
    report = release.run("prod", dry_run=True)      # everything but publishing; dist/ untouched

The values, their schema and the charts' own validation (at render) are checked before lint
(seconds), so a bad overlay fails fast. Nothing is written into ``dist/`` before the last stage.
Packages, the merged index and the release record are staged beside their targets
(``keelson.staging``); ``write`` commits them with one journal rename and then moves them into place
(archives, then ``index.yaml``, then ``packages/<env>/`` and ``releases/<env>.json``). A failure
before the commit leaves ``dist/`` byte for byte as it was; a crash after it is completed by the
next run. The repository lock is held from reading the index to the last move, so concurrent
releases queue. A prod release refuses a dirty git tree; image pinning is the gates' (KEEL002, which
honours waivers).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from keelson import against, git, helm, immutable, kube, package, publish, repository, staging, values
from keelson import check as checking
from keelson import deploy as deploying
from keelson import diff as diffing
from keelson import lint as linting
from keelson import preflight as preflighting
from keelson.errors import FindingsError, KeelsonError
from keelson.models import Finding
from keelson.project import OPTIONAL_APIS, Project, check_env, project
from keelson.record import values_files, write_record
from keelson.releasereport import ReleaseReport
from keelson.stages import Progress, Stage, Stages
from keelson.staging import Staging, dist_dir

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from keelson.check import CheckReport
    from keelson.cosign import SigningKey
    from keelson.models import Object

__all__ = ["STAGES", "STRICT_ENVS", "ReleaseError", "ReleaseReport", "run"]

STAGES = (
    "target",  # --deploy: the env guard (the kube context's cluster is the env's), in seconds
    "prerequisites",  # --deploy: preflight against the target, before anything is built
    "preflight",
    "check",  # values, schema and render, then lint, then kube, configs, gates and rules
    "lint",
    "diff",
    "package",
    "publish",
    "deploy",
    "write",
)
STRICT_ENVS = frozenset({"prod"})  # clean git tree required


class ReleaseError(KeelsonError):
    """The release was refused (dirty tree) or stopped at a stage."""


class _Stop(Exception):
    """A stage failed; its result is already in the report."""


@dataclass
class _Release:
    env: str
    prj: Project
    overlays: Sequence[Path | str]
    dist: Path
    repo: Path
    report: ReleaseReport
    stages: Stages
    objects: list[Object] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)  # the repository's, read once under its lock
    # With --deploy, the env guard loads the values first; prerequisites and the check reuse them.
    loaded: values.MergedValues | None = None
    target: kube.Target | None = None  # with --deploy

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """One stage of the runner; a failed stage stops the release."""
        with self.stages.run(name) as stage:
            try:
                yield stage
            except OSError as exc:  # a full or read-only disk: one short line, not a listing
                raise KeelsonError(staging.describe(exc)) from exc
        if not self.stages.ok:
            raise _Stop

    def guard(self, kube_context: str | None) -> None:
        """The env guard, before anything else: a wrong cluster is refused in seconds, not after lint."""
        with self.stage("target") as stage:
            self.target = target = kube.resolve(self.prj, kube_context)
            self.loaded = values.load(self.env, self.overlays, self.prj)
            cluster = preflighting.cluster_of(self.loaded.merged)
            revisions = deploying.guard(self.prj, self.env, target, cluster_of_env=cluster)
            last = f"at revision {revisions[-1].revision}" if revisions else "not installed yet"
            stage.detail.append(f"{target.describe()}: {target.release} in {target.namespace} {last}")

    def prerequisites(self) -> None:
        """Everything the target must hold, and no upgrade Kubernetes would refuse, before helm runs."""
        assert self.target is not None
        with self.stage("prerequisites") as stage:
            found = preflighting.run(
                self.prj, self.env, target=self.target, overlays=self.overlays, loaded=self.loaded
            )
            checked = len(found.needs) - len(found.unchecked)
            stage.detail.append(f"{checked} prerequisites present, {len(found.objects)} objects to install")
            if found.problems:
                raise FindingsError([Finding(self.target.context, "", line) for line in found.problems])

    def preflight(self) -> None:
        with self.stage("preflight") as stage:
            self.report.commit = commit = git.head(self.prj.root)
            state = "clean" if commit.clean else f"{len(commit.dirty)} uncommitted change(s)"
            stage.detail.append(f"commit {commit.sha[:12]}, {state}")
            if self.env in STRICT_ENVS and not commit.clean:
                raise ReleaseError(
                    f"{self.env} releases come from a clean git tree; {len(commit.dirty)} uncommitted "
                    f"change(s), first: {commit.dirty[0].strip()} (commit or stash them)"
                )

    def lint(self, user: dict[str, Any]) -> None:
        """Once, after the values, schema and render passed, with the values the check loaded
        (overlays included); unchanged inputs that linted clean before are not linted again
        (keelson.memo)."""
        with self.stage("lint") as stage:
            results = linting.run([self.env], self.prj, rendered_values={self.env: user})
            stage.findings += [finding for result in results for finding in result.findings]
            stage.detail.append(", ".join(f"{result.stage} {result.seconds:.1f}s" for result in results))

    def check(self) -> None:
        reported = 0

        def lint_after_render(partial: CheckReport) -> None:
            nonlocal reported
            for result in partial.stages:
                self.stages.add(result)
            reported = len(partial.stages)
            self.lint(partial.user)

        checked = checking.check(
            self.env, self.overlays, self.prj, after_render=lint_after_render, loaded=self.loaded
        )
        for result in checked.stages[reported:]:
            self.stages.add(result)
        if not checked.ok:
            raise _Stop
        self.objects = checked.objects
        self.user = checked.user

    def diff(self) -> None:
        report = self.report
        with self.stage("diff") as stage:
            # Read once, holding the repository lock: the diff, package and publish stages share it.
            self.index = repository.load_index(self.repo)
            side = against.render_last(
                self.env, self.prj, self.repo, self.dist, index=self.index, held=[self.repo]
            )
            if side is None:
                report.first_release = True
                stage.detail.append(f"first release of {self.env}: {len(self.objects)} objects")
                return
            sha = report.commit.sha[:7] if report.commit else "?"
            report.diff = diffing.compare(
                side.objects, self.objects, old=side.label, new=f"{self.env} at {sha}"
            )
            stage.detail.append(f"against {side.label}: {report.diff.summary}")
            # A deploy compares with the live objects instead (prerequisites), which a migration changed.
            if self.target is None and (refused := immutable.changes(side.objects, self.objects)):
                raise FindingsError([Finding(side.label, "", line) for line in refused])

    def package(self, staged: Staging, sign: package.Signing | None) -> None:
        with self.stage("package") as stage:
            packaged = package.package(
                self.env,
                self.prj,
                staged.path / "packages",
                objects=self.objects,
                user_values=self.user,
                index=self.index,
                sign=sign,
                values_files=values_files(self.env, self.overlays, self.prj),
            )
            self.report.packaged = packaged
            # The archive is what consumers install: it must render exactly what was checked.
            umbrella = packaged.folder / packaged.umbrella.file
            rendered = helm.render_archive(self.prj, umbrella, self.user, api_versions=OPTIONAL_APIS)
            drift = diffing.compare(self.objects, rendered, old="sources", new=umbrella.name)
            if drift.differs:
                raise ReleaseError(f"{umbrella.name} renders unlike the sources: {drift.summary}")
            new = sum(1 for decision in packaged.decisions if decision.action == "add")
            stage.detail.append(
                f"{len(packaged.archives)} charts ({new} new), {umbrella.name} "
                f"sha256 {packaged.umbrella.sha256[:12]}, renders the checked {len(rendered)} objects"
            )

    def publish(
        self,
        staged: Staging,
        *,
        dry_run: bool,
        oci: str | None,
        plain_http: bool,
        cosign_key: SigningKey | None,
    ) -> None:
        report = self.report
        assert report.packaged is not None
        with self.stage("publish") as stage:
            report.plan = plan = publish.prepare(
                report.packaged, self.repo, self.index, staged.area(self.repo), now=publish.now()
            )
            added = ", ".join(f"{d.name} {d.version}" for d in plan.added) or "nothing new"
            index = "updated" if plan.index_changed else "unchanged"
            stage.detail.append(
                f"{self.prj.display(self.repo)} {'would add' if dry_run else 'adds'} {added}; index {index}"
            )
            if oci and not dry_run:
                report.oci = publish.push_oci(
                    self.prj, report.packaged, oci, plain_http=plain_http, cosign_key=cosign_key
                )
                signed = " and signed them with cosign" if cosign_key else ""
                stage.detail.append(f"; pushed {len(report.oci)} chart(s) to {oci}{signed}")
            elif oci:
                stage.detail.append(f"; would push to {oci}{' and sign with cosign' if cosign_key else ''}")

    def deploy(self, timeout: str) -> None:
        report = self.report
        assert report.packaged is not None
        assert self.target is not None
        with self.stage("deploy") as stage:
            rec = report.packaged.record
            report.deployed = result = deploying.upgrade(
                self.prj,
                report.packaged.folder / report.packaged.umbrella.file,
                self.user,
                env=self.env,
                target=self.target,
                description=f"keelson {self.env} {rec.version} {rec.git_sha[:12]}",
                timeout=timeout,
            )
            stage.detail.append(
                f"{result.action} {result.release} revision {result.revision} ({result.status}), "
                f"{len(result.installed)} objects installed"
            )

    def write(self, staged: Staging) -> None:
        report = self.report
        assert report.packaged is not None
        assert report.plan is not None
        with self.stage("write") as stage:
            rec = replace(
                report.packaged.record,
                oci=tuple(push.reference for push in report.oci),
                deploy=report.deployed.to_json() if report.deployed else {},
            )
            if report.deployed is not None:
                # What the cluster got (helm get manifest), not the render with every optional API.
                rec = replace(rec, objects=len(report.deployed.installed))
            staged_record = staged.path / "record.json"
            staging.crash_point()
            write_record(rec, staged_record)
            moves = [
                *publish.moves(report.plan),
                (report.packaged.folder, self.dist / "packages" / self.env),
                (staged_record, against.record_path(self.prj, self.env, self.dist)),
            ]
            try:
                staged.commit(moves, locks=[self.repo])
            except staging.WriteError as exc:
                report.committed = exc.committed
                raise
            report.record = rec
            report.written = [self.prj.display(target) for _, target in moves]
            stage.detail.append(f"{len(moves)} path(s) into {self.prj.display(self.dist)}")


def run(
    env: str,
    *,
    prj: Project | None = None,
    overlays: Sequence[Path | str] = (),
    repo_dir: Path | None = None,
    dist: Path | None = None,
    oci: str | None = None,
    plain_http: bool = False,
    cosign_key: SigningKey | None = None,
    sign: package.Signing | None = None,
    dry_run: bool = False,
    deploy: bool = False,
    kube_context: str | None = None,
    timeout: str = kube.ROLLOUT_TIMEOUT,
    progress: Progress | None = None,
) -> ReleaseReport:
    """Release ``env``; the report says how each stage went (``report.ok``, ``report.failed``)."""
    prj = prj or project()
    check_env(env)
    dist = dist or dist_dir(prj)
    report = ReleaseReport(env, dry_run)
    stages = Stages(env, report.stages, progress)
    steps = _Release(env, prj, overlays, dist, repo_dir or dist / "repo", report, stages)
    try:
        if deploy:
            steps.guard(kube_context)
            steps.prerequisites()
        steps.preflight()
        steps.check()  # values, schema and render, then lint, then the rest of the check
        with Staging(dist) as staged, repository.lock(steps.repo):
            try:
                steps.diff()
                steps.package(staged, sign)
                steps.publish(staged, dry_run=dry_run, oci=oci, plain_http=plain_http, cosign_key=cosign_key)
                if dry_run:
                    return report
                if deploy:
                    steps.deploy(timeout)
                steps.write(staged)
            finally:
                staged.drop_areas()  # before the lock goes: a repository it made is removed if empty
    except _Stop:
        pass
    return report
