"""Reading YAML the way Helm does, with errors that point at file, line and column.

Parsing and dumping go through LibYAML (PyYAML's C extension) when it is installed, which is
several times faster than PyYAML's own Python code; both paths carry the same resolver and
constructor tweaks and give the same objects and the same text (tests/test_yamlio.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from keelson.errors import ValuesError

if TYPE_CHECKING:
    from pathlib import Path


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps: Helm keeps ``2024-01-01`` a string, PyYAML would make a date."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _equals_sign(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


# PyYAML resolves a bare "=" to a "value" tag it cannot construct; it is just a string in Helm.
_Loader.add_constructor("tag:yaml.org,2002:value", _equals_sign)


LOADERS: dict[str, type[_Loader]] = {"python": _Loader}
DUMPERS: dict[str, type[yaml.SafeDumper]] = {"python": yaml.SafeDumper}

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CLoader(CParser, _Loader):
        """_Loader with LibYAML's parser: scanning, parsing and composing run in C, while the
        resolvers and constructors (the tweaks above, and any added to _Loader) stay _Loader's."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    LOADERS["libyaml"] = _CLoader
    DUMPERS["libyaml"] = yaml.CSafeDumper  # type: ignore[assignment]  # the C twin of SafeDumper

# The fastest path installed; tests/test_yamlio.py compares it with the Python one.
LOADER = LOADERS.get("libyaml", _Loader)
DUMPER = DUMPERS.get("libyaml", yaml.SafeDumper)


def _string_keys(node: Any) -> Any:
    """Helm turns every mapping key into a string (``404:`` -> ``"404"``, ``true:`` -> ``"true"``)."""
    if isinstance(node, dict):
        return {
            (str(key).lower() if isinstance(key, bool) else str(key)): _string_keys(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_string_keys(item) for item in node]
    return node


def _documents(text: str, loader: type[_Loader] | None, every: bool) -> Any:
    """The document (or every document) of ``text``. On an error the Python loader parses again:
    LibYAML words its errors differently, and the error line users see stays PyYAML's."""
    chosen = loader or LOADER
    try:
        return list(yaml.load_all(text, Loader=chosen)) if every else yaml.load(text, Loader=chosen)
    except yaml.YAMLError:
        if chosen is _Loader:
            raise
        return _documents(text, _Loader, every)


def parse(text: str, source: str, loader: type[_Loader] | None = None) -> Any:
    """One YAML document; ``source`` names the file in the error."""
    try:
        return _string_keys(_documents(text, loader, every=False))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        message = exc.problem or exc.context or "cannot parse"
        if exc.context and exc.context_mark and exc.problem:
            # e.g. an unclosed [ is reported at the end of the file; say where it was opened.
            opened = exc.context_mark
            message += f" ({exc.context} started at {opened.line + 1}:{opened.column + 1})"
        raise ValuesError(f"{where}: invalid YAML: {message}") from exc
    except yaml.YAMLError as exc:
        raise ValuesError(f"{source}: invalid YAML: {exc}") from exc


def load_mapping(path: Path, source: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; an empty file is an empty mapping, as in Helm."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValuesError(f"{source}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValuesError(f"{source}: cannot read: {exc}") from exc
    data = parse(text, source)
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the scalar {data!r}"
        raise ValuesError(f"{source}: the top level must be a mapping of keys to values, not {kind}")
    return data


# LibYAML's emitter and PyYAML's write the same text except where they fold a line longer than the
# width (1000) and in which characters they escape. Strings of at most 200 printable ASCII
# characters (400 once quotes are doubled) in at most 50 levels of nesting keep every line under it.
_ALIKE_LENGTH = 200
_ALIKE_DEPTH = 50


def emits_alike(node: Any, depth: int = 0) -> bool:
    """Whether LibYAML dumps ``node`` byte for byte as PyYAML's Python emitter does."""
    if depth > _ALIKE_DEPTH:
        return False
    if isinstance(node, dict):
        return all(
            emits_alike(key, depth + 1) and emits_alike(value, depth + 1) for key, value in node.items()
        )
    if isinstance(node, list):
        return all(emits_alike(item, depth + 1) for item in node)
    if isinstance(node, str):
        return len(node) <= _ALIKE_LENGTH and node.isascii() and node.isprintable()
    return True


def dump_all(objects: list[dict[str, Any]], dumper: type[yaml.SafeDumper] | None = None) -> str:
    """Objects as a multi-document YAML stream, keys in their rendered order.

    By default LibYAML writes it when that gives the same text (``emits_alike``), else PyYAML's
    Python emitter, as before LibYAML was used: long config files in ConfigMaps go that way.
    """
    chosen = dumper or (DUMPER if emits_alike(objects) else yaml.SafeDumper)
    text: str = yaml.dump_all(objects, Dumper=chosen, sort_keys=False, default_flow_style=False, width=1000)
    return text


def parse_all(text: str, source: str, loader: type[_Loader] | None = None) -> list[Any]:
    """Every document of a YAML stream (helm's output), empty documents left out."""
    try:
        documents = _documents(text, loader, every=True)
    except yaml.YAMLError as exc:
        raise ValuesError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from exc
    return [_string_keys(doc) for doc in documents if doc is not None]
