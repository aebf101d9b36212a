"""Render the charts with the helm CLI, and write rendered objects to files.

Dependencies are built first for every chart of the tree, leaves before the charts that use them
(the library, the leaf charts, then the umbrella): the umbrella packages ``../app`` together with
the ``charts/`` folder built inside it. The built ``charts/*/charts/`` and ``Chart.lock`` are
git-ignored, and so is build/dependencies/, where each update leaves a digest of the sources it
built from, so that a run with nothing changed skips the updates. A lock on the charts folder
keeps parallel runs (pytest -n) from reading a half-built ``charts/`` folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson import helm
from keelson.charts import Chart, aliases, build_order, load_chart
from keelson.errors import RenderError, ValuesError
from keelson.k8s import describe, manifest_documents, ref
from keelson.memo import program
from keelson.project import KUBE_VERSIONS, NAMESPACE, RELEASE, Project, project
from keelson.yamlio import dump_all

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from keelson.models import Object


@contextmanager
def charts_lock(prj: Project, exclusive: bool) -> Iterator[None]:
    fd = os.open(prj.charts_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sources(chart: Chart) -> Iterator[Path]:
    """The files of a chart that its build reads: everything but the built charts/ and Chart.lock."""
    for path in sorted(chart.path.rglob("*")):
        inside = path.relative_to(chart.path).parts
        if path.is_file() and inside[0] != "charts" and inside != ("Chart.lock",):
            yield path


def sources_digest(chart: Chart, helm_identity: str) -> str:
    """sha256 over the chart's sources and, recursively, those of its dependencies (``file://``
    dependencies are packaged from them), and the helm that builds them (``memo.program``: its
    file, so a rebuilt or upgraded helm prepares again)."""
    digest = hashlib.sha256(helm_identity.encode())
    for node in build_order(chart):
        for path in _sources(node):
            digest.update(f"\0{path.relative_to(node.path.parent)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp(prj: Project, chart: Chart) -> Path:
    return prj.build_dir / "dependencies" / f"{chart.path.name}.sha256"


def _up_to_date(prj: Project, chart: Chart, digest: str) -> bool:
    """The stamp holds ``digest`` and every dependency's archive is still in place."""
    try:
        stamped = _stamp(prj, chart).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    built = chart.path / "charts"
    return (
        stamped == digest
        and (chart.path / "Chart.lock").is_file()
        and all(any(built.glob(f"{dep.name}-*.tgz")) for dep in chart.dependencies)
    )


def prepare_dependencies(
    prj: Project | None = None, helm_binary: str = "helm", charts: Sequence[Chart] | None = None
) -> None:
    """``helm dependency update --skip-refresh`` for ``charts`` (default: the umbrella's tree).

    Dependencies go first. ``update`` rather than ``build``: Chart.lock is a build product here,
    and ``build`` refuses a lock file that no longer matches Chart.yaml. A chart is skipped when
    the digest of its sources (and its dependencies' sources) matches the stamp its last update
    left in build/dependencies/, so an edit to a sibling chart still reaches the umbrella.
    """
    prj = prj or project()
    tree = build_order(load_chart(prj.umbrella)) if charts is None else charts
    _prepare(prj, helm_binary, tree, _digests(prj, helm_binary, tree))


def _prepare(prj: Project, helm_binary: str, tree: Sequence[Chart], digests: dict[Path, str]) -> None:
    if all(_up_to_date(prj, chart, digests[chart.path]) for chart in tree if chart.dependencies):
        return
    with charts_lock(prj, exclusive=True):
        for chart in tree:
            if not chart.dependencies or _up_to_date(prj, chart, digests[chart.path]):
                continue  # another process may have built it while this one waited for the lock
            _stamp(prj, chart).unlink(missing_ok=True)
            helm.run(
                prj,
                ["dependency", "update", "--skip-refresh", str(chart.path)],
                binary=helm_binary,
                what=f"dependency update {prj.display(chart.path)}",
            )
            _stamp(prj, chart).parent.mkdir(parents=True, exist_ok=True)
            _stamp(prj, chart).write_text(digests[chart.path] + "\n", encoding="utf-8")


# Two helm binaries preparing the same checkout in turn would otherwise take turns for ever.
_PREPARE_ATTEMPTS = 3


