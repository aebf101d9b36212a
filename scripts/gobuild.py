"""Build one `go` or `gosrc` pin into a folder: <out>/bin/<binary> and <out>/share/<kept files>.

`go`: `go install` of the package, or, with `module=`, `go build` inside a throwaway module that
requires it (for a module whose version list the proxy refuses, a module served under another
path, or dependencies the proxy refuses at the required version).
`gosrc`: a writable copy of the module (`go mod download`), edited as the options say, then
`go build -mod=mod` there, so the module's own go.mod and its remote replaces apply.
Every build is `-trimpath` in the pinned environment of scripts/goenv.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pins import Pin

PLACEHOLDER = "<!-- placeholder written by scripts/bootstrap: this build serves no web UI -->\n"


class BuildError(Exception):
    """A build step failed; go's own output went to the terminal above."""


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"`{' '.join(command[:3])} …` failed in {cwd} (exit {done.returncode})")
    return done.stdout


def module_dir(spec: str, env: dict[str, str], cwd: Path) -> Path:
    """The read-only folder of ``module@version`` in the module cache (downloaded if needed)."""
    info = json.loads(_run(["go", "mod", "download", "-json", spec], cwd, env))
    if not info.get("Dir"):
        raise BuildError(f"go mod download {spec}: {info.get('Error', 'no folder')}")
    return Path(info["Dir"])


def _ldflags(pin: Pin) -> list[str]:
    flags = pin.all("ldflag")
    return ["-ldflags=" + " ".join(flags)] if flags else []


