"""What a release did: its stages, the diff, the packages, the plan and the record, for the
command line (``summary``) and for machines (``to_json``, ``invoke release --json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from keelson import diff as diffing
from keelson.stages import to_json as stages_json

if TYPE_CHECKING:
    from keelson import git
    from keelson.deploy import DeployResult
    from keelson.models import Finding, StageResult
    from keelson.package import PackageResult
    from keelson.publish import OciPush, PublishPlan
    from keelson.record import ReleaseRecord


@dataclass
class ReleaseReport:
    env: str
    dry_run: bool
    stages: list[StageResult] = field(default_factory=list)
    commit: git.Commit | None = None
    diff: diffing.DiffReport | None = None
    first_release: bool = False
    packaged: PackageResult | None = None
    plan: PublishPlan | None = None
    oci: list[OciPush] = field(default_factory=list)
    deployed: DeployResult | None = None
    record: ReleaseRecord | None = None
    written: list[str] = field(default_factory=list)  # paths moved into dist/, relative to the project
    committed: bool = False  # the write failed past its commit point: the next run finishes it

    @property
    def ok(self) -> bool:
        return all(stage.ok for stage in self.stages)

    @property
    def failed(self) -> StageResult | None:
        return next((stage for stage in self.stages if not stage.ok), None)

    @property
    def findings(self) -> list[Finding]:
        return [finding for stage in self.stages for finding in stage.findings]

    def summary(self) -> list[str]:
        if not self.ok:
            failed = self.failed
            state = "the next run completes the write" if self.committed else "dist/ is unchanged"
            return [f"release {self.env}: stopped at {failed.stage if failed else '?'}; {state}"]
        lines = []
        if self.record is not None:
            rec = self.record
            lines.append(f"release {self.env}: {rec.chart} {rec.version} from {rec.git_sha[:12]}")
            lines.append(f"  values {self.record.values_digest[:19]}, {len(self.record.images)} images")
        if self.plan is not None:
            added = ", ".join(f"{d.name} {d.version}" for d in self.plan.added) or "nothing new"
            verb = "would add" if self.dry_run else "added"
            unchanged = len(self.plan.unchanged)
            lines.append(f"  repository {self.plan.repo_dir} {verb}: {added} ({unchanged} already published)")
        lines += [
            f"  pushed {push.reference} {push.digest}{' signed with cosign' if push.signed else ''}".rstrip()
            for push in self.oci
        ]
        if self.deployed is not None:
            d = self.deployed
            lines.append(f"  deployed {d.release} revision {d.revision} ({d.status}) in {d.namespace}")
        written = f"  wrote {len(self.written)} path(s) into dist/"
        lines.append("  dry run: nothing written" if self.dry_run else written)
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            **stages_json(self.env, self.stages),
            "dryRun": self.dry_run,
            "commit": {"sha": self.commit.sha, "dirty": list(self.commit.dirty)} if self.commit else None,
            "diff": diffing.to_json(self.diff) if self.diff else None,
            "firstRelease": self.first_release,
            "archives": [
                {"name": a.name, "version": a.version, "file": a.file, "sha256": a.sha256, "action": d.action}
                for a, d in zip(
                    self.packaged.archives if self.packaged else (),
                    self.plan.decisions if self.plan else (),
                    strict=False,
                )
            ],
            "oci": [asdict(push) for push in self.oci],
            "deploy": self.deployed.to_json() if self.deployed else None,
            "record": self.record.to_json() if self.record else None,
            "written": self.written,
            "summary": self.summary(),
        }
