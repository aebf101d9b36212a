"""Semantic diff of two renders: normalize away noise, mask Secrets, compare object by object.

    report = diff.compare(old_objects, new_objects, old="staging", new="prod")
    print(diff.text(report, color=False)); diff.to_json(report)

Normalizing drops what changes without meaning: the ``helm.sh/chart`` and
``app.kubernetes.io/version`` labels (everywhere, pod templates too), optionally the
``checksum/*`` annotations, and the order of lists that Kubernetes treats as sets (env by name,
ports by name or number, containers, volumes and mounts by name). Secret values (``List`` items
too) are replaced by ``<redacted: N bytes, hmac 0123456789ab>`` before anything is compared, and
every other string of a change that the secret detector flags is redacted the same way, so no
report, text or JSON, can hold one. The hmac key is drawn once per run (keelson.secretscan): the
two sides of one diff compare, and no word list can confirm a value offline. Objects are keyed
by ``apiVersion/kind/namespace/name`` and compared with deepdiff; only objects that differ are
handed to deepdiff, and only their differing branches, which keeps 10,000 objects within seconds
(scripts/bench_diff.py measures it).
"""

from __future__ import annotations

import difflib
import gc
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keelson.errors import KeelsonError
from keelson.k8s import CLUSTER_SCOPED
from keelson.project import NAMESPACE
from keelson.secretscan import mask_secret, safe_key, scrub

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from keelson.models import Object

NOISY_LABELS = frozenset({"helm.sh/chart", "app.kubernetes.io/version"})
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_KEYED = "\x00"  # marks a mapping key that stands for a list item's identity (containers[backend])


class DiffError(KeelsonError):
    """The objects to compare are not comparable (one side holds the same object twice)."""


def _name(item: dict[str, Any]) -> Any:
    return item.get("name")


def _port(item: dict[str, Any]) -> Any:
    if item.get("name"):
        return item["name"]
    number = item.get("containerPort", item.get("port"))
    return None if number is None else f"{number}/{item.get('protocol', 'TCP')}"


# Lists Kubernetes treats as sets, and the field that identifies an item in each.
SET_LISTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "env": _name,
    "ports": _port,
    "containers": _name,
    "initContainers": _name,
    "ephemeralContainers": _name,
    "volumes": _name,
    "volumeMounts": lambda item: item.get("mountPath"),
    "volumeDevices": lambda item: item.get("devicePath"),
    "imagePullSecrets": _name,
}


@dataclass(frozen=True, order=True)
class ObjectKey:
    kind: str
    namespace: str
    name: str
    api_version: str

    @property
    def key(self) -> str:
        return f"{self.api_version}/{self.kind}/{self.namespace}/{self.name}"

    @property
    def display(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.api_version})"

    def to_json(self) -> dict[str, str]:
        return {
            "key": self.key,
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }


def object_key(obj: Object, default_namespace: str = NAMESPACE) -> ObjectKey:
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind", ""))
    namespace = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or default_namespace)
    return ObjectKey(kind, namespace, str(meta.get("name", "")), str(obj.get("apiVersion", "")))


def _sort_key(identify: Callable[[dict[str, Any]], Any]) -> Callable[[Any], tuple[str, str]]:
    return lambda item: (
        json.dumps(identify(item), default=str),
        json.dumps(item, sort_keys=True, default=str),
    )


def _clean(node: Any, parent: Any, ignore_checksums: bool, keyed: bool) -> Any:
    """A normalized copy of ``node`` (which sits under the key ``parent``).

    ``keyed``: set-like lists become mappings by item identity (``\0backend``) for comparing, so an
    inserted env var is one addition rather than a shift, and order stops mattering (mappings
    compare without order); otherwise they are sorted by identity. Lists whose items have no
    unique identity are sorted either way.
    """
    if type(node) is dict:
        pairs: Iterable[tuple[Any, Any]] = node.items()
        if parent == "labels":
            pairs = [(k, v) for k, v in pairs if k not in NOISY_LABELS]
        elif parent == "annotations" and ignore_checksums:
            pairs = [(k, v) for k, v in pairs if not str(k).startswith("checksum/")]
        return {k: _clean(v, k, ignore_checksums, keyed) for k, v in pairs}
    if type(node) is not list:
        return node
    items = [_clean(item, None, ignore_checksums, keyed) for item in node]
    identify = SET_LISTS.get(parent) if type(parent) is str else None
    if identify is None or not items or not all(type(item) is dict for item in items):
        return items
    if keyed:
        keys = [f"{_KEYED}{ident}" for ident in map(identify, items) if ident is not None]
        if len(set(keys)) == len(items):
            return dict(zip(keys, items, strict=True))
    items.sort(key=_sort_key(identify))
    return items


