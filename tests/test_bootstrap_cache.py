"""scripts/install_tools.py for real, on a checkout of its own with one small gosrc pin: it builds
once, reuses the cached build while nothing it depends on changed, rebuilds when its main folder
changes, and a main-profile run leaves no test tool in .tools/bin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

from support import REPO

if TYPE_CHECKING:
    from pathlib import Path

# A small module with no dependencies (xxhash), and a main package of the checkout's own built
# inside a copy of it: the same path a gosrc line such as alloy-fmt takes.
PINS = """[main]
[test]
gosrc hello github.com/cespare/xxhash/v2@v2.3.0 ./cmd/keelson-hello main=hellosrc
"""
MAIN_GO = """package main

import (
\t"fmt"

\t"github.com/cespare/xxhash/v2"
)

func main() { fmt.Println("%s", xxhash.Sum64String("keelson")) }
"""


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    (root / "hellosrc").mkdir()
    (root / "scripts" / "pins.txt").write_text(PINS, encoding="utf-8")
    (root / "hellosrc" / "main.go").write_text(MAIN_GO % "hello", encoding="utf-8")
    return root


def _install(root: Path, cache: Path, profile: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "install_tools.py"), "--profile", profile, str(root)],
        env={**os.environ, "KEELSON_TOOLS_CACHE": str(cache)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _hello(root: Path) -> str:
    binary = root / ".tools" / "bin" / "hello"
    done = subprocess.run([str(binary)], capture_output=True, text=True, check=True)
    return done.stdout.split()[0]


def test_builds_once_and_rebuilds_only_when_an_input_changes(tmp_path: Path) -> None:
    root, cache = _checkout(tmp_path), tmp_path / "cache"
    first = _install(root, cache, "test")
    assert "building hello v2.3.0" in first
    assert _hello(root) == "hello"
    record = json.loads((root / ".tools" / "profile.json").read_text(encoding="utf-8"))
    assert record == {"profile": "test", "tools": {"hello": "test"}}
    (entry,) = (cache / "hello").glob("v2.3.0-*")

    pins_file = root / "scripts" / "pins.txt"
    respaced = PINS.replace(" main=", "   main=")
    pins_file.write_text("# a comment changes nothing\n" + respaced, encoding="utf-8")
    again = _install(root, cache, "test")
    assert "building" not in again
    assert os.path.samefile(root / ".tools" / "bin" / "hello", entry / "bin" / "hello")

    (root / "hellosrc" / "main.go").write_text(MAIN_GO % "edited", encoding="utf-8")
    rebuilt = _install(root, cache, "test")
    assert "building hello v2.3.0" in rebuilt
    assert _hello(root) == "edited"
    assert len(list((cache / "hello").glob("v2.3.0-*"))) == 2  # the first build stays cached


def test_main_profile_removes_the_test_tools(tmp_path: Path) -> None:
    root, cache = _checkout(tmp_path), tmp_path / "cache"
    _install(root, cache, "test")
    assert (root / ".tools" / "bin" / "hello").is_file()
    output = _install(root, cache, "main")
    assert "removing bin/hello (not in the main profile)" in output
    assert not (root / ".tools" / "bin" / "hello").exists()
    record = json.loads((root / ".tools" / "profile.json").read_text(encoding="utf-8"))
    assert record == {"profile": "main", "tools": {"hello": "test"}}
    assert "building" not in _install(root, cache, "test")  # back to test: linked from the cache
