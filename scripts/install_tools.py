"""Install the pinned programs of one profile into .tools: build what the cache lacks, link the rest.

Usage: install_tools.py --profile main|test ROOT

Each `go`, `gosrc` and `venv` pin of the profile is built once into the shared cache
(${KEELSON_TOOLS_CACHE:-~/.cache/keelson/tools}/<name>/<version>-<digest>), keyed by the digest of
everything the build depends on (scripts/pins.py: cache_key), and linked into .tools/bin; files a
pin keeps go to .tools/share/<name>. Anything in .tools/bin or .tools/share that the profile does
not install is removed, and .tools/profile.json records the profile and which tools belong to which,
so `invoke test` and the tests can tell a main-only bootstrap.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import gobuild
import goenv
import pins

MARKER = ".complete"


def cache_root() -> Path:
    configured = os.environ.get("KEELSON_TOOLS_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keelson" / "tools"


def say(message: str) -> None:
    print(f"bootstrap: {message}", flush=True)


def _venv_environment(root: Path) -> dict[str, str]:
    pip_lock = (root / "requirements" / "pip.lock").read_bytes()
    return {"python": sys.version.split()[0], "pip.lock": hashlib.sha256(pip_lock).hexdigest()}


def _build_venv(pin: pins.Pin, out: Path, root: Path) -> None:
    """A venv of its own for a PyPI program, every package from a hashed lock, no resolution."""
    lock = pin.option("lock")
    if lock is None:
        raise gobuild.BuildError(f"{pin.name}: a venv pin needs lock=<file>")
    home = out / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    for requirements in (root / "requirements" / "pip.lock", root / lock):
        command = [
            str(home / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        command += ["--require-hashes", "--no-deps", "--only-binary=:all:", "-r", str(requirements)]
        if subprocess.run(command, check=False).returncode != 0:
            raise gobuild.BuildError(f"pip install -r {lock} failed (see pip's output above)")
    (out / "bin").mkdir()
    (out / "bin" / pin.name).symlink_to(home / "bin" / pin.name)


def ensure_built(
    pin: pins.Pin, root: Path, cache: Path, go_env: dict[str, str], shaping: dict[str, str]
) -> Path:
    """The cache folder of ``pin``, built first if the cache lacks it. Builds of one name are
    serialised by a lock, so two checkouts bootstrapping at once build it once."""
    environment = _venv_environment(root) if pin.kind == "venv" else shaping
    key = pins.cache_key(pin, root, environment)
    home = cache / pin.name
    entry = home / f"{pin.version}-{key[:16]}"
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (entry / MARKER).is_file():
            return entry
        shutil.rmtree(entry, ignore_errors=True)
        say(f"building {', '.join(pin.names)} {pin.version} ({pin.kind} {pin.spec}; cache key {key[:16]})")
        started = time.monotonic()
        partial = home / f".partial-{key[:16]}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            if pin.kind == "go":
                gobuild.build_go(pin, partial, go_env)
            elif pin.kind == "gosrc":
                gobuild.build_gosrc(pin, partial, root, go_env)
            else:
                # A venv cannot move: build it in place, then mark it complete.
                partial.rename(entry)
                partial = entry
                _build_venv(pin, entry, root)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        (partial / "key").write_text(key + "\n", encoding="utf-8")
        if partial != entry:
            partial.rename(entry)
        (entry / MARKER).write_text("", encoding="utf-8")
        say(f"built {', '.join(pin.names)} in {time.monotonic() - started:.0f}s")
        return entry


def _link(source: Path, target: Path) -> None:
    """Point .tools/bin/<name> at the cached binary: a hard link (a copy across filesystems), or a
    symlink for a venv program; replaced atomically, untouched when already current."""
    if source.is_symlink():
        if target.is_symlink() and os.readlink(target) == str(source.resolve()):
            return
        temporary = target.with_name(f".{target.name}.new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(source.resolve())
    else:
        if target.is_file() and not target.is_symlink() and os.path.samefile(source, target):
            return
        temporary = target.with_name(f".{target.name}.new")
        temporary.unlink(missing_ok=True)
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copy2(source, temporary)
    temporary.replace(target)
    say(f"{target.name} -> .tools/bin/{target.name}")


def install(root: Path, profile: str) -> None:
    tools = root / ".tools"
    every = pins.parse(root / "scripts" / "pins.txt")
    chosen = [pin for pin in pins.selected(every, profile) if pin.kind in {"go", "gosrc", "venv"}]
    go_env, shaping = goenv.build_environment()
    cache = cache_root()
    bin_dir, share_dir = tools / "bin", tools / "share"
    bin_dir.mkdir(parents=True, exist_ok=True)
    share_dir.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for pin in chosen:
        entry = ensure_built(pin, root, cache, go_env, shaping)
        for name in pin.names:
            _link(entry / "bin" / name, bin_dir / name)
            wanted.add(name)
        shared = share_dir / pin.name
        if (entry / "share").is_dir():
            if not shared.is_dir() or _tree(shared) != _tree(entry / "share"):
                shutil.rmtree(shared, ignore_errors=True)
                shutil.copytree(entry / "share", shared)
            wanted.add(pin.name)
    for folder in (bin_dir, share_dir):
        for stale in sorted(folder.iterdir()):
            if stale.name not in wanted:
                say(f"removing {folder.name}/{stale.name} (not in the {profile} profile)")
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale)
                else:
                    stale.unlink()
    shutil.rmtree(tools / "venvs", ignore_errors=True)  # venvs now live in the cache
    record = {
        "profile": profile,
        "tools": {name: pin.profile for pin in every if pin.kind != "pypi" for name in pin.names},
    }
    (tools / "profile.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _tree(folder: Path) -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=pins.PROFILES, required=True)
    parser.add_argument("root", type=Path)
    arguments = parser.parse_args(argv)
    try:
        install(arguments.root.resolve(), arguments.profile)
    except (pins.PinsError, goenv.GoEnvError, gobuild.BuildError) as error:
        print(f"bootstrap: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