def normalize(obj: Object, ignore_checksums: bool = False) -> Object:
    """``obj`` without noise, set-like lists sorted, Secret values redacted (a new object)."""
    cleaned: Object = _clean(mask_secret(obj), None, ignore_checksums, keyed=False)
    return cleaned


def comparable(obj: Object, ignore_checksums: bool = False) -> Object:
    """What ``compare`` compares: ``normalize`` with set-like lists keyed by identity."""
    cleaned: Object = _clean(mask_secret(obj), None, ignore_checksums, keyed=True)
    return cleaned


def format_path(path: Iterable[Any]) -> str:
    """``spec.template.spec.containers[backend].env[LOG_LEVEL].value``; odd keys quoted."""
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif str(key).startswith(_KEYED):
            text += f"[{safe_key(str(key)[1:])}]"
        elif _BARE.fullmatch(str(key)):
            text += f".{key}" if text else str(key)
        else:
            text += f"[{json.dumps(safe_key(str(key)))}]"
    return text or "(whole object)"


def _plain(node: Any) -> Any:
    """Keyed mappings back to lists, for values shown to people."""
    if isinstance(node, dict):
        if node and all(str(key).startswith(_KEYED) for key in node):
            return [_plain(value) for value in node.values()]
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


ABSENT = "(absent)"


@dataclass(frozen=True)
class Change:
    path: str
    change: str  # "changed", "added" or "removed"
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "change": self.change}
        if self.change != "added":
            data["old"] = self.old
        if self.change != "removed":
            data["new"] = self.new
        return data


@dataclass(frozen=True)
class ObjectDiff:
    ref: ObjectKey
    changes: tuple[Change, ...]


@dataclass
class DiffReport:
    old: str  # what the left side is ("staging", "git HEAD~1", "keelson 0.1.0", "cluster")
    new: str
    added: list[ObjectKey] = field(default_factory=list)
    removed: list[ObjectKey] = field(default_factory=list)
    changed: list[ObjectDiff] = field(default_factory=list)
    unchanged: int = 0

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def summary(self) -> str:
        return (
            f"{len(self.changed)} changed, {len(self.added)} added, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged"
        )


