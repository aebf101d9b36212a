"""The Artifact Hub annotations of every chart's Chart.yaml, generated from the project's sources.

    for item in artifacthub.stale(prj, prod_objects):   # invoke annotations --check
        print(item.chart, "is stale")

Each chart's ``annotations:`` block is generated, committed and checked, never hand-edited:

- ``artifacthub.io/changes``: the bullets of the newest CHANGELOG.md section (``Unreleased`` first)
  that has any for the chart, with the kind of their ``### Added/Changed/Fixed/Removed`` heading and
  the bullet's first sentence as the description. A bullet is the chart's when it names the chart
  or a chart it embeds (``loki``, ``keelson-common``); the umbrella also takes ``umbrella``.
- ``artifacthub.io/images``: every image the prod render's workloads of that chart (and the charts
  it embeds) run; the umbrella's are all of them.
- ``artifacthub.io/license``: pyproject.toml's ``license``.
- ``artifacthub.io/links``: the source, the changelog and the chart docs, under ``home``.
- ``artifacthub.io/signKey``: the cosign public key committed as ``cosign.pub`` (its url, and the
  SHA-256 of its DER form as the fingerprint); without that file there is none, since a url to a
  key that is not published would be a false promise. Artifact Hub finds the cosign signature of
  an OCI chart by itself; the annotation only tells users which key to verify with.

Committed rather than added while packaging: what Artifact Hub shows is then what a reviewer saw
in the diff, ``helm package`` of the sources gives the same Chart.yaml as ``invoke package``, and a
chart's archive digest depends on its own folder alone, so the version-bump check stays exact.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from keelson import k8s
from keelson.charts import Chart, all_charts
from keelson.errors import KeelsonError
from keelson.yamlio import load_mapping

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

COMMAND = "invoke annotations"
PREFIX = "artifacthub.io/"
PUBLIC_KEY = "cosign.pub"
KINDS = {"Added": "added", "Changed": "changed", "Deprecated": "deprecated", "Fixed": "fixed",
         "Removed": "removed", "Security": "security"}  # fmt: skip
_BULLET = re.compile(r"^- (.*(?:\n  .*)*)", re.MULTILINE)
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf"}  # their dot ends no sentence
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.DOTALL)
# Each line of the block ends in a newline or, the block being last, the end of the file.
_BLOCK = re.compile(r"^annotations:[^\n]*(?:\n|\Z)(?:(?:[ \t][^\n]*)?(?:\n|\Z))*", re.MULTILINE)


class AnnotationError(KeelsonError):
    """An input of the annotations cannot be read (CHANGELOG.md, pyproject.toml, cosign.pub)."""


@dataclass(frozen=True)
class Generated:
    chart: str
    target: Path  # charts/<chart>/Chart.yaml
    annotations: dict[str, str]  # what helm and Artifact Hub read: each value a YAML document
    text: str  # the whole Chart.yaml with that block


def changelog_sections(text: str) -> list[list[tuple[str, str]]]:
    """Each ``## `` section of a Keep a Changelog file, newest first, as ``(kind, bullet)`` pairs;
    a bullet's continuation lines are joined into one line."""
    sections: list[list[tuple[str, str]]] = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        entries: list[tuple[str, str]] = []
        for part in re.split(r"^### ", section, flags=re.MULTILINE)[1:]:
            heading, _, body = part.partition("\n")
            kind = KINDS.get(heading.strip())
            if kind:
                entries += [(kind, " ".join(b.split())) for b in _BULLET.findall(body)]
        sections.append(entries)
    return sections


def headline(bullet: str) -> str:
    """The bullet up to its first sentence end: ``. `` or ``: `` outside backticks and brackets."""
    depth, code = 0, False
    for at, char in enumerate(bullet):
        if char == "`":
            code = not code
        elif not code and char in "([":
            depth += 1
        elif not code and char in ")]":
            depth = max(depth - 1, 0)
        elif not code and not depth and char in ".:" and bullet[at + 1 : at + 2].isspace():
            word = bullet[:at].rsplit(None, 1)[-1] if bullet[:at].strip() else ""
            if word and not word.endswith(".") and word.lower() not in _ABBREVIATIONS:
                return bullet[:at] + ("." if char == "." else "")
    return bullet


def _names(chart: Chart, umbrella: bool) -> set[str]:
    names = {chart.name, *(name for dependency in chart.dependencies for name in _names(dependency, False))}
    return names | {"umbrella"} if umbrella else names


def _mentions(bullet: str, names: set[str]) -> bool:
    return any(
        re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w-]|[/.]\w)", bullet, re.IGNORECASE) for name in names
    )


def changes(sections: Sequence[list[tuple[str, str]]], names: set[str]) -> list[dict[str, str]]:
    for entries in sections:
        mine = [{"kind": kind, "description": headline(b)} for kind, b in entries if _mentions(b, names)]
        if mine:
            return mine
    return []


