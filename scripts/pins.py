"""Read scripts/pins.txt: which tool is pinned how, in which profile, and the digest a build is cached by.

The file's own header documents the format. This module only parses it and computes cache keys;
scripts/gobuild.py builds. Standard library only: scripts/bootstrap runs it before .venv exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PROFILES: tuple[str, ...] = ("main", "test")
KINDS: frozenset[str] = frozenset({"go", "gosrc", "venv", "pypi"})
# Options each kind accepts (key=value words after the fixed columns); `replace`, `keep`, `ldflag`
# and `refuse` may repeat. Anything else is refused, so a typo cannot silently build something else.
OPTIONS: dict[str, frozenset[str]] = {
    "go": frozenset({"module", "source", "replace", "keep", "ldflag"}),
    "gosrc": frozenset(
        {
            "dropreplace",
            "stagingrequire",
            "require",
            "replace",
            "main",
            "adopt",
            "keep",
            "placeholder",
            "ldflag",
            "refuse",
        }
    ),
    "venv": frozenset({"lock"}),
    "pypi": frozenset(),
}
# Options naming a file or folder of this repository: their content is part of the cache key.
REPO_INPUTS: frozenset[str] = frozenset({"main", "lock"})
# Bumped when the way a kind is built changes in a way that changes its output.
RECIPES: dict[str, str] = {"go": "go-2", "gosrc": "gosrc-2", "venv": "venv-2", "pypi": "pypi-1"}


class PinsError(Exception):
    """A line of pins.txt that cannot be understood; the message names the file and line."""


@dataclass(frozen=True)
class Pin:
    kind: str
    names: tuple[str, ...]
    spec: str  # go: package@version; gosrc: module@version; venv/pypi: version
    package: str  # gosrc only: the package pattern, `{}` standing for each binary's name
    options: tuple[tuple[str, str], ...]
    profile: str
    line: int
    text: str = field(compare=False)

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def version(self) -> str:
        return self.spec.rsplit("@", 1)[-1]

    @property
    def path(self) -> str:
        """The package (go) or module (gosrc) without its version."""
        return self.spec.rsplit("@", 1)[0]

    def option(self, key: str) -> str | None:
        values = self.all(key)
        return values[-1] if values else None

    def all(self, key: str) -> list[str]:
        return [value for option, value in self.options if option == key]

    def packages(self) -> list[tuple[str, str]]:
        """(binary, package) pairs of a gosrc line."""
        return [(name, self.package.replace("{}", name)) for name in self.names]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines without comments, a trailing backslash joining the next line."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].rstrip()
        first = number
        if pending is not None:
            first, before = pending
            content = before.rstrip() + " " + content.strip()
        if content.endswith("\\"):
            pending = (first, content[:-1])
            continue
        pending = None
        if content.strip():
            joined.append((first, content.strip()))
    if pending is not None:
        joined.append(pending)
    return joined


def parse(path: Path) -> list[Pin]:
    """Every pin of the file, in order, each with the profile of the section it sits in."""
    pins: list[Pin] = []
    profile = "main"
    seen: set[str] = set()
    for number, content in _logical_lines(path.read_text(encoding="utf-8")):
        where = f"{path.name}:{number}"
        if content.startswith("["):
            profile = content.strip("[]").strip()
            if content != f"[{profile}]" or profile not in PROFILES:
                raise PinsError(f"{where}: section {content!r} is not one of [main], [test]")
            continue
        pin = _pin(content.split(), profile, number, where, content)
        for name in pin.names:
            if name in seen:
                raise PinsError(f"{where}: {name} is pinned twice")
            seen.add(name)
        pins.append(pin)
    return pins


def _pin(words: list[str], profile: str, number: int, where: str, text: str) -> Pin:
    kind = words[0]
    if kind not in KINDS:
        raise PinsError(f"{where}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    fixed = 4 if kind == "gosrc" else 3
    if len(words) < fixed:
        raise PinsError(f"{where}: a {kind} line needs {fixed - 1} columns after the kind")
    options: list[tuple[str, str]] = []
    for word in words[fixed:]:
        key, equals, value = word.partition("=")
        if not equals or not value:
            raise PinsError(f"{where}: option {word!r} is not key=value")
        if key not in OPTIONS[kind]:
            allowed = ", ".join(sorted(OPTIONS[kind])) or "none"
            raise PinsError(f"{where}: {kind} option {key!r} is unknown (allowed: {allowed})")
        options.append((key, value))
    names = tuple(words[1].split(","))
    if kind in {"go", "gosrc"} and "@" not in words[2]:
        raise PinsError(f"{where}: {words[2]!r} needs an @version")
    if len(names) > 1 and (kind != "gosrc" or "{}" not in words[3]):
        raise PinsError(f"{where}: several binaries need a gosrc package pattern with {{}}")
    return Pin(
        kind=kind,
        names=names,
        spec=words[2],
        package=words[3] if kind == "gosrc" else "",
        options=tuple(options),
        profile=profile,
        line=number,
        text=text,
    )


def selected(pins: list[Pin], profile: str) -> list[Pin]:
    """The pins a profile installs: `main` its own, `test` everything."""
    return [pin for pin in pins if profile == "test" or pin.profile == "main"]


def _digest_tree(root: Path, relative: str) -> list[str]:
    target = root / relative
    files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    return [f"{p.relative_to(root)} {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in files]


def cache_key(pin: Pin, root: Path, build_env: dict[str, str]) -> str:
    """sha256 of everything the build's output depends on: the recipe, the line's words (replaces
    and options included), the Go version, GOOS/GOARCH and flags in ``build_env``, and the content
    of every repository file the line names. Comments, spacing, the section and other lines do not
    count, so editing them rebuilds nothing."""
    parts = [RECIPES[pin.kind], pin.kind, ",".join(pin.names), pin.spec, pin.package]
    parts += [f"{key}={value}" for key, value in pin.options]
    parts += [f"env {key}={build_env[key]}" for key in sorted(build_env)]
    for key, value in pin.options:
        if key in REPO_INPUTS:
            parts += _digest_tree(root, value)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
