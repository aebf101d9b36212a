"""Plain data passed between the stages: key paths, findings and stage reports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.secretscan import quiet, safe_key

if TYPE_CHECKING:
    from collections.abc import Sequence

Key = str | int
KeyPath = tuple[Key, ...]
Object = dict[str, Any]

# Keys printed bare in a dotted path; anything else (dots, slashes: annotation keys) is quoted.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(path: Sequence[Key]) -> str:
    """``("app", "hosts", 0, "host")`` -> ``app.hosts[0].host``; quoted keys keep dots unambiguous.

    Keys come from input files: a long or secret-shaped one shows as ``<key of N characters>``.
    """
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
            continue
        shown = safe_key(key)
        if _BARE_KEY.fullmatch(shown):
            text += f".{shown}" if text else shown
        else:
            text += f"[{json.dumps(shown)}]"
    return text or "(top level)"


@dataclass(frozen=True)
class Finding:
    """One problem, printed as ``<where>: <subject>: <message>``.

    ``where`` is a file (``values/prod.yaml``) or a run (``prod (k8s 1.35.0)``); ``subject`` is a
    key path or an object (``Deployment keelson/keelson-app-backend``). ``env`` and ``stage`` say
    which stage found it: the stage runner (keelson.stages) sets them, and the stage's ok/FAIL line
    shows them, so the finding's own line does not repeat them.
    """

    where: str
    subject: str
    message: str
    env: str = ""
    stage: str = ""

    def __str__(self) -> str:
        return quiet(": ".join(part for part in (self.where, self.subject, self.message) if part))


@dataclass(frozen=True)
class StageResult:
    """How one stage went for one environment."""

    stage: str
    env: str
    seconds: float
    findings: tuple[Finding, ...] = ()
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings
