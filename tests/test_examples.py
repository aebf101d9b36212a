"""The GitOps examples (examples/) render, the way their controller renders them, exactly what
`invoke template --env ENV` writes for that environment, object by object (issue 14 item 2).

Argo CD (examples/argocd/keelson-ENV.yaml): its repo-server runs `helm template PATH --name-template
RELEASE --namespace NS --kube-version V --values FILE... --values <valuesObject> --api-versions
API... --include-crds` on the chart folder of the repository (dependencies built), with the
valueFiles resolved against that folder and the Kubernetes version and APIs of its cache of the
destination cluster: every group/version and group/version/Kind (argo-cd reposerver helmTemplate,
util/helm/cmd.go, argo.APIResourcesToStrings). It is rendered twice: with a cache that holds the
Prometheus Operator's API and with one that does not yet (its CRDs installed in the same sync, a
stale cache). The explicit capability values make both the same.

Flux (examples/flux/): `kubectl kustomize` builds the folder as kustomize-controller does (files
anywhere in the repository in reach), then helm-controller installs the OCIRepository's chart (here
the archive `invoke package` builds, byte for byte what `invoke publish --oci` pushes) with
valuesFrom merged in order and spec.values on top, against the live cluster: its version and every
API it serves, the Prometheus Operator's included.

What a controller adds after rendering (Argo's tracking annotation, Flux's helm.toolkit.fluxcd.io
labels) is the controller's, not the chart's, and is not compared.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from support import REPO, invoke

from keelson import helm, secretscan, values
from keelson.package import build
from keelson.project import ENVS, KUBE_VERSIONS, NAMESPACE, RELEASE, project
from keelson.render import charts_lock, prepare_dependencies
from keelson.yamlio import parse_all

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from keelson.models import Object

PRJ = project(REPO)
EXAMPLES = REPO / "examples"
ARGO_DIR = EXAMPLES / "argocd"
FLUX_DIR = EXAMPLES / "flux"
OPERATOR_GROUP = "monitoring.coreos.com/"
CAPABILITIES = {"serviceMonitor": True, "prometheusRule": True, "httpRoute": True}
DURATION = re.compile(r"^([0-9]+(ms|s|m|h))+$")


# --- comparing renders ---------------------------------------------------------------------------


def object_id(obj: Object) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('apiVersion')} {obj.get('kind')} {meta.get('namespace', '-')}/{meta.get('name')}"


def _by_id(objects: list[Object], side: str) -> dict[str, Object]:
    indexed: dict[str, Object] = {}
    for obj in objects:
        key = object_id(obj)
        assert key not in indexed, f"{side} renders {key} twice"
        indexed[key] = obj
    return indexed


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_differences(expected: Any, actual: Any, path: str) -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys(), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                yield f"{where}: missing (expected {_shown(expected[key])})"
            elif key not in expected:
                yield f"{where}: unexpected {_shown(actual[key])}"
            else:
                yield from _field_differences(expected[key], actual[key], where)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            yield from _field_differences(want, got, f"{path}[{index}]")
    elif type(expected) is not type(actual) or expected != actual:
        yield f"{path or '.'}: expected {_shown(expected)}, got {_shown(actual)}"


def differences(expected: list[Object], actual: list[Object]) -> list[str]:
    """Every object only one side renders, and every field where a shared object differs."""
    want, got = _by_id(expected, "invoke template"), _by_id(actual, "the controller")
    lines = [f"{key}: not rendered by the controller" for key in sorted(want.keys() - got.keys())]
    lines += [f"{key}: rendered only by the controller" for key in sorted(got.keys() - want.keys())]
    for key in sorted(want.keys() & got.keys()):
        lines += [f"{key}: {line}" for line in _field_differences(want[key], got[key], "")]
    return lines


def assert_same(expected: list[Object], actual: list[Object]) -> None:
    found = differences(expected, actual)
    assert not found, "\n".join(found[:40])


def test_differences_name_the_object_and_the_field() -> None:
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}
    changed = {**base, "data": {"LOG_LEVEL": "info", "ports": [1, 2]}}
    other = {**base, "data": {"LOG_LEVEL": "debug", "ports": [1, 3]}}
    extra = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}
    assert differences([changed], [other, extra]) == [
        "v1 Secret -/b: rendered only by the controller",
        "v1 ConfigMap n/a: data.LOG_LEVEL: expected 'info', got 'debug'",
        "v1 ConfigMap n/a: data.ports[1]: expected 2, got 3",
    ]
    assert differences([base], [{**base, "data": {}}]) == ["v1 ConfigMap n/a: data: unexpected {}"]
    assert differences([changed], [changed]) == []


# --- what `invoke template` writes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def invoke_template(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[Object]]:
    """``invoke_template(ENV)``: what ``invoke template --env ENV`` wrote, run as a user runs it."""
    written: dict[str, list[Object]] = {}

    def objects_of(env: str) -> list[Object]:
        if env not in written:
            out = tmp_path_factory.mktemp("manifests") / env
            done = invoke("template", "--env", env, "--out", str(out))
            assert done.returncode == 0, done.stdout + done.stderr
            found: list[Object] = []
            for file in sorted(out.glob("*.yaml")):
                found += parse_all(file.read_text(encoding="utf-8"), str(file))
            assert found, f"invoke template --env {env} wrote no object"
            written[env] = found
        return written[env]

    return objects_of


def cluster_apis(objects: list[Object], operator: bool) -> list[str]:
    """What a cluster able to take the release serves, as Argo's cache and helm's discovery list it:
    each group/version and group/version/Kind of the objects; the Prometheus Operator's only with it."""
    apis: set[str] = set()
    for obj in objects:
        version, kind = str(obj["apiVersion"]), str(obj["kind"])
        if operator or not version.startswith(OPERATOR_GROUP):
            apis |= {version, f"{version}/{kind}"}
    return sorted(apis)


