"""The release record: what one environment's release is made of (``release.json``).

It names the umbrella and every chart with version, archive and sha256, every image of the render,
the git commit, the values files and the values as helm got them, with their digest (``sha256``
of their canonical JSON). A record is kept and shared, so it never holds a value the secret
detector (keelson.secretscan) flags: ``write_record`` refuses one that would.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson import secretscan
from keelson.errors import KeelsonError
from keelson.models import format_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keelson.project import Project

RECORD = "release.json"


class RecordError(KeelsonError):
    """A release record cannot be read, or would hold a secret."""


@dataclass(frozen=True)
class ChartRecord:
    name: str
    version: str
    archive: str
    sha256: str
    provenance: str | None = None


@dataclass(frozen=True)
class ReleaseRecord:
    """What one environment's release is made of; ``release.json`` in the package folder."""

    env: str
    chart: str  # the umbrella's name
    version: str  # the umbrella's version
    charts: tuple[ChartRecord, ...]
    images: tuple[str, ...]
    git_sha: str
    git_dirty: bool
    commit_time: str
    values_digest: str
    values: dict[str, Any]  # values/<env>.yaml and overlays, as helm got them (never secrets: see record)
    objects: int
    values_files: tuple[str, ...] = ()  # values/<env>.yaml, then the overlays in order
    oci: tuple[str, ...] = ()  # references pushed with helm push
    deploy: dict[str, Any] = field(default_factory=dict)  # release, namespace, revision, status

    @property
    def umbrella(self) -> ChartRecord:
        return next(item for item in self.charts if item.name == self.chart)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "env": self.env,
            "chart": self.chart,
            "version": self.version,
            "charts": {
                item.name: {
                    "version": item.version,
                    "archive": item.archive,
                    "sha256": item.sha256,
                    **({"provenance": item.provenance} if item.provenance else {}),
                }
                for item in self.charts
            },
            "images": list(self.images),
            "git": {"sha": self.git_sha, "dirty": self.git_dirty, "commitTime": self.commit_time},
            "valuesDigest": self.values_digest,
            "valuesFiles": list(self.values_files),
            "values": self.values,
            "objects": self.objects,
        }
        if self.oci:
            data["oci"] = list(self.oci)
        if self.deploy:
            data["deploy"] = self.deploy
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReleaseRecord:
        charts = tuple(
            ChartRecord(name, str(item["version"]), item["archive"], item["sha256"], item.get("provenance"))
            for name, item in data["charts"].items()
        )
        return cls(
            env=data["env"],
            chart=data["chart"],
            version=str(data["version"]),
            charts=charts,
            images=tuple(data.get("images", ())),
            git_sha=data["git"]["sha"],
            git_dirty=bool(data["git"]["dirty"]),
            commit_time=data["git"]["commitTime"],
            values_digest=data["valuesDigest"],
            values=data.get("values") or {},
            values_files=tuple(data.get("valuesFiles", ())),
            objects=int(data.get("objects", 0)),
            oci=tuple(data.get("oci", ())),
            deploy=data.get("deploy") or {},
        )


def write_record(record: ReleaseRecord, path: Path) -> None:
    refuse_secrets(record.env, record.values)
    path.write_text(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_record(path: Path) -> ReleaseRecord:
    try:
        return ReleaseRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecordError(f"{path}: not a readable release record ({exc})") from exc


def values_files(env: str, overlays: Sequence[Path | str], prj: Project) -> list[str]:
    """The values files of a release as the user names them: values/<env>.yaml, then the overlays."""
    return [prj.display(prj.env_file(env)), *(prj.display(Path(item)) for item in overlays)]


def values_digest(values: dict[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def refuse_secrets(env: str, user_values: dict[str, Any]) -> None:
    """A release record is kept and shared: it never holds a value the secret detector flags."""
    found = list(secretscan.scan(user_values))
    if found:
        path, detection = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise RecordError(
            f"release record of {env}: values {format_path(path)}: {detection.detail}{more}; a record never "
            "holds a secret (keep it in a Secret provisioned outside the chart and reference it by name)"
        )
