"""A small typed model of a YAML config file: blocks of known keys, scalars with their types and
allowed values, lists and maps. ``validate`` walks a decoded document against a model and returns
one problem per key path that the program would refuse: an unknown key, a wrong type, a value out
of its allowed set.

Problems never quote a value from the input (it could be a credential); they name the key path,
what was wrong and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keelson.models import Key, KeyPath, format_path

if TYPE_CHECKING:
    from collections.abc import Mapping

# Go's time.ParseDuration (no days): "336h", "1m30s", "500ms"; "0" alone is allowed.
_GO_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+|0")
# Prometheus' model.ParseDuration (dskit's model.Duration fields): units y w d h m s ms, largest first.
_PROM_DURATION = re.compile(r"(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?|0")
# dskit flagext.ByteSize / Loki's <int> with a unit: 1024, "256KB", "64MB", "3MiB".
_BYTE_SIZE = re.compile(r"\d+(?:\.\d+)?\s*(?:[KMGTPE]i?)?B?")
_SHOWN_CHOICES = 16


@dataclass(frozen=True)
class Problem:
    """One refusal: the key path inside the config and what is wrong there."""

    path: KeyPath
    message: str

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}"


class Spec(ABC):
    """A node of a model. ``check`` returns the problems of ``value`` found at ``path``."""

    expected = "a value"

    @abstractmethod
    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        """Every kind of node says for itself what it accepts."""


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),  # before int: a bool is an int in Python
    ((int, float), "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
)


def _kind(value: Any) -> str:
    """The YAML type of ``value``, for messages (never the value itself)."""
    if value is None:
        return "null"
    return next((name for kinds, name in _KINDS if isinstance(value, kinds)), type(value).__name__)


def _wrong(spec: Spec, value: Any, path: KeyPath) -> list[Problem]:
    return [Problem(path, f"wrong type: expected {spec.expected}, got {_kind(value)}")]


class Str(Spec):
    expected = "a string"

    def __init__(self, pattern: str | None = None, shape: str = "") -> None:
        self.pattern = re.compile(pattern) if pattern else None
        self.shape = shape

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if not isinstance(value, str):
            return _wrong(self, value, path)
        if self.pattern and not self.pattern.fullmatch(value):
            return [Problem(path, f"not allowed here: expected {self.shape}")]
        return []


class Bool(Spec):
    expected = "a boolean (true or false)"

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        return [] if isinstance(value, bool) else _wrong(self, value, path)


class Int(Spec):
    def __init__(self, minimum: int | None = None) -> None:
        self.minimum = minimum
        self.expected = "an integer" if minimum is None else f"an integer of at least {minimum}"

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if isinstance(value, bool) or not isinstance(value, int):
            return _wrong(self, value, path)
        if self.minimum is not None and value < self.minimum:
            return [Problem(path, f"out of range: expected {self.expected}")]
        return []


class Float(Spec):
    expected = "a number"

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _wrong(self, value, path)
        if value < 0:
            return [Problem(path, "out of range: expected a number of at least 0")]
        return []


class ByteSize(Spec):
    expected = 'a size in bytes (an integer, or a string such as "3MB")'

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return []
        if isinstance(value, str) and _BYTE_SIZE.fullmatch(value):
            return []
        return _wrong(self, value, path)


class Duration(Spec):
    """A duration string; ``days=True`` for Prometheus-style fields (``15d``), else Go's (``360h``)."""

    def __init__(self, *, days: bool = False) -> None:
        self.regex = _PROM_DURATION if days else _GO_DURATION
        self.expected = (
            "a duration such as 90d, 24h or 30s (units y w d h m s ms)"
            if days
            else "a Go duration such as 336h, 5m or 30s (units h m s ms; no days)"
        )

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if isinstance(value, str) and value and self.regex.fullmatch(value):
            return []
        if isinstance(value, str):
            return [Problem(path, f"not a duration: expected {self.expected}")]
        return _wrong(self, value, path)


class Enum(Spec):
    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.expected = f"one of {', '.join(choices)}"

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if not isinstance(value, str):
            return _wrong(self, value, path)
        if value not in self.choices:
            return [Problem(path, f"not an allowed value: expected {self.expected}")]
        return []


class Anything(Spec):
    """A subtree the program hands to another parser (an OpenTelemetry receiver config, say)."""

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        return []


class ListOf(Spec):
    def __init__(self, item: Spec) -> None:
        self.item = item
        self.expected = f"a list of {item.expected.removeprefix('a ').removeprefix('an ')}"

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if not isinstance(value, list):
            return _wrong(self, value, path)
        return [p for index, item in enumerate(value) for p in self.item.check(item, (*path, index))]


class MapOf(Spec):
    """A mapping with free keys (labels, tags) whose values all follow ``value``."""

    def __init__(self, value: Spec) -> None:
        self.value = value
        self.expected = "a mapping"

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if not isinstance(value, dict):
            return _wrong(self, value, path)
        return [p for key, item in value.items() for p in self.value.check(item, (*path, str(key)))]


@dataclass
class Block(Spec):
    """A mapping of known keys. Any other key is refused (the programs decode strictly)."""

    fields: Mapping[str, Spec]
    expected: str = field(default="a mapping", init=False)

    def check(self, value: Any, path: KeyPath) -> list[Problem]:
        if not isinstance(value, dict):
            return _wrong(self, value, path)
        problems: list[Problem] = []
        for key, item in value.items():
            spec = self.fields.get(str(key))
            if spec is None:
                problems.append(
                    Problem((*path, str(key)), f"unknown key{self.suggest(str(key))}: {self.allowed()}")
                )
            else:
                problems += spec.check(item, (*path, str(key)))
        return problems

    def allowed(self) -> str:
        names = sorted(self.fields)
        shown = ", ".join(names[:_SHOWN_CHOICES]) + (", ..." if len(names) > _SHOWN_CHOICES else "")
        return f"allowed here: {shown}"

    def suggest(self, key: str) -> str:
        """`` (did you mean x?)`` for a likely misspelling; the key is the user's name, not a value."""
        close = difflib.get_close_matches(key, list(self.fields), n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    def extend(self, **more: Spec) -> Block:
        """This block with more keys (a program's own additions to a shared block)."""
        return Block({**self.fields, **more})


def validate(document: Any, model: Spec) -> list[Problem]:
    """Every problem of ``document`` against ``model``, in document order."""
    return model.check(document, ())


def get(document: Any, *path: Key, default: Any = None) -> Any:
    """The value at ``path`` in nested mappings, or ``default`` when any step is missing."""
    node = document
    for key in path:
        in_list = isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node)
        if in_list or (isinstance(node, dict) and key in node):
            node = node[key]
        else:
            return default
    return node
