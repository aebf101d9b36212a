"""Secrets: no secret in any rendered object, in the values, or in a Secret the chart renders.

Every string of every object is looked at (``List`` items too, annotations, env literals, command
lines, and the config files inside ConfigMaps, each parsed once), and every string of the values.
The detector is keelson.secretscan, shared with the diff and the release record. Each finding is
precise (object and key path) and never holds the value: a literal under a secret-like key name or
a URL with a password (KEEL040), a provider's token format or a random-looking token (KEEL041).
References are fine: ``existingSecret``, ``secretName``, ``secretKeyRef``, ``passwordFile``,
``${ENV_VAR}`` / ``$(VAR)`` / ``sys.env("X")`` expansions and file paths.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from keelson import secretscan
from keelson.errors import KeelsonError
from keelson.gates.engine import Context, Hit, rule
from keelson.k8s import ObjectRef, key_path
from keelson.yamlio import parse

if TYPE_CHECKING:
    from keelson.models import Object

VALUES = ObjectRef("Values", "", "")
NAMED_KINDS = frozenset({"secret-key-name", "url-credentials"})  # KEEL040; the others are KEEL041
# Fields that describe the object rather than configure it, and the Secret's own data (KEEL042).
_SKIPPED = frozenset({"managedFields", "status"})
_SECRET_FIELDS = frozenset({"data", "stringData"})


@dataclass(frozen=True)
class Leaf:
    """A string somewhere in the render or the values: whose, where, under which key."""

    subject: ObjectRef
    keys: tuple[str | int, ...]  # where it is; written out (``path``) only for a finding
    key: str
    value: str
    named: bool = True  # the key is a name chosen by a person (not a file name or a generated hash)
    line: int = 0  # the line of a config file that is neither YAML nor JSON (0: not such a line)

    @property
    def path(self) -> str:
        written = key_path(*self.keys)
        return f"{written} line {self.line}" if self.line else written

    @property
    def detection(self) -> secretscan.Detection | None:
        return _detect(self.value, self.key if self.named else "")


@lru_cache(maxsize=1 << 16)
def _detect(value: str, key: str) -> secretscan.Detection | None:
    """Both rules look at every leaf: detect each (value, key) once."""
    return secretscan.detect(value, key)


def _walk(
    node: Any, path: tuple[str | int, ...], key: str
) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    if isinstance(node, Mapping):
        for child_key, child in node.items():
            yield from _walk(child, (*path, str(child_key)), str(child_key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, (*path, index), key)
    else:
        yield path, key, node


_FLAG = re.compile(r"^--?(?P<key>[A-Za-z0-9_.-]+)=(?P<value>.*)$")
_LINE = re.compile(r"""^\s*["']?(?P<key>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*(?P<value>.+?)\s*,?\s*$""")


def _config_file(text: str) -> bool:
    return "\n" in text or text.lstrip().startswith(("{", "["))


@lru_cache(maxsize=256)
def _config_tree(text: str) -> Any:
    """A config file parsed once for both rules (the guarded loader: no alias bomb, no deep nesting)."""
    try:
        return parse(text, "config file")
    except KeelsonError:
        return None


def _embedded(subject: ObjectRef, base: tuple[str | int, ...], text: str) -> Iterator[Leaf]:
    """A config file inside a ConfigMap: its YAML/JSON leaves, else `key = value` / `key: value` lines."""
    parsed = _config_tree(text)
    if isinstance(parsed, Mapping | list):
        for path, key, value in _walk(parsed, base, str(base[-1])):
            if isinstance(value, str):
                yield Leaf(subject, path, key, value)
        return
    for number, content in enumerate(text.splitlines(), start=1):
        match = _LINE.match(content)
        if match:
            yield Leaf(subject, base, match.group("key"), match.group("value"), line=number)
        elif content.strip():
            yield Leaf(subject, base, "", content, named=False, line=number)


