"""The pinned helm for every stage (render, package, push, deploy, archives).

``run`` calls the helm CLI directly and turns a failure into one line of the caller's error class;
``render_archive`` renders a packaged chart (its dependencies are inside it, so nothing is built
first). Only deploy needs pyhelm3's typed Command (install, history, rollback): ``command`` and
``call`` import it when called, so the stages that only render never load pyhelm3 and pydantic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
from typing import TYPE_CHECKING, Any

from keelson.errors import KeelsonError, RenderError, ValuesError
from keelson.project import KUBE_VERSIONS, NAMESPACE, RELEASE, Project
from keelson.yamlio import parse_all

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence
    from pathlib import Path

    from pyhelm3.command import Command

    from keelson.models import Object

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


# pyhelm3 logs every failed command as a warning; the failure becomes one KeelsonError line instead,
# and a stray log line would break the one-line error of the command line.
logging.getLogger("pyhelm3").addHandler(logging.NullHandler())


def condense(stderr: bytes) -> str:
    """helm's stderr as one line: from its ``Error:`` line on, without the warnings before it."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    if starts:
        lines = lines[starts[0] :]
        lines[0] = lines[0].removeprefix("Error:").strip()
    return " ".join(line for line in lines if not line.startswith("Use --debug flag")) or "helm failed"


def command(prj: Project, binary: str = "helm", kube_context: str | None = None) -> Command:
    """pyhelm3's Command for the pinned helm; ``kube_context`` for commands that talk to a cluster."""
    from pyhelm3.command import Command  # noqa: PLC0415 (deploy only: pyhelm3 imports pydantic)

    return Command(executable=str(prj.tool(binary)), kubecontext=kube_context)


def call(
    what: str, action: Callable[[], Coroutine[Any, Any, Any]], error: type[KeelsonError] = RenderError
) -> Any:
    """Run one pyhelm3 coroutine; a helm failure becomes ``error("<what>: <helm's message>")``."""
    from pyhelm3 import errors as helm_errors  # noqa: PLC0415 (see command)

    try:
        return asyncio.run(action())
    except helm_errors.Error as exc:
        raise error(f"{what}: {condense(exc.stderr)}") from exc


def run(
    prj: Project,
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    binary: str = "helm",
    what: str = "",
    error: type[KeelsonError] = RenderError,
) -> bytes:
    """helm's stdout; a non-zero exit becomes ``error("<binary> <what>: <helm's message>")``."""
    done = subprocess.run(
        [str(prj.tool(binary)), *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
        env=prj.tool_env(),
    )
    if done.returncode != 0:
        raise error(f"{binary} {what or args[0]}: {condense(done.stderr)}")
    return done.stdout


def major_version(prj: Project, binary: str = "helm") -> int:
    """3 or 4: Helm 4 renamed ``--atomic`` to ``--rollback-on-failure``."""
    text = run(prj, ["version", "--template", "{{ .Version }}"], binary=binary, what="version").decode()
    match = _VERSION.search(text)
    return int(match.group(1)) if match else 4


def render_archive(
    prj: Project,
    archive: Path,
    values: dict[str, Any],
    *,
    api_versions: Sequence[str] = (),
    kube_version: str = KUBE_VERSIONS[0],
    binary: str = "helm",
) -> list[Object]:
    """``helm template`` of a packaged chart (a .tgz) with ``values`` on stdin, as render.render does."""
    args = [
        "template",
        RELEASE,
        str(archive),
        "--namespace",
        NAMESPACE,
        "--values",
        "-",
        "--kube-version",
        kube_version,
    ]
    for api in api_versions:
        args += ["--api-versions", api]
    output = run(prj, args, stdin=json.dumps(values).encode(), binary=binary, what=f"template {archive.name}")
    try:
        documents = parse_all(output.decode(), f"helm template {archive.name}")
    except ValuesError as exc:
        raise RenderError(exc.message) from exc
    return [document for document in documents if isinstance(document, dict) and "kind" in document]