def _digests(prj: Project, helm_binary: str, charts: Sequence[Chart]) -> dict[Path, str]:
    identity = program(prj.tool(helm_binary))
    return {chart.path: sources_digest(chart, identity) for chart in charts if chart.dependencies}


@contextmanager
def prepared(prj: Project, helm_binary: str, charts: Sequence[Chart]) -> Iterator[dict[Path, str]]:
    """Per chart of ``charts`` with dependencies, the Chart.lock that ``helm_binary`` made for its
    current sources; while the block runs, no other process updates them or their charts/.
    Packaging takes these instead of running ``helm dependency update`` on a copy: the lock and
    the archives' names depend on the Chart.yaml files alone."""
    digests = _digests(prj, helm_binary, charts)
    for _attempt in range(_PREPARE_ATTEMPTS):
        _prepare(prj, helm_binary, charts, digests)
        with charts_lock(prj, exclusive=False):
            if all(_up_to_date(prj, chart, digests[chart.path]) for chart in charts if chart.dependencies):
                yield {
                    chart.path: (chart.path / "Chart.lock").read_text(encoding="utf-8")
                    for chart in charts
                    if chart.dependencies
                }
                return
        # Another helm (a test's Helm 3, say) prepared them in between: prepare again.
    raise RenderError(
        f"{prj.display(prj.charts_dir)}/: the chart dependencies keep being rebuilt by another helm; "
        "run again"
    )


def template_text(
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
    prepare: bool = True,
) -> str:
    """helm's output for :func:`render`, as text (tests/test_yamlio.py parses it both ways).

    ``prepare=False``: the caller prepared the dependencies already (once for several renders).
    """
    prj = prj or project()
    chart = chart or prj.umbrella
    if prepare:
        prepare_dependencies(prj, helm_binary, build_order(load_chart(chart)))
    args = ["template", release, str(chart), "--namespace", namespace, "--values", "-"]
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
    return output.decode()


class Rendered(list[dict[str, Any]]):
    """The objects helm rendered, in order, and ``sources``: per ``Kind/namespace/name``
    (``k8s.ObjectRef.key``) the chart template that rendered it, from helm's ``# Source:`` comments
    (``charts/app/templates/deployment.yaml``), so the gates point at the file to change."""

    def __init__(self, objects: Iterable[Object] = (), sources: dict[str, str] | None = None) -> None:
        super().__init__(objects)
        self.sources: dict[str, str] = dict(sources or {})


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
    prepare: bool = True,
) -> Rendered:
    """``helm template`` of the umbrella (or ``chart``) with ``values`` on stdin; the objects, in
    order, with the template of each (``Rendered.sources``).

    ``values`` are the user-supplied values (values/<env>.yaml and overlays, nulls kept), the same
    as ``-f`` files would give helm: helm merges the chart defaults itself, exactly as at install.
    With ``kube_context`` helm renders against that cluster (``--dry-run=server``): its Kubernetes
    version, the APIs it serves and ``lookup`` of live objects, exactly as ``helm upgrade`` will;
    ``kube_version`` and ``api_versions`` are then the cluster's own.
    """
    prj = prj or project()
    chart = chart or prj.umbrella
    output = template_text(
        values,
        prj=prj,
        chart=chart,
        release=release,
        namespace=namespace,
        kube_version=kube_version,
        api_versions=api_versions,
        helm_binary=helm_binary,
        kube_context=kube_context,
        prepare=prepare,
    )
    where = f"helm template {prj.display(chart)}"
    rendered = Rendered()
    try:
        for document, source in manifest_documents(output, where, aliases(load_chart(chart))):
            if not isinstance(document, dict) or "kind" not in document:
                raise RenderError(f"{where}: {source or '?'}: rendered a document that is not an object")
            rendered.append(document)
            if source:
                rendered.sources[ref(document, namespace).key] = source
    except ValuesError as exc:
        raise RenderError(exc.message) from exc
    return rendered


def file_name(obj: Object) -> str:
    """``<kind>-<namespace>-<name>.yaml`` lower-cased; cluster-scoped objects have no namespace part."""
    meta = obj.get("metadata") or {}
    parts = [obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")]
    stem = "-".join(str(part) for part in parts if part).lower()
    return re.sub(r"[^a-z0-9.-]", "_", stem) + ".yaml"


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
