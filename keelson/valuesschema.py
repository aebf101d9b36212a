"""The JSON-schema check: merged values against each chart's values.schema.json, as Helm checks them.

The umbrella's schema sees all values; every enabled subchart's schema sees its own block, which
already carries the injected ``global`` (see values.py). Every error becomes one finding that names
the file that set the key, the full key path, what was wrong and what is allowed (the schema's
``errorMessage`` keyword, when it has one). No message shows the rejected value: what is allowed
comes from the schema, and the given value is only named by its kind ("got a string").
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from keelson.errors import SchemaError
from keelson.models import Finding, KeyPath, format_path
from keelson.values import MergedValues, lookup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@cache
def _validator(path: Path) -> Validator:
    """The compiled schema of one chart.

    Checking a schema against its metaschema costs more than validating the values with it, so it
    is not done on every run: tests/test_valuesschema.py checks every committed schema, and a schema
    that breaks validation (an unknown type, a malformed keyword) is checked then, for a clear error.
    """
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: cannot read the schema: {exc}") from exc
    return validator_for(schema)(schema)


def check_schema(path: Path, schema: Any) -> None:
    """``schema`` against its metaschema; a SchemaError naming the file and the key path if it fails."""
    try:
        validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(top level)"
        raise SchemaError(f"{path}: {where}: not a valid JSON schema: {exc.message}") from exc


def _errors(path: Path, instance: Any) -> list[ValidationError]:
    validator = _validator(path)
    try:
        return list(validator.iter_errors(instance))
    except Exception:
        # The schema itself is broken; say where, or let the validator's own error through.
        check_schema(path, validator.schema)
        raise


def _schema_of(error: ValidationError) -> dict[str, Any]:
    return dict(error.schema) if isinstance(error.schema, Mapping) else {}


def _bound(error: ValidationError) -> Any:
    """The keyword's value in the schema (a minimum, an enum list...)."""
    return cast("Any", error.validator_value)


def _chain(error: ValidationError, stop: ValidationError | None = None) -> Iterator[ValidationError]:
    """The error and the anyOf/oneOf errors it sits under, innermost first."""
    node: ValidationError | None = error
    while node is not None and node is not stop:
        yield node
        node = cast("ValidationError | None", node.parent)


def _error_message(error: ValidationError, stop: ValidationError | None = None) -> str | None:
    for node in _chain(error, stop):
        message = _schema_of(node).get("errorMessage")
        if isinstance(message, dict):  # ajv-errors style: one message per keyword
            message = message.get(str(node.validator))
        if isinstance(message, str):
            return message
    return None


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if not error.context:
        yield error
    for child in error.context:
        yield from _leaves(child)


