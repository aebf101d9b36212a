"""Render the charts through pyhelm3, and write rendered objects to files.

Dependencies are built first for every chart of the tree, leaves before the charts that use them
(the library, the leaf charts, then the umbrella): the umbrella packages ``../app`` together with
the ``charts/`` folder built inside it. The built ``charts/*/charts/`` and ``Chart.lock`` are
git-ignored. A lock on the charts folder keeps parallel runs (pytest -n) from reading a half-built
``charts/`` folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson import helm
from keelson.charts import Chart, build_order, load_chart
from keelson.errors import RenderError, ValuesError
from keelson.project import KUBE_VERSIONS, NAMESPACE, RELEASE, Project, project
from keelson.yamlio import dump_all, parse_all

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from keelson.models import Object

_prepared: set[tuple[Path, str]] = set()


@contextmanager
def charts_lock(prj: Project, exclusive: bool) -> Iterator[None]:
    fd = os.open(prj.charts_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def prepare_dependencies(
    prj: Project | None = None, helm_binary: str = "helm", charts: Sequence[Chart] | None = None
) -> None:
    """``helm dependency update --skip-refresh`` for ``charts`` (default: the umbrella's tree).

    Dependencies go first, and each chart is done once a process. ``update`` rather than ``build``:
    Chart.lock is a build product here, and ``build`` refuses a lock file that no longer matches
    Chart.yaml. ``file://`` dependencies are re-packaged each time, so an edit to a sibling chart
    always reaches the umbrella.
    """
    prj = prj or project()
    todo = [
        chart
        for chart in (build_order(load_chart(prj.umbrella)) if charts is None else charts)
        if chart.dependencies and (chart.path, helm_binary) not in _prepared
    ]
    if not todo:
        return
    with charts_lock(prj, exclusive=True):
        for chart in todo:
            helm.run(
                prj,
                ["dependency", "update", "--skip-refresh", str(chart.path)],
                binary=helm_binary,
                what=f"dependency update {prj.display(chart.path)}",
            )
            _prepared.add((chart.path, helm_binary))


def render(
    values: dict[str, Any],
    *,
    prj: Project | None = None,
    chart: Path | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    kube_version: str = KUBE_VERSIONS[0],
    api_versions: Sequence[str] = (),
    helm_binary: str = "helm",
    kube_context: str | None = None,
) -> list[Object]:
    """``helm template`` of the umbrella (or ``chart``) with ``values`` on stdin; the objects, in order.

    ``values`` are the user-supplied values (values/<env>.yaml and overlays, nulls kept), the same
    as ``-f`` files would give helm: helm merges the chart defaults itself, exactly as at install.
    With ``kube_context`` helm renders against that cluster (``--dry-run=server``): its Kubernetes
    version, the APIs it serves and ``lookup`` of live objects, exactly as ``helm upgrade`` will;
    ``kube_version`` and ``api_versions`` are then the cluster's own.
    """
    prj = prj or project()
    chart = chart or prj.umbrella
    prepare_dependencies(prj, helm_binary, build_order(load_chart(chart)))
    args = [
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--values",
        "-",
    ]
    if kube_context:
        args += ["--dry-run=server", "--kube-context", kube_context]
    else:
        args += ["--kube-version", kube_version]
        for api in api_versions:
            args += ["--api-versions", api]
    with charts_lock(prj, exclusive=False):
        output = helm.run(
            prj,
            args,
            stdin=json.dumps(values).encode(),
            binary=helm_binary,
            what=f"template {prj.display(chart)}",
        )
    try:
        documents = parse_all(output.decode(), f"helm template {prj.display(chart)}")
    except ValuesError as exc:
        raise RenderError(exc.message) from exc
    for document in documents:
        if not isinstance(document, dict) or "kind" not in document:
            raise RenderError(
                f"helm template {prj.display(chart)}: rendered a document that is not an object"
            )
    return documents


def file_name(obj: Object) -> str:
    """``<kind>-<namespace>-<name>.yaml`` lower-cased; cluster-scoped objects have no namespace part."""
    meta = obj.get("metadata") or {}
    parts = [obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")]
    stem = "-".join(str(part) for part in parts if part).lower()
    return re.sub(r"[^a-z0-9.-]", "_", stem) + ".yaml"


def describe(obj: Object) -> str:
    """``Deployment keelson/keelson-app-backend``, as findings name an object."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def write_objects(objects: Sequence[Object], out_dir: Path) -> list[Path]:
    """One file per object, sorted by name, written to a temporary folder that then replaces ``out_dir``.

    Two objects can only share a file name if they share kind, namespace and name, which Kubernetes
    cannot hold either, so that is refused instead of one file silently overwriting the other.
    """
    names: dict[str, Object] = {}
    for obj in objects:
        name = file_name(obj)
        if name in names:
            raise RenderError(f"{describe(obj)}: rendered twice (as {describe(names[name])} too)")
        names[name] = obj
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name in sorted(names):
            (staging / name).write_text(dump_all([names[name]]), encoding="utf-8")
        staging.chmod(0o755)
        if out_dir.exists():
            retired = out_dir.with_name(f".{out_dir.name}.old.{os.getpid()}")
            out_dir.rename(retired)
            staging.rename(out_dir)
            shutil.rmtree(retired)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out_dir / name for name in sorted(names)]