def _objects(output: bytes, where: str) -> list[Object]:
    return [doc for doc in parse_all(output.decode(), where) if isinstance(doc, dict) and "kind" in doc]


def test_no_example_holds_a_secret() -> None:
    """The examples only name Secrets provisioned in the cluster (through the env's values): none
    holds a Secret object or a string the secret detector flags, the built ConfigMap included."""
    documents: list[tuple[str, Any]] = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        documents += [
            (PRJ.display(path), doc) for doc in parse_all(path.read_text(encoding="utf-8"), str(path))
        ]
    documents += [("kubectl kustomize examples/flux", obj) for obj in flux_objects().values()]
    assert len(documents) >= 8
    for where, document in documents:
        assert document.get("kind") != "Secret", where
        assert [path for path, _ in secretscan.scan(document)] == [], where


# --- Argo CD -------------------------------------------------------------------------------------


def application(env: str) -> dict[str, Any]:
    documents = parse_all((ARGO_DIR / f"keelson-{env}.yaml").read_text(encoding="utf-8"), env)
    assert len(documents) == 1, f"examples/argocd/keelson-{env}.yaml holds {len(documents)} documents"
    app: dict[str, Any] = documents[0]
    return app


def inside_repository(folder: Path, relative: str) -> Path:
    """A valueFiles entry as Argo resolves it: relative to the source path, never out of the repository."""
    resolved = (folder / relative).resolve()
    assert resolved.is_relative_to(REPO.resolve()), f"{relative}: outside the repository"
    assert resolved.is_file(), f"{relative}: no such file in the repository"
    return resolved


def argo_render(app: dict[str, Any], api_versions: list[str], tmp: Path) -> list[Object]:
    """``helm template`` as Argo CD's repo-server runs it for ``app``."""
    source, destination = app["spec"]["source"], app["spec"]["destination"]
    helm_spec = source.get("helm") or {}
    chart = REPO / source["path"]
    release = helm_spec.get("releaseName") or app["metadata"]["name"]
    namespace = helm_spec.get("namespace") or destination["namespace"]
    kube_version = helm_spec.get("kubeVersion") or KUBE_VERSIONS[0]
    args = ["template", str(chart), "--name-template", release, "--namespace", namespace]
    args += ["--kube-version", kube_version]
    for entry in helm_spec.get("valueFiles") or []:
        args += ["--values", str(inside_repository(chart, entry))]
    if helm_spec.get("valuesObject"):
        extra = tmp / "values-object.yaml"
        extra.write_text(yaml.safe_dump(helm_spec["valuesObject"]), encoding="utf-8")
        args += ["--values", str(extra)]
    for api in helm_spec.get("apiVersions") or api_versions:
        args += ["--api-versions", api]
    args.append("--include-crds")
    prepare_dependencies(PRJ)  # Argo's `helm dependency build` of the checked-out chart
    with charts_lock(PRJ, exclusive=False):
        output = helm.run(PRJ, args, what=f"template {app['metadata']['name']}")
    return _objects(output, f"argo render of {app['metadata']['name']}")


@pytest.mark.parametrize("env", ENVS)
def test_each_application_is_an_argo_application_of_the_umbrella(env: str) -> None:
    app = application(env)
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["kind"] == "Application"
    assert app["metadata"]["name"] == f"keelson-{env}"
    spec = app["spec"]
    assert spec["project"]
    source = spec["source"]
    assert source["repoURL"].startswith("https://")
    assert source["targetRevision"]
    assert source["path"] == PRJ.display(PRJ.umbrella)
    assert (REPO / source["path"] / "Chart.yaml").is_file()
    assert "chart" not in source  # a chart folder of a Git repository, not a Helm repository's chart
    helm_spec = source["helm"]
    # The layering `invoke template --env ENV` does: the chart defaults, then values/ENV.yaml.
    files = [inside_repository(REPO / source["path"], entry) for entry in helm_spec["valueFiles"]]
    assert files == [PRJ.env_file(env).resolve()]
    assert helm_spec["releaseName"] == RELEASE
    assert helm_spec["valuesObject"] == {"global": {"capabilities": CAPABILITIES}}
    destination = spec["destination"]
    assert destination["namespace"] == NAMESPACE
    assert destination["name"] == values.load(env, (), PRJ).merged["global"]["cluster"]
    assert "server" not in destination  # Argo takes a name or a server, not both
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
    labels = spec["syncPolicy"]["managedNamespaceMetadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("operator_in_cache", [True, False], ids=["crds-in-cache", "crds-not-in-cache"])
@pytest.mark.parametrize("env", ENVS)
def test_argo_renders_what_invoke_template_writes(
    env: str, operator_in_cache: bool, invoke_template: Callable[[str], list[Object]], tmp_path: Path
) -> None:
    expected = invoke_template(env)
    apis = cluster_apis(expected, operator=operator_in_cache)
    assert_same(expected, argo_render(application(env), apis, tmp_path))


def test_without_the_capability_values_argo_would_drop_the_monitors(
    invoke_template: Callable[[str], list[Object]], tmp_path: Path
) -> None:
    """Why the Applications state them: with "auto" and a cache without the operator's CRDs the
    ServiceMonitors and the PrometheusRule vanish without an error, and the Alloy agent stops
    reading the operator's monitors."""
    app = application("prod")
    del app["spec"]["source"]["helm"]["valuesObject"]
    expected = invoke_template("prod")
    found = differences(expected, argo_render(app, cluster_apis(expected, operator=False), tmp_path))
    missing = "not rendered by the controller"
    monitors = {
        f"{o['apiVersion']} {o['kind']} {o['metadata']['namespace']}/{o['metadata']['name']}: {missing}"
        for o in expected
        if o["kind"] in {"ServiceMonitor", "PrometheusRule"}
    }
    assert {o["kind"] for o in expected} >= {"ServiceMonitor", "PrometheusRule"}
    assert monitors <= set(found), found
    agent = "v1 ConfigMap keelson/keelson-alloy-agent: data.config.alloy: "
    assert any(line.startswith(agent) for line in found), found


# --- Flux ----------------------------------------------------------------------------------------


@cache
def flux_objects() -> dict[str, Object]:
    """examples/flux built as kustomize-controller builds it, by kind."""
    kubectl = PRJ.tool("kubectl")
    done = subprocess.run(
        [str(kubectl), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(FLUX_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    built = parse_all(done.stdout, "kubectl kustomize examples/flux")
    by_kind: dict[str, Object] = {}
    for obj in built:
        assert obj["kind"] not in by_kind, f"examples/flux builds two {obj['kind']} objects"
        by_kind[obj["kind"]] = obj
    return by_kind


def flux_values() -> dict[str, Any]:
    """The values helm-controller hands helm: each valuesFrom in order, then spec.values, merged
    the way it merges them (mappings key by key, the later one wins)."""
    objects = flux_objects()
    release = objects["HelmRelease"]
    merged: dict[str, Any] = {}
    for ref in release["spec"]["valuesFrom"]:
        assert ref["kind"] == "ConfigMap"
        config = objects["ConfigMap"]
        assert config["metadata"]["name"] == ref["name"]
        document = yaml.safe_load(config["data"][ref.get("valuesKey", "values.yaml")])
        merged = values.merge(merged, document, keep_nulls=True)
    return values.merge(merged, release["spec"].get("values") or {}, keep_nulls=True)


def flux_env() -> str:
    env = flux_values()["global"]["env"]
    assert env in ENVS
    return str(env)


def test_the_flux_objects_are_of_the_real_crd_shape() -> None:
    objects = flux_objects()
    assert set(objects) == {"Namespace", "ConfigMap", "OCIRepository", "HelmRelease"}
    source, release, config = objects["OCIRepository"], objects["HelmRelease"], objects["ConfigMap"]
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert config["apiVersion"] == "v1"
    # valuesFrom and chartRef look in the HelmRelease's own namespace.
    namespaces = {obj["metadata"]["namespace"] for obj in (source, release, config)}
    assert namespaces == {objects["Namespace"]["metadata"]["name"]}
    assert objects["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    assert source["spec"]["url"] == f"oci://registry.example.com/charts/{RELEASE}"
    assert DURATION.match(source["spec"]["interval"])
    chart_version = yaml.safe_load((PRJ.umbrella / "Chart.yaml").read_text(encoding="utf-8"))["version"]
    assert source["spec"]["ref"] == {"tag": chart_version}
    assert source["spec"]["layerSelector"] == {
        "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        "operation": "copy",
    }

    spec = release["spec"]
    assert DURATION.match(spec["interval"])
    assert spec["chartRef"] == {"kind": "OCIRepository", "name": source["metadata"]["name"]}
    assert "chart" not in spec  # one of chart or chartRef
    assert spec["releaseName"] == RELEASE
    assert spec["targetNamespace"] == NAMESPACE
    assert spec["valuesFrom"] == [
        {"kind": "ConfigMap", "name": config["metadata"]["name"], "valuesKey": "values.yaml"}
    ]
    assert spec["values"] == {"global": {"capabilities": CAPABILITIES}}
    assert config["metadata"]["labels"] == {"reconcile.fluxcd.io/watch": "Enabled"}


def test_the_values_configmap_is_the_environments_file() -> None:
    env = flux_env()
    data = flux_objects()["ConfigMap"]["data"]["values.yaml"]
    assert data == PRJ.env_file(env).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def flux_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive the OCIRepository names, as `invoke package` builds (and `publish --oci` pushes) it."""
    folder = tmp_path_factory.mktemp("packaged")
    archives = build(PRJ, folder / "charts")
    source = flux_objects()["OCIRepository"]
    name, tag = source["spec"]["url"].rsplit("/", 1)[1], source["spec"]["ref"]["tag"]
    archive = next(a for a in archives if a.name == name and a.version == tag)
    return folder / "charts" / archive.file


def flux_render(chart: Path, release_values: dict[str, Any], api_versions: list[str]) -> list[Object]:
    """helm-controller's install of the HelmRelease: its release name and target namespace, against
    a live cluster of the oldest supported version serving ``api_versions``."""
    spec = flux_objects()["HelmRelease"]["spec"]
    args = ["template", spec["releaseName"], str(chart), "--namespace", spec["targetNamespace"]]
    args += ["--values", "-", "--kube-version", KUBE_VERSIONS[0]]
    for api in api_versions:
        args += ["--api-versions", api]
    output = helm.run(PRJ, args, stdin=yaml.safe_dump(release_values).encode(), what=f"template {chart.name}")
    return _objects(output, f"flux render of {chart.name}")


def test_flux_renders_what_invoke_template_writes(
    invoke_template: Callable[[str], list[Object]], flux_chart: Path
) -> None:
    expected = invoke_template(flux_env())
    assert_same(expected, flux_render(flux_chart, flux_values(), cluster_apis(expected, operator=True)))


def test_under_flux_auto_sees_the_live_clusters_api(
    invoke_template: Callable[[str], list[Object]], flux_chart: Path
) -> None:
    """README: Flux renders against the live cluster, so "auto" would work there too; the example
    states true only so that a cluster without the operator fails loudly."""
    release_values = flux_values()
    release_values["global"]["capabilities"] = {"serviceMonitor": "auto", "prometheusRule": "auto"}
    expected = invoke_template(flux_env())
    assert_same(expected, flux_render(flux_chart, release_values, cluster_apis(expected, operator=True)))
    without = flux_render(flux_chart, release_values, cluster_apis(expected, operator=False))
    assert not [obj for obj in without if str(obj["apiVersion"]).startswith(OPERATOR_GROUP)]
