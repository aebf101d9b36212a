"""Reproducible chart archives and their provenance files.

``helm package`` cannot give byte-identical archives for a chart with several dependencies: it
re-serializes the subcharts in Go map order. So the archive is written here: a tar of the chart's
files (``.helmignore`` applied with Helm's own rules) in sorted order, every entry with the same
pinned time, uid/gid 0, no user or group names, mode 0644 (0755 when executable), inside a gzip
stream whose header has time 0 and no file name. Helm loads it like any other chart archive.

Signing writes Helm's provenance format (the chart's metadata, ``...``, and the archive's
sha256, clear-signed) with gpg, the key taken from a keyring file given by path, as
``helm package --sign --keyring`` takes it; ``helm verify`` and ``helm pull --verify`` accept it.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from keelson.errors import KeelsonError, ToolError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


class ArchiveError(KeelsonError):
    """A chart cannot be archived or signed."""


@dataclass(frozen=True)
class _Rule:
    negate: bool
    must_dir: bool
    match: Callable[[str], bool]


def _glob(pattern: str) -> Callable[[str], bool]:
    regex = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[" and "]" in pattern[index + 1 :]:
            end = pattern.index("]", index + 1)
            body = pattern[index + 1 : end]
            regex += "[" + body + "]"  # Go and Python agree on ranges and a leading ^
            index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            regex += re.escape(pattern[index])
        else:
            regex += re.escape(char)
        index += 1
    compiled = re.compile(regex + r"\Z", re.DOTALL)
    return lambda name: compiled.match(name) is not None


def ignore_rules(text: str) -> list[_Rule]:
    """Helm's pkg/ignore: per line, ``!`` negates, a trailing ``/`` means directories only, a leading
    ``/`` or any ``/`` matches the whole relative path, otherwise only the base name; ``**`` is refused.
    """
    rules: list[_Rule] = []
    for raw in [*text.splitlines(), "templates/.?*"]:
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        if "**" in rule:
            raise ArchiveError(f".helmignore: {rule}: double-star (**) syntax is not supported")
        negate = rule.startswith("!")
        rule = rule.removeprefix("!")
        must_dir = rule.endswith("/")
        rule = rule.removesuffix("/")
        if rule.startswith("/") or "/" in rule:
            whole = _glob(rule.removeprefix("/"))
            rules.append(_Rule(negate, must_dir, whole))
        else:
            base = _glob(rule)
            rules.append(_Rule(negate, must_dir, lambda name, base=base: base(name.rsplit("/", 1)[-1])))  # type: ignore[misc]
    return rules


def ignored(rules: list[_Rule], name: str, is_dir: bool) -> bool:
    """Helm's Rules.Ignore, negation quirk included (a negated rule that does not match ignores)."""
    for rule in rules:
        if rule.negate:
            if rule.must_dir and not is_dir:
                return True
            if not rule.match(name):
                return True
            continue
        if rule.must_dir and not is_dir:
            continue
        if rule.match(name):
            return True
    return False


def chart_files(chart_dir: Path) -> list[str]:
    """The chart's files as Helm loads them (``.helmignore`` applied, symlinks followed), sorted."""
    ignore_file = chart_dir / ".helmignore"
    rules = ignore_rules(ignore_file.read_text(encoding="utf-8") if ignore_file.is_file() else "")
    found: list[str] = []
    for folder, dirs, files in os.walk(chart_dir, followlinks=True):
        relative = Path(folder).relative_to(chart_dir).as_posix()
        prefix = "" if relative == "." else relative + "/"
        dirs[:] = sorted(d for d in dirs if not ignored(rules, prefix + d, is_dir=True))
        for name in files:
            path = Path(folder) / name
            if ignored(rules, prefix + name, is_dir=False):
                continue
            if not path.is_file():
                raise ArchiveError(f"{path}: cannot package an irregular file")
            found.append(prefix + name)
    return sorted(found)


def write(
    chart_dir: Path, name: str, out: Path, mtime: int, built: Mapping[str, bytes] | None = None
) -> None:
    """``out``: the chart in ``chart_dir`` as ``<name>/...``. ``built`` holds the build's products
    (``Chart.lock``, ``charts/<dependency>.tgz``, or any file whose content the build decides):
    each takes its name's place, and the folder's own Chart.lock and charts/ are never read, so a
    stale dependency archive left there cannot slip in."""
    built = built or {}
    own = [
        relative
        for relative in chart_files(chart_dir)
        if relative not in built and relative != "Chart.lock" and not relative.startswith("charts/")
    ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in sorted([*own, *built]):
            path = chart_dir / relative
            data = built[relative] if relative in built else path.read_bytes()
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o755 if relative not in built and os.access(path, os.X_OK) else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(buffer.getvalue())


def provenance_body(archive: Path, sha256: str, metadata: dict[str, Any]) -> str:
    """The message Helm signs: the chart metadata as YAML, ``...``, then the archive's checksum."""
    meta = yaml.safe_dump(metadata, sort_keys=True, default_flow_style=False, width=1000)
    files = yaml.safe_dump({"files": {archive.name: f"sha256:{sha256}"}}, default_flow_style=False)
    return f"{meta}\n...\n{files}"


def sign(
    archive: Path,
    sha256: str,
    metadata: dict[str, Any],
    *,
    key: str,
    keyring: Path,
    passphrase_file: Path | None = None,
) -> Path:
    """Write ``<archive>.prov``, clear-signed by ``key`` from the secret keyring file ``keyring``."""
    gpg = shutil.which("gpg")
    if gpg is None:
        raise ToolError("gpg not found on PATH; --sign needs it (Debian: apt-get install gnupg)")
    if not keyring.is_file():
        raise ArchiveError(f"--keyring {keyring}: file not found")
    home = Path(tempfile.mkdtemp(prefix="keelson-gpg-", dir="/tmp"))  # short: gpg-agent's socket path
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    prov = archive.with_name(archive.name + ".prov")
    try:
        _gpg(env, [gpg, "--batch", "--import", str(keyring)], "import the keyring")
        args = [gpg, "--batch", "--yes", "--local-user", key, "--digest-algo", "SHA512"]
        if passphrase_file is not None:
            args += ["--pinentry-mode", "loopback", "--passphrase-file", str(passphrase_file)]
        body = provenance_body(archive, sha256, metadata).encode()
        _gpg(env, [*args, "--clearsign", "--output", str(prov)], f'sign with key "{key}"', body)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    return prov


def _gpg(env: dict[str, str], args: list[str], what: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(args, env=env, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise ArchiveError(f"gpg could not {what}: {' '.join(lines[-2:]) or 'no message'}")
