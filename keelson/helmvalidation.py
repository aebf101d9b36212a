"""The charts' own validation (keelson-common's ``common.validate``) read back out of helm's failure.

The rules that compare values (storage against replicas, the environment against a setting) are
judged only in the templates, so that a plain ``helm install`` says what is wrong (Helm ignores a
schema's ``errorMessage``, helm/helm#12842). The umbrella fails once with every message, after the
lead ``invalid values (N): `` and joined by ``"; "``; each message is ``<value path>: <what is
allowed>``. ``findings`` turns that line into one finding per message, in the file that set the key,
with the very words helm printed: there is no second copy of the rules to drift from the first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from keelson.models import Finding

if TYPE_CHECKING:
    from keelson.models import KeyPath
    from keelson.values import MergedValues

_LEAD = re.compile(r"invalid values \((\d+)\): (.+)$")
_KEY = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
SEPARATOR = "; "


def messages(error: str) -> list[str] | None:
    """The messages of a validation failure, in the order helm printed them; None for any other
    failure (or one whose count does not match, so a message holding the separator is never split)."""
    match = _LEAD.search(error)
    if match is None:
        return None
    found = match[2].split(SEPARATOR)
    return found if len(found) == int(match[1]) else None


def key_path(path: str) -> KeyPath:
    """``mimir.secretMounts[1].name`` -> ``("mimir", "secretMounts", 1, "name")``."""
    return tuple(int(index) if index else key for key, index in _KEY.findall(path))


def findings(error: str, values: MergedValues) -> list[Finding] | None:
    """One finding per message of a validation failure (None for any other helm failure)."""
    found = messages(error)
    if found is None:
        return None
    result = []
    for message in found:
        path, _, allowed = message.partition(": ")
        result.append(Finding(values.source_of(key_path(path)), path, allowed))
    return result
