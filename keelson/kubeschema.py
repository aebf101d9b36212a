"""Kubernetes schema check: kubeconform -strict over the rendered objects, for each supported version.

Schemas come from the pinned kubernetes-validate package (laid out in .tools/k8s-schemas by
scripts/bootstrap) and, for the optional CRDs the charts emit, from the committed schemas/crds/.
No ``-ignore-missing-schemas``: an object whose kind has no schema is a failure, not a skip.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson.errors import ToolError
from keelson.k8s import describe
from keelson.models import Finding, Object
from keelson.project import KUBE_VERSIONS, Project, project

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def schema_locations(prj: Project) -> list[str]:
    """kubeconform -schema-location templates: built-in kinds first, then the CRD catalogue.

    kubeconform's ``{{ .KindSuffix }}`` keeps only the first label of an API group
    (``-monitoring-v1``), so the CRD schemas are filed by full group instead, as the CRDs-catalog
    layout does: ``schemas/crds/monitoring.coreos.com/servicemonitor_v1.json``.
    """
    return [
        f"{prj.k8s_schemas}/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}/"
        "{{ .ResourceKind }}{{ .KindSuffix }}.json",
        f"{prj.crd_schemas}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
    ]


def _require_schemas(prj: Project, versions: Sequence[str]) -> None:
    for version in versions:
        if not (prj.k8s_schemas / f"v{version}-standalone-strict").is_dir():
            raise ToolError(
                f"Kubernetes {version} schemas not found in .tools/k8s-schemas; run scripts/bootstrap"
            )


_CAUSE = re.compile(r"- at '([^']*)': (.*?)(?=\s+- at '|$)")


def _message(result: dict[str, Any]) -> str:
    """The leaf causes of kubeconform's message (``/spec/replicas: got string, want integer``).

    Its ``validationErrors`` keep only the first level (``/spec: validation failed``); the full
    tree is in ``msg``, one ``- at '<path>': <what>`` per cause.
    """
    msg = " ".join(str(result.get("msg", "")).split())
    causes = [(path or "/", what) for path, what in _CAUSE.findall(msg) if what != "validation failed"]
    if causes:
        return "; ".join(f"{path}: {what}" for path, what in causes)
    return msg.removeprefix("problem validating schema. Check JSON formatting: ")


def _run(prj: Project, folder: Path, version: str) -> list[dict[str, Any]]:
    # One worker: kubeconform caches each compiled schema, and parallel workers would compile the
    # same 1 MB of definitions several times over (twice as slow). Versions run in parallel instead.
    args = [
        str(prj.tool("kubeconform")),
        "-strict",
        "-summary",
        "-output",
        "json",
        "-n",
        "1",
        "-kubernetes-version",
        version,
    ]
    for location in schema_locations(prj):
        args += ["-schema-location", location]
    done = subprocess.run(
        [*args, str(folder)], capture_output=True, text=True, check=False, env=prj.tool_env()
    )
    try:
        report = json.loads(done.stdout)
    except ValueError as exc:
        # Exit status 1 only means "some resource is invalid"; unreadable output is a tool failure.
        raise ToolError(f"kubeconform {version}: {' '.join((done.stderr or done.stdout).split())}") from exc
    results: list[dict[str, Any]] = report.get("resources") or []
    return results


def validate(
    objects: Sequence[Object], env: str, versions: Sequence[str] = KUBE_VERSIONS, prj: Project | None = None
) -> list[Finding]:
    """Every object against every version's schema.

    Findings read ``prod (k8s 1.35.0): Deployment keelson/keelson-app-backend: /spec/replicas: ...``.
    """
    return validate_envs({env: objects}, versions, prj)[env]


def validate_envs(
    renders: Mapping[str, Sequence[Object]],
    versions: Sequence[str] = KUBE_VERSIONS,
    prj: Project | None = None,
) -> dict[str, list[Finding]]:
    """Several envs' objects at once: one kubeconform per version reads them all, so each compiles
    its schemas once rather than once per env (the versions run side by side)."""
    prj = prj or project()
    _require_schemas(prj, versions)
    findings: dict[str, list[Finding]] = {env: [] for env in renders}
    with tempfile.TemporaryDirectory(prefix="keelson-kubeconform-") as tmp:
        # One file per object, written once for every version: kubeconform reports file names but
        # not namespaces, and the file name leads back to the object. JSON, because it is a YAML
        # subset kubeconform reads as well, and writing it costs a fraction of dumping YAML.
        by_file: dict[str, tuple[str, Object]] = {}
        for number, (env, objects) in enumerate(renders.items()):
            for index, obj in enumerate(objects):
                path = Path(tmp) / f"{number}-{index:04d}.json"
                path.write_text(json.dumps(obj), encoding="utf-8")
                by_file[str(path)] = env, obj
        with ThreadPoolExecutor(max_workers=len(versions) or 1) as pool:
            runs = list(pool.map(lambda version: (version, _run(prj, Path(tmp), version)), versions))
        for version, results in runs:
            for result in results:
                env, known = by_file.get(str(result.get("filename")), ("", None))
                subject = describe(known) if known else f"{result.get('kind')} {result.get('name')}"
                # A result that names no file of ours cannot be placed: every env hears of it.
                for where in [env] if env else findings:
                    findings[where].append(Finding(f"{where} (k8s {version})", subject, _message(result)))
    return findings