def _most_specific(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the branch that explains itself (has an errorMessage), else jsonschema's pick."""
    if not error.context:
        return error
    explained = [leaf for leaf in _leaves(error) if _error_message(leaf, stop=error)]
    best = best_match(explained or [error])
    return cast("ValidationError", best) if best is not None else error


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _allowed_keys(schema: dict[str, Any]) -> str:
    names = sorted(schema.get("properties", {}))
    patterns = [f"keys matching {p}" for p in sorted(schema.get("patternProperties", {}))]
    return ", ".join(names + patterns) or "none"


def _unknown_keys(error: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    instance: Any = error.instance
    schema = _schema_of(error)
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    found = []
    for key in instance:
        if key in known or any(re.search(pattern, key) for pattern in patterns):
            continue
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        found.append(((*path, key), f"unknown key{hint} (allowed: {_allowed_keys(schema)})"))
    return found


def _without_key(message: str, path: KeyPath) -> str:
    """A chart's message may start with the key it is about ("storage.backend: ..."); the finding
    names the full path already, so that prefix would say it twice."""
    names = [str(key) for key in path if isinstance(key, str)]
    for start in range(len(names)):
        key = ".".join(names[start:])
        if message.startswith(key + ": "):
            return message[len(key) + 2 :]
        if message.startswith(key + " must "):  # "x must be ..." reads on from the value
            return message[len(key) + 1 :]
    return message


def _type_name(value: Any) -> str:
    """What kind of thing a value is (a string, a list...): said in place of the value itself."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    kinds = {str: "a string", float: "a number", dict: "a mapping", list: "a list", type(None): "null"}
    return kinds.get(type(value), "a value of another kind")


def _describe(error: ValidationError) -> str:
    """What was wrong and what is allowed, from the schema alone: the value from the input is never
    part of the message (it may be a credential, and the key path already says where it is)."""
    bound, kind = _bound(error), str(error.validator)
    custom = _error_message(error)
    if custom:
        return _without_key(custom, tuple(error.absolute_path))
    if kind == "type":
        wanted = [bound] if isinstance(bound, str) else list(bound)
        allowed = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return f"must be {allowed} (got {_type_name(error.instance)})"
    simple: dict[str, Callable[[], str]] = {
        "enum": lambda: f"must be one of {', '.join(_plain(item) for item in bound)}",
        "const": lambda: f"must be {_plain(bound)}",
        "minimum": lambda: f"must be at least {bound}",
        "maximum": lambda: f"must be at most {bound}",
        "exclusiveMinimum": lambda: f"must be greater than {bound}",
        "exclusiveMaximum": lambda: f"must be less than {bound}",
        "multipleOf": lambda: f"must be a multiple of {bound}",
        "minLength": lambda: f"must be at least {bound} characters long",
        "maxLength": lambda: f"must be at most {bound} characters long",
        "pattern": lambda: f"must match {bound}",
        "minItems": lambda: f"must list at least {bound} items",
        "maxItems": lambda: f"must list at most {bound} items",
        "uniqueItems": lambda: "must not list an item twice",
        "minProperties": lambda: f"must have at least {bound} keys",
        "maxProperties": lambda: f"must have at most {bound} keys",
        "not": lambda: "is not allowed here",
    }
    if kind in simple:
        return simple[kind]()
    # jsonschema's own wording quotes the whole value: name the keyword instead.
    return f"breaks the schema's {kind} rule"


def _findings_for(error: ValidationError, base: KeyPath) -> list[tuple[KeyPath, str]]:
    leaf = _most_specific(error)
    path: KeyPath = (*base, *leaf.absolute_path)
    instance: Any = leaf.instance
    if leaf.validator == "additionalProperties" and _bound(leaf) is False:
        return _unknown_keys(leaf, path)
    if leaf.validator == "required" and isinstance(instance, dict):
        missing = [key for key in _bound(leaf) if key not in instance]
        return [((*path, key), "required key is missing") for key in missing]
    if "propertyNames" in leaf.absolute_schema_path:
        # The failing thing is a key: name it in the path (its value is not the problem).
        path = (*path, str(instance))
    return [(path, _describe(leaf))]


def _sort_key(path: KeyPath) -> tuple[tuple[int, str | int], ...]:
    return tuple((0, key) if isinstance(key, int) else (1, key) for key in path)


def check(values: MergedValues) -> list[Finding]:
    """Every schema error of every enabled chart, one finding per key path, sorted by path."""
    seen: dict[KeyPath, str] = {}
    for prefix, chart in values.charts:
        if not chart.schema_file.is_file():
            continue  # Helm checks only the charts that ship a schema
        instance = lookup(values.merged, prefix)
        for error in _errors(chart.schema_file, instance):
            for path, message in _findings_for(error, prefix):
                seen.setdefault(_fallback_path(values, prefix, _global_path(values, prefix, path)), message)
    return [
        Finding(values.source_of(path), format_path(path), message)
        for path, message in sorted(seen.items(), key=lambda item: _sort_key(item[0]))
    ]


def _global_path(values: MergedValues, prefix: KeyPath, path: KeyPath) -> KeyPath:
    """A subchart's ``global`` is a copy of the umbrella's: report it where the user sets it."""
    rest = path[len(prefix) :]
    if prefix and rest[:1] == ("global",):
        top = ("global", *rest[1:])
        if lookup(values.merged, top) == lookup(values.merged, path):
            return top
    return path


def _defined(values: Any, path: KeyPath) -> bool:
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _fallback_path(values: MergedValues, prefix: KeyPath, path: KeyPath) -> KeyPath:
    """A subchart key the user left at its chart default, whose ``global`` twin the user set (the
    charts read ``storage.s3.existingSecret`` or else ``global.storage.s3.existingSecret``): the
    twin is what to fix, in the file that set it, not the chart's values.yaml."""
    rest = path[len(prefix) :]
    if not prefix or path[: len(prefix)] != prefix or rest[:1] == ("global",):
        return path
    twin: KeyPath = ("global", *rest)
    if _defined(values.user, twin) and not _defined(values.user, path):
        return twin
    return path