def _prune(old: Any, new: Any) -> tuple[Any, Any]:
    """Both sides without the branches they share, so deepdiff walks only what differs."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return old, new
    left: dict[str, Any] = {}
    right: dict[str, Any] = {}
    for key, value in old.items():
        if key not in new:
            left[key] = value
        elif value != new[key]:
            left[key], right[key] = _prune(value, new[key])
    for key, value in new.items():
        if key not in old:
            right[key] = value
    return left, right


_CATEGORIES = {
    "values_changed": "changed",
    "type_changes": "changed",
    "dictionary_item_added": "added",
    "iterable_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_removed": "removed",
}


def changes(old: Object, new: Object) -> list[Change]:
    """Field changes between two comparable objects, sorted by path."""
    left, right = _prune(old, new)
    # Imported here: deepdiff loads pydantic (~0.1 s), and check, template and lint never diff.
    from deepdiff import DeepDiff  # noqa: PLC0415

    tree = DeepDiff(left, right, view="tree", threshold_to_diff_deeper=0, verbose_level=2)
    found: list[tuple[list[Any], Change]] = []
    for category, levels in tree.items():
        change = _CATEGORIES.get(category, "changed")
        for level in levels:
            path = level.path(output_format="list")
            key = next(
                (str(k) for k in reversed(path) if isinstance(k, str) and not k.startswith(_KEYED)), ""
            )
            old_value = None if change == "added" else scrub(_plain(level.t1), key)
            new_value = None if change == "removed" else scrub(_plain(level.t2), key)
            found.append((path, Change(format_path(path), change, old_value, new_value)))
    found.sort(key=lambda item: [(0, k, "") if isinstance(k, int) else (1, 0, str(k)) for k in item[0]])
    return [item[1] for item in found]


def _index(objects: Sequence[Object], side: str, ignore_checksums: bool) -> dict[ObjectKey, Object]:
    index: dict[ObjectKey, Object] = {}
    for obj in objects:
        ref = object_key(obj)
        if ref in index:
            raise DiffError(f"{side}: {ref.display} appears twice")
        index[ref] = comparable(obj, ignore_checksums)
    return index


def compare(
    old_objects: Sequence[Object],
    new_objects: Sequence[Object],
    *,
    old: str = "old",
    new: str = "new",
    ignore_checksums: bool = False,
) -> DiffReport:
    """What changes from ``old_objects`` to ``new_objects``, object by object."""
    # Normalizing allocates millions of small containers and no cycles: the cyclic collector
    # would rescan them again and again (a third of the time at 10,000 objects).
    collecting = gc.isenabled()
    gc.disable()
    try:
        before = _index(old_objects, old, ignore_checksums)
        after = _index(new_objects, new, ignore_checksums)
        report = DiffReport(old, new)
        report.added = sorted(after.keys() - before.keys())
        report.removed = sorted(before.keys() - after.keys())
        for ref in sorted(before.keys() & after.keys()):
            if before[ref] == after[ref]:
                report.unchanged += 1
            else:
                report.changed.append(ObjectDiff(ref, tuple(changes(before[ref], after[ref]))))
    finally:
        if collecting:
            gc.enable()
    return report


def to_json(report: DiffReport) -> dict[str, Any]:
    return {
        "old": report.old,
        "new": report.new,
        "differs": report.differs,
        "summary": {
            "changed": len(report.changed),
            "added": len(report.added),
            "removed": len(report.removed),
            "unchanged": report.unchanged,
        },
        "added": [ref.to_json() for ref in report.added],
        "removed": [ref.to_json() for ref in report.removed],
        "changed": [
            {**item.ref.to_json(), "changes": [change.to_json() for change in item.changes]}
            for item in report.changed
        ],
    }


_COLORS = {"add": "32", "remove": "31", "change": "33", "dim": "2", "bold": "1"}


def _shown(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def text(report: DiffReport, color: bool = False, max_lines: int = 40) -> str:
    """The report for people: one block per object, field paths with ``old → new``, then a summary."""

    def paint(what: str, line: str) -> str:
        return f"\x1b[{_COLORS[what]}m{line}\x1b[0m" if color else line

    lines = [paint("bold", f"--- {report.old}"), paint("bold", f"+++ {report.new}")]
    lines += [paint("add", f"+ {ref.display}") for ref in report.added]
    lines += [paint("remove", f"- {ref.display}") for ref in report.removed]
    for item in report.changed:
        lines.append(paint("change", f"~ {item.ref.display}"))
        for change in item.changes:
            lines += ["    " + line for line in _change_lines(change, paint, max_lines)]
    lines.append(f"{report.new} vs {report.old}: {report.summary}")
    return "\n".join(lines)


def _change_lines(change: Change, paint: Callable[[str, str], str], max_lines: int) -> list[str]:
    if change.change == "added":
        return [f"{change.path}: {paint('dim', ABSENT)} → {paint('add', _shown(change.new))}"]
    if change.change == "removed":
        return [f"{change.path}: {paint('remove', _shown(change.old))} → {paint('dim', ABSENT)}"]
    if isinstance(change.old, str) and isinstance(change.new, str) and "\n" in change.old + change.new:
        # A config file in a ConfigMap: the lines that changed, not two walls of text.
        body = _text_diff(change.old.splitlines(), change.new.splitlines())
        shown = [
            "  " + paint("add" if line.startswith("+") else "remove" if line.startswith("-") else "dim", line)
            for line in body[:max_lines]
        ]
        if len(body) > max_lines:
            shown.append(f"  ... {len(body) - max_lines} more lines")
        return [f"{change.path}: (text changed)", *shown]
    return [f"{change.path}: {paint('remove', _shown(change.old))} → {paint('add', _shown(change.new))}"]


def _text_diff(old: list[str], new: list[str], context: int = 1) -> list[str]:
    """Unified-diff hunks; no "autojunk", which would count a frequent line such as ``}`` as changed."""
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        lines.append(f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in old[i1:i2]]
                continue
            lines += ["-" + line for line in old[i1:i2]]
            lines += ["+" + line for line in new[j1:j2]]
    return lines