def images_by_chart(objects: Sequence[Object]) -> dict[str, set[str]]:
    """The images of the workloads each chart rendered (its ``helm.sh/chart`` label)."""
    found: dict[str, set[str]] = {}
    for obj in k8s.expand_lists(objects):
        found.setdefault(k8s.chart_of(obj), set()).update(k8s.images([obj]))
    return found


def image_entries(images: set[str]) -> list[dict[str, str]]:
    """Artifact Hub's ``{name, image}``: the name is the image's last path part without the tag."""
    return [
        {"name": image.rsplit("/", 1)[-1].split("@")[0].split(":")[0], "image": image}
        for image in sorted(images)
    ]


def _chart_images(chart: Chart, by_chart: dict[str, set[str]]) -> set[str]:
    return by_chart.get(chart.name, set()).union(*(_chart_images(d, by_chart) for d in chart.dependencies))


def license_id(prj: Project) -> str:
    path = prj.root / "pyproject.toml"
    try:
        found = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("license")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AnnotationError(f"{prj.display(path)}: cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(found, str) or not found:
        raise AnnotationError(
            f"{prj.display(path)}: project.license: missing; an SPDX identifier such as Apache-2.0"
        )
    return found


def public_key_fingerprint(path: Path, shown: str) -> str:
    """SHA-256 of the key's DER form (``openssl pkey -pubin -outform DER | sha256sum``); ``shown``
    names the file in errors."""
    written_by = "cosign generate-key-pair writes cosign.pub"
    try:
        match = _PEM.search(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AnnotationError(f"{shown}: not a PEM public key (not UTF-8 text; {written_by})") from None
    if not match:
        raise AnnotationError(f"{shown}: not a PEM public key ({written_by})")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except binascii.Error:
        raise AnnotationError(
            f"{shown}: not a PEM public key (the body is not base64; {written_by})"
        ) from None
    return hashlib.sha256(der).hexdigest()


def _document(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, width=100, allow_unicode=True)


def block(annotations: dict[str, str]) -> str:
    lines = ["annotations:"]
    for key, value in annotations.items():
        if "\n" in value:
            lines.append(f"  {key}: |")
            lines += [f"    {line}" for line in value.splitlines()]
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


def with_block(text: str, annotations: dict[str, str]) -> str:
    """``text`` (a Chart.yaml) with its top-level ``annotations:`` block replaced, at the end."""
    kept = _BLOCK.sub("", text).rstrip("\n") + "\n"
    return kept + block(annotations) if annotations else kept


def generate(prj: Project, prod_objects: Sequence[Object]) -> list[Generated]:
    """Every chart's Chart.yaml with its generated annotations, in build order."""
    changelog = prj.root / "CHANGELOG.md"
    try:
        sections = changelog_sections(changelog.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnnotationError(f"{prj.display(changelog)}: cannot be read ({exc.strerror})") from None
    by_chart = images_by_chart(prod_objects)
    license_value = license_id(prj)
    key = prj.root / PUBLIC_KEY
    fingerprint = public_key_fingerprint(key, prj.display(key)) if key.is_file() else ""
    results = []
    for chart in all_charts(prj.charts_dir):
        target = chart.path / "Chart.yaml"
        home = str(load_mapping(target, prj.display(target)).get("home") or "").rstrip("/")
        umbrella = chart.path == prj.umbrella.resolve()
        found: dict[str, str] = {}
        chart_changes = changes(sections, _names(chart, umbrella))
        if chart_changes:
            found[f"{PREFIX}changes"] = _document(chart_changes)
        images = k8s.images(prod_objects) if umbrella else _chart_images(chart, by_chart)
        if images:
            found[f"{PREFIX}images"] = _document(image_entries(set(images)))
        found[f"{PREFIX}license"] = license_value
        if home:
            found[f"{PREFIX}links"] = _document(
                [
                    {"name": "source", "url": home},
                    {"name": "changelog", "url": f"{home}/blob/main/CHANGELOG.md"},
                    {"name": "chart docs", "url": f"{home}/blob/main/docs/charts.md"},
                ]
            )
        if fingerprint and home:
            found[f"{PREFIX}signKey"] = _document(
                {"fingerprint": fingerprint, "url": f"{home}/blob/main/{PUBLIC_KEY}"}
            )
        text = target.read_text(encoding="utf-8")
        results.append(Generated(chart.name, target, found, with_block(text, found)))
    return results


def stale(prj: Project, prod_objects: Sequence[Object]) -> list[Generated]:
    return [
        item for item in generate(prj, prod_objects) if item.target.read_text(encoding="utf-8") != item.text
    ]


def write(prj: Project, prod_objects: Sequence[Object]) -> list[Generated]:
    written = stale(prj, prod_objects)
    for item in written:
        item.target.write_text(item.text, encoding="utf-8")
    return written