def _node_leaves(subject: ObjectRef, node: Any, path: tuple[str | int, ...], key: str) -> Iterator[Leaf]:
    """Every string under ``node``: env entries by their name, command lines by their flags."""
    if isinstance(node, Mapping):
        if isinstance(node.get("name"), str) and isinstance(node.get("value"), str):
            # An env entry (or any name/value pair): the name says what the value is.
            yield Leaf(subject, (*path, "value"), node["name"], node["value"])
            node = {k: v for k, v in node.items() if k != "value"}
        for child_key, child in node.items():
            if child_key not in _SKIPPED:
                yield from _node_leaves(subject, child, (*path, str(child_key)), str(child_key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            if key in {"command", "args"} and isinstance(child, str):
                flag = _FLAG.match(child)
                name, value = (flag.group("key"), flag.group("value")) if flag else ("", child)
                yield Leaf(subject, (*path, index), name, value, named=bool(flag))
            else:
                yield from _node_leaves(subject, child, (*path, index), key)
    elif isinstance(node, str):
        yield Leaf(subject, path, key, node)


def _object_leaves(ctx: Context, obj: Object) -> Iterator[Leaf]:
    """Every string of one object; a ConfigMap's config files are walked inside."""
    subject = ctx.ref(obj)
    for field, value in obj.items():
        if field in _SECRET_FIELDS and obj.get("kind") == "Secret":
            continue  # KEEL042 refuses a Secret with data outright
        if obj.get("kind") == "ConfigMap" and field == "data" and isinstance(value, Mapping):
            for name, text in value.items():
                if isinstance(text, str) and _config_file(text):
                    yield from _embedded(subject, ("data", str(name)), text)
                elif isinstance(text, str):
                    yield Leaf(subject, ("data", str(name)), str(name), text)
        elif field not in _SKIPPED:
            yield from _node_leaves(subject, value, (str(field),), str(field))


def _all_leaves(ctx: Context) -> Iterator[Leaf]:
    for obj in ctx.objects:
        yield from _object_leaves(ctx, obj)
    for path, key, value in _walk({k: v for k, v in ctx.values.items() if k != "gates"}, (), ""):
        if isinstance(value, str):
            yield Leaf(VALUES, path, key, value)


# Both rules read the same leaves of one run's context: walked once, kept while the context lives.
_LEAVES: weakref.WeakKeyDictionary[Context, tuple[Leaf, ...]] = weakref.WeakKeyDictionary()


def leaves(ctx: Context) -> tuple[Leaf, ...]:
    """Every string the secrets rules look at (the values minus the gates' own settings)."""
    found = _LEAVES.get(ctx)
    if found is None:
        found = _LEAVES[ctx] = tuple(_all_leaves(ctx))
    return found


@rule(
    "KEEL040",
    "No secret literal under a secret-looking key (password, token, api_key, dsn, ...) or in a URL",
    remediation="keep the value in a Secret provisioned outside the chart and reference it "
    "(existingSecret, env valueFrom.secretKeyRef, ${ENV} expansion)",
)
def secret_literals(ctx: Context) -> Iterator[Hit]:
    for leaf in leaves(ctx):
        found = leaf.detection
        if found is not None and found.kind in NAMED_KINDS:
            yield Hit(leaf.subject, f"{leaf.path}: {found.detail}", leaf.path)


@rule(
    "KEEL041",
    "No strings that look like keys or tokens (provider formats, private keys, high entropy)",
    remediation="move the value into a Secret provisioned outside the chart; if it is not a secret, "
    "add a gates.waive entry that says what it is",
)
def tokens(ctx: Context) -> Iterator[Hit]:
    for leaf in leaves(ctx):
        found = leaf.detection
        if found is None or found.kind in NAMED_KINDS:
            continue
        if found.kind == "entropy" and leaf.subject.kind != "Values" and leaf.key.startswith("checksum/"):
            continue  # common.checksums: the sha256 of the rendered config, by design
        yield Hit(leaf.subject, f"{leaf.path}: {found.detail}", leaf.path)


@rule(
    "KEEL042",
    "The chart renders no Secret with data (List items included)",
    remediation="create the Secret outside the chart and pass its name (existingSecret)",
)
def no_secret_data(ctx: Context) -> Iterator[Hit]:
    for secret in ctx.of_kind("Secret"):
        for field in ("data", "stringData"):
            block = secret.get(field)
            if block:
                keys = (
                    ", ".join(sorted(secretscan.safe_key(str(key)) for key in block))
                    if isinstance(block, Mapping)
                    else field
                )
                yield Hit(ctx.ref(secret), f"carries {field} ({keys})", field)
