"""Helpers for the release-tooling tests: git copies of the project, tree hashes, a static HTTP
server, helm homes in tmp, a loopback OCI registry, and a fake helm for cluster commands.

Nothing here writes into the real checkout: every project is a copy under pytest's tmp_path.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from typing import TYPE_CHECKING, Any

from support import REPO, copy_project

from keelson.project import Project

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Keelson Tests",
    "GIT_AUTHOR_EMAIL": "tests@keelson.invalid",
    "GIT_COMMITTER_NAME": "Keelson Tests",
    "GIT_COMMITTER_EMAIL": "tests@keelson.invalid",
}
IGNORED = "/dist/\n/build/\n/charts/*/charts/\n/charts/*/Chart.lock\n/.tools\n/.venv\n"


def git(root: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def commit(root: Path, message: str, when: int | None = None) -> str:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--allow-empty", "-m", message, when=when)
    return git(root, "rev-parse", "HEAD").strip()


def git_project(target: Path, when: int = 1_767_225_600) -> Project:
    """A copy of the project's sources as a clean git repository with one commit (at ``when``)."""
    prj = copy_project(REPO, target)
    (target / ".gitignore").write_text(IGNORED, encoding="utf-8")
    git(target, "init", "--quiet", "--initial-branch=main")
    commit(target, "initial", when)
    return prj


def clone(source: Path, target: Path) -> Project:
    """A fresh clone (new file times), sharing the pinned tools."""
    subprocess.run(["git", "clone", "--quiet", str(source), str(target)], check=True)
    for link in (".tools", ".venv"):
        (target / link).symlink_to(REPO / link)
    return Project(target)


