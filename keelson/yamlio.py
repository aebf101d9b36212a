"""Reading YAML the way Helm does, with errors that point at file, line and column.

Parsing and dumping go through LibYAML (PyYAML's C extension) when it is installed, which is
several times faster than PyYAML's own Python code; both paths carry the same resolver and
constructor tweaks and give the same objects and the same text (tests/test_yamlio.py).

Inputs cannot hurt: a YAML file is read only when it is a regular file of at most ``MAX_BYTES``
(a FIFO is never opened, a symlink is followed only to a file inside the project); a document may
nest at most ``MAX_DEPTH`` levels and expand at most ``MAX_ALIAS_NODES`` nodes through aliases
(checked on the event stream, before anything is built, so an alias bomb or 100,000 ``[`` cost
nothing), and a key may appear once per mapping (Helm keeps the last silently, Flux refuses the
file). Messages never quote the input, except short excerpts that are not secret-shaped.
"""

from __future__ import annotations

import os
import re
import stat
from typing import TYPE_CHECKING, Any

import yaml

from keelson.errors import ValuesError
from keelson.secretscan import excerpt

if TYPE_CHECKING:
    from pathlib import Path

MAX_BYTES = 1 << 20  # 1 MiB: values files are a few KiB; a chart repository index may be bigger
MAX_DEPTH = 64  # levels of mappings and lists; the deepest values file of the project has 9
MAX_ALIAS_NODES = 10_000  # nodes a document may build through aliases (a billion laughs needs 10^9)


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps: Helm keeps ``2024-01-01`` a string, PyYAML would make a date.

    Refuses a key given twice in one mapping. The check lives in ``construct_mapping``, which
    runs in Python with either parser (SafeLoader or LibYAML's CSafeLoader as the base).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue  # merged keys may be overridden: that is what << is for
            key = self.construct_object(key_node)
            name = str(key).lower() if isinstance(key, bool) else str(key)  # as _string_keys sees it
            if name in seen:
                first = seen[name].start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{name}' (first at line {first}); a key may appear once in a mapping "
                    "(Helm would keep the last silently, Flux refuses the file)",
                    key_node.start_mark,
                )
            seen[name] = key_node
        return super().construct_mapping(node, deep=deep)


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
# PyYAML's plain SafeLoader (timestamps and all), for the programs' own config files; its C twin.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` through LibYAML: the same objects. On an error PyYAML's own parser reads
    the text again, so the error (its wording and line) stays the one ``yaml.safe_load`` raises."""
    try:
        return yaml.load(text, Loader=SAFE_LOADER)  # a SafeLoader, or its C twin
    except yaml.YAMLError:
        if SAFE_LOADER is yaml.SafeLoader:
            raise
        return yaml.safe_load(text)


class _Refused(yaml.MarkedYAMLError):
    """A document over one of the limits (as opposed to a syntax error, which the loader reports)."""


def _refuse(event: yaml.Event, problem: str) -> _Refused:
    mark: Any = event.start_mark  # a yaml.Mark, or LibYAML's twin of it: both have line and column
    return _Refused(None, None, problem, mark)


_TOO_DEEP = f"nesting deeper than {MAX_DEPTH} levels (the limit for YAML inputs)"
_TOO_MANY = f"aliases expand to more than {MAX_ALIAS_NODES} nodes (the limit for YAML inputs)"


class _Shape:
    """Depth and alias expansion of one stream, event by event (see ``check_shape``)."""

    def __init__(self) -> None:
        self.open: list[tuple[str | None, int, int]] = []  # anchor, nodes before it, deepest level inside
        self.anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, levels)
        self.nodes = 0
        self.through_aliases = 0

    def reach(self, level: int) -> None:
        if self.open:
            anchor, before, deepest = self.open[-1]
            self.open[-1] = (anchor, before, max(deepest, level))

    def start(self, event: yaml.CollectionStartEvent) -> None:
        if len(self.open) >= MAX_DEPTH:
            raise _refuse(event, _TOO_DEEP)
        self.nodes += 1
        self.open.append((event.anchor, self.nodes - 1, len(self.open) + 1))

    def end(self) -> None:
        anchor, before, deepest = self.open.pop()
        if anchor is not None:
            self.anchors[anchor] = (self.nodes - before, deepest - len(self.open))
        self.reach(deepest)

    def scalar(self, event: yaml.ScalarEvent) -> None:
        self.nodes += 1
        if event.anchor is not None:
            self.anchors[event.anchor] = (1, 0)

    def alias(self, event: yaml.AliasEvent) -> None:
        if event.anchor not in self.anchors:
            if any(anchor == event.anchor for anchor, _, _ in self.open):
                raise _refuse(event, "an alias inside its own anchor (a structure that contains itself)")
            return  # an undefined alias: the composer says so
        size, levels = self.anchors[event.anchor]
        self.nodes += size
        self.through_aliases += size
        if self.through_aliases > MAX_ALIAS_NODES:
            raise _refuse(event, _TOO_MANY)
        if len(self.open) + levels > MAX_DEPTH:
            raise _refuse(event, _TOO_DEEP)
        self.reach(len(self.open) + levels)


def check_shape(text: str) -> None:
    """Depth and alias expansion from the event stream: iterative, linear, nothing constructed.

    An alias counts as the nodes of its anchor (aliases inside it included) and adds its anchor's
    depth where it stands. Raises a MarkedYAMLError that ``describe`` turns into the message.
    """
    shape = _Shape()
    try:
        # LibYAML's parser keeps a stack, not a recursion, so even 100,000 levels cost nothing here;
        # only composing them into nodes would recurse (and crash), which is what this check prevents.
        for event in yaml.parse(text, Loader=LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                shape.start(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                shape.end()
            elif isinstance(event, yaml.ScalarEvent):
                shape.scalar(event)
            elif isinstance(event, yaml.AliasEvent):
                shape.alias(event)
    except _Refused:
        raise
    except yaml.YAMLError:
        return  # a syntax error: the loader reports it, in PyYAML's words


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


def _quiet(text: str) -> str:
    """PyYAML's wording with whatever it quotes from the input shown only as a safe excerpt."""
    return re.sub(r"'([^']*)'", lambda quoted: excerpt(quoted.group(1), limit=24), text)


