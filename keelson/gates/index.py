"""Indexes over one render, so that per-workload rules do not scan every object for every workload.

``by_kind`` groups objects by kind. ``SelectorIndex`` files each selecting object (a Service, a
PodDisruptionBudget, a NetworkPolicy) under the rarest of its ``matchLabels`` pairs, so a
workload's labels lead straight to the few objects that could select it; the rule still decides
with the real selector check (``k8s.selects``), the index only narrows the candidates. Objects
whose selector has no label pairs (empty, or only ``matchExpressions``) are candidates for every
pod of their namespace.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keelson.models import Object

Pair = tuple[str, str]


def by_kind(objects: Sequence[Object]) -> dict[str, list[Object]]:
    """Objects of each kind, in render order."""
    found: dict[str, list[Object]] = defaultdict(list)
    for obj in objects:
        found[str(obj.get("kind"))].append(obj)
    return dict(found)


def match_labels(selector: Any) -> list[Pair]:
    """The ``matchLabels`` pairs of a LabelSelector (``[]`` for anything else)."""
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    return [(str(k), str(v)) for k, v in labels.items()] if isinstance(labels, Mapping) else []


class SelectorIndex:
    """Objects filed by namespace and by the rarest label pair their selector requires."""

    def __init__(
        self,
        objects: Sequence[Object],
        pairs_of: Callable[[Object], list[Pair]],
        namespace_of: Callable[[Object], str],
    ) -> None:
        entries = [(position, namespace_of(obj), pairs_of(obj)) for position, obj in enumerate(objects)]
        frequency = Counter(pair for _, _, pairs in entries for pair in set(pairs))
        self._objects = list(objects)
        self._buckets: dict[tuple[str, Pair], list[int]] = defaultdict(list)
        self._unlabelled: dict[str, list[int]] = defaultdict(list)
        for position, namespace, pairs in entries:
            if pairs:
                rarest = min(pairs, key=lambda pair: (frequency[pair], pair))
                self._buckets[namespace, rarest].append(position)
            else:
                self._unlabelled[namespace].append(position)

    def candidates(self, namespace: str, labels: Mapping[str, str]) -> list[Object]:
        """The objects of ``namespace`` that may select pods labelled ``labels``, in render order."""
        positions = list(self._unlabelled.get(namespace, ()))
        for pair in labels.items():
            positions += self._buckets.get((namespace, pair), ())
        return [self._objects[position] for position in sorted(set(positions))]


def _service_pairs(service: Object) -> list[Pair]:
    selector = (service.get("spec") or {}).get("selector")
    return [(str(k), str(v)) for k, v in selector.items()] if isinstance(selector, Mapping) else []


# Where each selecting kind keeps the labels it requires of a pod.
SELECTOR_PAIRS: Mapping[str, Callable[[Object], list[Pair]]] = {
    "Service": _service_pairs,
    "PodDisruptionBudget": lambda pdb: match_labels((pdb.get("spec") or {}).get("selector")),
    "NetworkPolicy": lambda policy: match_labels((policy.get("spec") or {}).get("podSelector")),
}
