"""Changes an upgrade cannot make: the fields Kubernetes refuses to change on an existing object.

    lines = immutable.changes(old_objects, new_objects)     # [] when the upgrade can go through

The API server refuses to update a StatefulSet's ``volumeClaimTemplates`` (persistence turned on or
off, a claim's size, storage class, access modes), ``selector``, ``serviceName`` and
``podManagementPolicy``, and a Deployment's or DaemonSet's ``selector``: ``helm upgrade`` would fail
half-way, after a minute of waiting. ``old`` is either the last release's render or the live objects
(``kubectl get``): live objects carry the server's defaults, so both sides are compared with the
defaults filled in and quantities in bytes. Each change is one line naming the object and the field,
never the values (they come from the input).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from keelson.k8s import ref
from keelson.project import NAMESPACE

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from keelson.models import Object

MIGRATION = 'README "Changing a StatefulSet\'s storage"'
SELECTOR_ONLY = frozenset({"Deployment", "DaemonSet"})
_QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
_SUFFIX = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}


def _bytes(quantity: Any) -> Any:
    """``50Gi`` and ``53687091200`` are the same request; anything unparsable compares as itself."""
    match = _QUANTITY.match(str(quantity)) if quantity is not None else None
    if match is None or match.group(2) not in _SUFFIX:
        return quantity
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def _claims(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each claim template by name, reduced to what the server keeps, with its defaults."""
    found = {}
    for claim in spec.get("volumeClaimTemplates") or []:
        claim_spec = claim.get("spec") or {}
        requests = (claim_spec.get("resources") or {}).get("requests") or {}
        meta = claim.get("metadata") or {}
        found[str(meta.get("name", ""))] = {
            "metadata.labels": dict(meta.get("labels") or {}),
            "spec.accessModes": sorted(claim_spec.get("accessModes") or []),
            "spec.resources.requests.storage": _bytes(requests.get("storage")),
            # Absent (the default class) and "" (no class) are different requests.
            "spec.storageClassName": claim_spec.get("storageClassName"),
            "spec.volumeMode": claim_spec.get("volumeMode") or "Filesystem",
        }
    return found


def _selector(spec: Mapping[str, Any]) -> Any:
    selector = spec.get("selector") or {}
    return {
        "matchLabels": dict(selector.get("matchLabels") or {}),
        "matchExpressions": selector.get("matchExpressions") or [],
    }


def _fields(obj: Object) -> Iterator[tuple[str, Any]]:
    spec = obj.get("spec") or {}
    yield "spec.selector", _selector(spec)
    if obj.get("kind") != "StatefulSet":
        return
    yield "spec.serviceName", spec.get("serviceName") or ""
    yield "spec.podManagementPolicy", spec.get("podManagementPolicy") or "OrderedReady"


def _claim_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    before, after = _claims(old), _claims(new)
    for name in sorted(before.keys() - after.keys()):
        yield f"spec.volumeClaimTemplates[{name}] is removed (persistence turned off)"
    for name in sorted(after.keys() - before.keys()):
        yield f"spec.volumeClaimTemplates[{name}] is added (persistence turned on)"
    for name in sorted(before.keys() & after.keys()):
        for field, value in before[name].items():
            if after[name][field] != value:
                yield f"spec.volumeClaimTemplates[{name}].{field} changes"


def changes(old: Sequence[Object], new: Sequence[Object], namespace: str = NAMESPACE) -> list[str]:
    """One line per immutable field that ``new`` changes on an object ``old`` holds."""
    kinds = SELECTOR_ONLY | {"StatefulSet"}
    before = {ref(obj, namespace): obj for obj in old if obj.get("kind") in kinds}
    lines = []
    for obj in new:
        subject = ref(obj, namespace)
        previous = before.get(subject)
        if previous is None:
            continue
        pairs = zip(_fields(obj), _fields(previous), strict=True)
        found = [f"{field} changes" for (field, value), (_, was) in pairs if value != was]
        if subject.kind == "StatefulSet":
            found += _claim_changes(previous.get("spec") or {}, obj.get("spec") or {})
        lines += [
            f"{subject.kind} {subject.namespace}/{subject.name}: {change}, which Kubernetes refuses on an "
            f"existing object; migrate first ({MIGRATION})"
            for change in found
        ]
    return lines