def describe(exc: yaml.YAMLError, source: str) -> str:
    """One line for a YAML error: ``file:line:col: invalid YAML: problem``, never the input's text.

    (``str(exc)`` of PyYAML would print the offending line.)
    """
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f"{source}: invalid YAML: {type(exc).__name__}"
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    message = _quiet(exc.problem or exc.context or "cannot parse")
    if exc.context and exc.context_mark and exc.problem and exc.context_mark is not mark:
        # e.g. an unclosed [ is reported at the end of the file; say where it was opened.
        opened = exc.context_mark
        message += f" ({_quiet(exc.context)} started at {opened.line + 1}:{opened.column + 1})"
    return f"{where}: invalid YAML: {message}"


def parse(text: str, source: str, loader: type[_Loader] | None = None) -> Any:
    """One YAML document; ``source`` names the file in the error."""
    try:
        check_shape(text)
        return _string_keys(_documents(text, loader, every=False))
    except yaml.YAMLError as exc:
        raise ValuesError(describe(exc, source)) from exc


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


def read_text(path: Path, source: str, *, within: Path | None = None, max_bytes: int = MAX_BYTES) -> str:
    """The text of a regular file of at most ``max_bytes``, read without ever blocking.

    A symlink is followed only when ``within`` is None or its target is inside ``within`` (the
    project): a values file cannot lead the tools to a credentials file elsewhere.
    """
    try:
        linked = within is not None and stat.S_ISLNK(os.lstat(path).st_mode)
        if linked and within is not None and not path.resolve().is_relative_to(within.resolve()):
            raise ValuesError(
                f"{source}: is a symbolic link to a file outside the project "
                "(a YAML input may link only to a file inside the project)"
            )
        info = os.stat(path)  # before opening: opening a FIFO would wait for a writer
        if not stat.S_ISREG(info.st_mode):
            raise ValuesError(f"{source}: is {_file_kind(info.st_mode)}; a YAML input must be a regular file")
        if info.st_size > max_bytes:
            raise ValuesError(
                f"{source}: {info.st_size} bytes is over the limit of {max_bytes} bytes for a YAML input"
            )
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):  # replaced since the stat
                raise ValuesError(f"{source}: is not a regular file; a YAML input must be a regular file")
            data = os.read(handle, max_bytes + 1)
        finally:
            os.close(handle)
    except FileNotFoundError as exc:
        raise ValuesError(f"{source}: file not found") from exc
    except OSError as exc:
        raise ValuesError(f"{source}: cannot read: {exc.strerror or type(exc).__name__}") from exc
    if len(data) > max_bytes:
        raise ValuesError(f"{source}: over the limit of {max_bytes} bytes for a YAML input")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValuesError(f"{source}: is not UTF-8 text (byte {exc.start} cannot be decoded)") from exc


def _kind_of(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        lines = data.count("\n") + 1
        return f"a string ({len(data)} characters{f', {lines} lines' if lines > 1 else ''})"
    return (
        "true or false"
        if isinstance(data, bool)
        else "a number"
        if isinstance(data, int | float)
        else "a value"
    )


def load_mapping(
    path: Path, source: str, *, within: Path | None = None, max_bytes: int = MAX_BYTES
) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; an empty file is an empty mapping, as in Helm."""
    return parse_mapping(read_text(path, source, within=within, max_bytes=max_bytes), source)


def parse_mapping(text: str, source: str) -> dict[str, Any]:
    """YAML text whose top level is a mapping (:func:`load_mapping` once the file is read)."""
    data = parse(text, source)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValuesError(
            f"{source}: the top level must be a mapping of keys to values, not {_kind_of(data)}"
        )
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
        raise ValuesError(describe(exc, source)) from exc
    return [_string_keys(doc) for doc in documents if doc is not None]