def tree_hash(folder: Path) -> str:
    """Every path under ``folder`` with its kind, mode and content; '' when it does not exist."""
    if not folder.exists():
        return ""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        kind = "dir" if path.is_dir() else "file"
        digest.update(f"{relative}\0{kind}\0{path.stat().st_mode:o}\0".encode())
        if kind == "file":
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1 (a free port), like any static web server; stopped after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def helm_env(home: Path) -> dict[str, str]:
    """helm's config, cache and registry files in ``home`` (never the user's)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "HELM_REPOSITORY_CONFIG": str(home / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(home / "cache" / "repository"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_REGISTRY_CONFIG": str(home / "registry.json"),
    }


def helm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".tools" / "bin" / "helm"), *args], capture_output=True, text=True, env=env, check=False
    )


@contextlib.contextmanager
def registry(work: Path) -> Iterator[str]:
    """The CNCF distribution registry (.tools/bin/registry) on 127.0.0.1, filesystem storage in
    ``work``; yields ``host:port`` and stops it (by its pid) afterwards."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    config = work / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n",
        encoding="utf-8",
    )
    log = (work / "registry.log").open("w")
    process = subprocess.Popen(
        [str(REPO / ".tools" / "bin" / "registry"), "serve", str(config)], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"registry did not start: {(work / 'registry.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


FAKE_HELM = r'''#!{python}
"""A fake helm: cluster commands answer from {state}, everything else runs the real helm."""
import json, os, sys
state = {state!r}
real = {real!r}
args = sys.argv[1:]
with open(os.path.join(state, "argv.jsonl"), "a") as log:
    log.write(json.dumps(args) + "\n")
def read(name, default):
    path = os.path.join(state, name)
    return json.load(open(path)) if os.path.exists(path) else default
def write(name, data):
    json.dump(data, open(os.path.join(state, name), "w"))
history = read("history.json", [])
command = args[0] if args else ""
if command == "version":
    print(read("version.json", "v4.3.1"))
elif command == "history":
    if not history:
        sys.exit(print("Error: release: not found", file=sys.stderr) or 1)
    print(json.dumps(history))
elif command == "get" and args[1] == "values":
    print(json.dumps(read("values.json", {{}})))
elif command == "get" and args[1] == "manifest":
    if not history:
        sys.exit(print("Error: release: not found", file=sys.stderr) or 1)
    sys.stdout.write(open(os.path.join(state, "manifest.yaml")).read())
elif command == "upgrade":
    values = json.loads(sys.stdin.read() or "{{}}")
    if read("fail.json", False):
        sys.exit(print("Error: UPGRADE FAILED: context deadline exceeded", file=sys.stderr) or 1)
    revision = len(history) + 1
    for entry in history:
        entry["status"] = "superseded"
    history.append({{"revision": revision, "status": "deployed", "chart": "keelson-0.1.0",
                    "app_version": "1.0.0", "description": "Upgrade complete"}})
    write("history.json", history)
    write("values.json", values)
    print(json.dumps({{"name": args[1], "version": revision, "info": {{"status": "deployed"}},
                      "chart": {{"metadata": {{"name": "keelson", "version": "0.1.0"}}}}}}))
elif command == "rollback":
    revision = len(history) + 1
    target = args[2] if len(args) > 2 and args[2].isdigit() else str(revision - 2)
    for entry in history:
        entry["status"] = "superseded"
    history.append({{"revision": revision, "status": "deployed", "chart": "keelson-0.1.0",
                    "app_version": "1.0.0", "description": "Rollback to " + target}})
    write("history.json", history)
    print("Rollback was a success! Happy Helming!")
else:
    os.execv(real, [real, *args])
'''


def fake_helm(state: Path) -> Path:
    """Write the fake helm into ``state`` (which also holds its canned answers and argv log)."""
    state.mkdir(parents=True, exist_ok=True)
    script = state / "helm"
    real = str((REPO / ".tools" / "bin" / "helm").resolve())
    script.write_text(FAKE_HELM.format(python=sys.executable, state=str(state), real=real), encoding="utf-8")
    script.chmod(0o755)
    return script


def use_fake_helm(prj: Project, state: Path) -> Path:
    """Make ``prj``'s .tools a real folder whose bin/helm is the fake (every other tool is linked)."""
    shared = (REPO / ".tools").resolve()
    tools = prj.root / ".tools"
    if tools.is_symlink():
        tools.unlink()
    tools.mkdir()
    for entry in shared.iterdir():
        if entry.name != "bin":
            (tools / entry.name).symlink_to(entry)
    (tools / "bin").mkdir()
    for binary in (shared / "bin").iterdir():
        if binary.name != "helm":
            (tools / "bin" / binary.name).symlink_to(binary.resolve())
    shutil.copy2(fake_helm(state), tools / "bin" / "helm")
    return tools / "bin" / "helm"


def calls(state: Path) -> list[list[str]]:
    log = state / "argv.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def skip_target_stages(monkeypatch: Any, cluster: str) -> None:
    """A ``--deploy`` release whose env guard and preflight pass without a cluster, for the tests of
    what happens after them (a failed deploy); tests/test_operator_cluster.py runs both for real."""
    from keelson import kube, preflight  # noqa: PLC0415

    target = kube.Target("fake-context", cluster, "https://127.0.0.1:1")
    monkeypatch.setattr("keelson.release.kube.resolve", lambda prj, context: target)
    monkeypatch.setattr(
        "keelson.release.preflighting.run",
        lambda prj, env, target, overlays, loaded=None: preflight.PreflightReport(env, target, [], []),
    )


def stub_lint(monkeypatch: Any) -> None:
    """Skip the linters (tests/test_lint.py covers them; the CLI release test runs them for real)."""
    monkeypatch.setattr("keelson.release.linting.run", lambda envs, prj, **options: [])


_TEMPLATES: dict[str, Path] = {}


def published_project(factory: Any, target: Path) -> Project:
    """A git copy of the project with ``prod`` released once into dist/ (lint skipped), copied to
    ``target``. The release is made once per test process and copied for every test."""
    if "prod" not in _TEMPLATES:
        from unittest import mock  # noqa: PLC0415

        from keelson import release  # noqa: PLC0415

        template = factory.mktemp("published") / "project"
        prj = git_project(template)
        with mock.patch("keelson.release.linting.run", return_value=[]):
            report = release.run("prod", prj=prj)
        assert report.ok, [str(finding) for finding in report.findings]
        _TEMPLATES["prod"] = template
    shutil.copytree(_TEMPLATES["prod"], target, symlinks=True)
    return Project(target)