def _keep(source: Path, relative: str, share: Path) -> None:
    """Copy a file or folder of the module into share/, under its own base name."""
    item = source / relative
    share.mkdir(parents=True, exist_ok=True)
    if item.is_dir():
        shutil.copytree(item, share / item.name)
    elif item.is_file():
        shutil.copy2(item, share / item.name)
    else:
        raise BuildError(f"keep={relative}: not found in the module")
    for path in [share / item.name, *(share / item.name).rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def build_go(pin: Pin, out: Path, env: dict[str, str]) -> None:
    bin_dir = out / "bin"
    bin_dir.mkdir(parents=True)
    module = pin.option("module")
    with tempfile.TemporaryDirectory(prefix="keelson-go-") as scratch_name:
        scratch = Path(scratch_name)
        if module is None:
            if pin.all("replace") or pin.all("keep") or pin.option("source"):
                raise BuildError(f"{pin.name}: replace=, keep= and source= need module=")
            _run(
                ["go", "install", "-trimpath", *_ldflags(pin), pin.spec],
                scratch,
                {**env, "GOBIN": str(bin_dir)},
            )
            built = bin_dir / pin.path.rsplit("/", 1)[-1]
            if built.name != pin.name:
                built.rename(bin_dir / pin.name)
            return
        lines = ["module keelson.local/toolbuild", "", "go 1.24", "", f"require {module} {pin.version}"]
        source = pin.option("source")
        if source:  # the proxy serves the code under its repository path only
            lines.append(f"replace {module} => {source} {pin.version}")
        for dependency in pin.all("replace"):  # a dependency the proxy refuses at the required version
            path, _, version = dependency.rpartition("@")
            lines.append(f"replace {path} => {path} {version}")
        (scratch / "go.mod").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (scratch / "tools.go").write_text(f'//go:build tools\n\npackage tools\n\nimport _ "{pin.path}"\n')
        _run(["go", "mod", "tidy"], scratch, env)
        _run(
            ["go", "build", "-mod=mod", "-trimpath", *_ldflags(pin), "-o", str(bin_dir / pin.name), pin.path],
            scratch,
            env,
        )
        for relative in pin.all("keep"):
            _keep(module_dir(f"{source or module}@{pin.version}", env, scratch), relative, out / "share")


def _staging_requires(src: Path, version: str, env: dict[str, str]) -> None:
    """Drop every replace into ./staging (the module zip leaves those folders out) and require each
    of those modules at the published ``version`` instead."""
    edits = json.loads(_run(["go", "mod", "edit", "-json"], src, env))
    for replace in edits.get("Replace") or []:
        if replace["New"]["Path"].startswith("./staging/"):
            old = replace["Old"]["Path"]
            _run(["go", "mod", "edit", f"-dropreplace={old}", f"-require={old}@{version}"], src, env)


def _adopt(src: Path, value: str, package_dir: Path) -> None:
    """Copy a file of the module into the main package, its package clause made `package main`."""
    package_dir.mkdir(parents=True, exist_ok=True)
    lines = (src / value).read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("package "):
            lines[index] = "package main\n"
            break
    (package_dir / Path(value).name).write_text("".join(lines), encoding="utf-8")


def _copy_main(root: Path, value: str, package_dir: Path) -> None:
    package_dir.mkdir(parents=True, exist_ok=True)
    for go_file in sorted((root / value).glob("*.go")):
        shutil.copy2(go_file, package_dir / go_file.name)


def _placeholder(src: Path, value: str) -> None:
    """An embedded folder the module zip leaves out (a web UI build): one stand-in file."""
    target = src / value
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(PLACEHOLDER, encoding="utf-8")


def _prepare_copy(pin: Pin, src: Path, root: Path, share: Path, env: dict[str, str]) -> None:
    """Apply the gosrc options to the module copy, in the order the line gives them."""
    package_dir = src / pin.package.replace("{}", pin.name)
    for key, value in pin.options:
        if key == "dropreplace":
            _run(["go", "mod", "edit", f"-dropreplace={value}"], src, env)
        elif key == "stagingrequire":
            _staging_requires(src, value, env)
        elif key == "require":
            _run(["go", "mod", "edit", f"-require={value}"], src, env)
        elif key == "replace":
            path, _, version = value.rpartition("@")
            _run(["go", "mod", "edit", f"-replace={path}={path}@{version}"], src, env)
        elif key == "main":
            _copy_main(root, value, package_dir)
        elif key == "adopt":
            _adopt(src, value, package_dir)
        elif key == "keep":
            _keep(src, value, share)
        elif key == "placeholder":
            _placeholder(src, value)


def _refuse_linked(pin: Pin, binary: Path, env: dict[str, str]) -> None:
    """Fail when the binary links a module the pin refuses (a licence the project does not take).

    ``refuse=<module>`` names one module; ``refuse=<prefix>/...`` every module below the prefix too.
    """
    refused = pin.all("refuse")
    if not refused:
        return
    listing = _run(["go", "version", "-m", str(binary)], binary.parent, env)
    linked = {
        words[1]
        for words in map(str.split, listing.splitlines())
        if len(words) > 1 and words[0] in ("dep", "=>")
    }
    hits = sorted(
        module
        for module in linked
        for rule in refused
        if module == rule or (rule.endswith("/...") and (module + "/").startswith(rule[:-3]))
    )
    if hits:
        raise BuildError(f"{binary.name} links {', '.join(hits)}, which pins.txt refuses")


def build_gosrc(pin: Pin, out: Path, root: Path, env: dict[str, str]) -> None:
    bin_dir = out / "bin"
    bin_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="keelson-gosrc-") as scratch_name:
        src = Path(scratch_name) / "src"
        shutil.copytree(module_dir(pin.spec, env, Path(scratch_name)), src, symlinks=True)
        for path in [src, *src.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        for workspace in ("go.work", "go.work.sum"):  # GOWORK=off too: the module builds alone
            (src / workspace).unlink(missing_ok=True)
        _prepare_copy(pin, src, root, out / "share", env)
        for name, package in pin.packages():
            _run(
                ["go", "build", "-mod=mod", "-trimpath", *_ldflags(pin), "-o", str(bin_dir / name), package],
                src,
                env,
            )
            _refuse_linked(pin, bin_dir / name, env)
