"""Failures of Keelson, one class per stage.

Every error carries exactly one line that names where the problem is (file, key path or object),
what was wrong and what is allowed. ``tasks`` prints that line as ``error: <line>`` and exits
with status 1, so a user mistake never shows a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keelson.secretscan import quiet

if TYPE_CHECKING:
    from collections.abc import Sequence


class KeelsonError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    def __init__(self, message: str) -> None:
        # Newlines would break the one-line contract of the command line; fold them here once.
        # quiet(): whatever slipped into a message from an input, nothing secret-shaped is printed.
        super().__init__(quiet(" ".join(message.split())))

    @property
    def message(self) -> str:
        return str(self.args[0])

    @classmethod
    def from_findings(cls, findings: Sequence[object], hint: str = "") -> KeelsonError:
        """The first finding, plus how many more there are (and where to see them all)."""
        if not findings:
            raise ValueError("from_findings needs at least one finding")
        message = str(findings[0])
        if len(findings) > 1:
            message += f" (and {len(findings) - 1} more{', ' + hint if hint else ''})"
        return cls(message)


class ValuesError(KeelsonError):
    """A values file cannot be read, is not a mapping, or names an unknown environment."""


class SchemaError(KeelsonError):
    """The merged values break a chart's values.schema.json."""


class RenderError(KeelsonError):
    """helm could not build the dependencies or render the chart."""


class ToolError(KeelsonError):
    """A pinned tool is missing or could not run."""


class UsageError(KeelsonError):
    """A task was called with options that do not go together."""


class FindingsError(KeelsonError):
    """Several problems found at once: the message is the first (and how many more), ``findings``
    holds each, so a command can list them one a line."""

    def __init__(self, findings: Sequence[object]) -> None:
        super().__init__(KeelsonError.from_findings(findings).message)
        self.findings = tuple(findings)


class ClusterError(KeelsonError):
    """The local control plane could not start, stop or answer."""
