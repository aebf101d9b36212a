"""kubeconform over rendered objects: strict schemas per Kubernetes version, CRDs, missing kinds."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import pytest

from keelson import kubeschema
from keelson.errors import ToolError
from keelson.project import ENVS, KUBE_VERSIONS, Project, project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object


def deployment(**spec_extra: object) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "keelson"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example/web:1.0.0"}]},
            },
            **spec_extra,
        },
    }


def service_monitor(**endpoint_extra: object) -> Object:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "web", "namespace": "keelson", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "namespaceSelector": {"matchNames": ["keelson"]},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s", **endpoint_extra}],
        },
    }


def prometheus_rule(**rule_extra: object) -> Object:
    rule = {"alert": "Down", "expr": "up == 0", "for": "5m", "labels": {"severity": "page"}, **rule_extra}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "web", "namespace": "keelson"},
        "spec": {"groups": [{"name": "web", "interval": "1m", "rules": [rule]}]},
    }


def http_route(**spec_extra: object) -> Object:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "keelson"},
        "spec": {
            "parentRefs": [{"name": "edge", "namespace": "gateway-system", "sectionName": "https"}],
            "hostnames": ["app.example.com", "*.example.org"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [{"name": "web", "port": 80}],
                }
            ],
            **spec_extra,
        },
    }


def messages(repo: Project, objects: list[Object], versions: tuple[str, ...] = ("1.35.0",)) -> list[str]:
    return [str(finding) for finding in kubeschema.validate(objects, "prod", versions, repo)]


def test_valid_objects_pass_on_every_version(repo: Project) -> None:
    assert (
        messages(repo, [deployment(), service_monitor(), prometheus_rule(), http_route()], KUBE_VERSIONS)
        == []
    )


def test_a_wrong_type_names_the_object_and_the_field(repo: Project) -> None:
    bad = deployment()
    bad["spec"]["replicas"] = "three"
    assert messages(repo, [bad]) == [
        "prod (k8s 1.35.0): Deployment keelson/web: /spec/replicas: got string, want null or integer"
    ]


def test_strict_mode_rejects_an_unknown_field_on_every_version(repo: Project) -> None:
    assert messages(repo, [deployment(replcas=3)], KUBE_VERSIONS) == [
        f"prod (k8s {version}): Deployment keelson/web: /spec: additional properties 'replcas' not allowed"
        for version in KUBE_VERSIONS
    ]


def test_an_object_of_unknown_kind_fails_naming_its_kind(repo: Project) -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "keelson"},
    }
    assert messages(repo, [widget]) == [
        "prod (k8s 1.35.0): Widget keelson/w: could not find schema for Widget"
    ]


def test_crd_schemas_are_strict(repo: Project) -> None:
    assert messages(repo, [service_monitor(scrapeEvery="30s")]) == [
        "prod (k8s 1.35.0): ServiceMonitor keelson/web: "
        "/spec/endpoints/0: additional properties 'scrapeEvery' not allowed"
    ]
    bad_interval = messages(repo, [service_monitor(interval="soon")])
    assert len(bad_interval) == 1
    assert bad_interval[0].startswith(
        "prod (k8s 1.35.0): ServiceMonitor keelson/web: /spec/endpoints/0/interval: "
    )
    bad_rule = messages(repo, [prometheus_rule(severity="page")])
    assert len(bad_rule) == 1
    assert "/spec/groups/0/rules/0: additional properties 'severity' not allowed" in bad_rule[0]


def test_the_http_route_schema_holds_the_crd_rules(repo: Project) -> None:
    subject = "prod (k8s 1.35.0): HTTPRoute keelson/web: "
    # TLS is the Gateway's: the route has no such field.
    assert messages(repo, [http_route(tls={"secretName": "x"})]) == [
        subject + "/spec: additional properties 'tls' not allowed"
    ]
    no_port = http_route()
    del no_port["spec"]["rules"][0]["backendRefs"][0]["port"]
    (missing,) = messages(repo, [no_port])
    assert missing.startswith(subject + "/spec/rules/0/backendRefs/0")
    assert "missing property 'port'" in missing
    relative = http_route()
    relative["spec"]["rules"][0]["matches"][0]["path"]["value"] = "api"
    (not_absolute,) = messages(repo, [relative])
    assert "/spec/rules/0/matches/0/path/value: 'api' does not match pattern '^/'" in not_absolute
    (upper,) = messages(repo, [http_route(hostnames=["App.example.com"])])
    assert upper.startswith(subject + "/spec/hostnames/0: 'App.example.com' does not match pattern")


def test_only_the_bad_object_is_reported(repo: Project) -> None:
    bad = copy.deepcopy(service_monitor())
    del bad["spec"]["selector"]
    result = messages(repo, [deployment(), bad])
    assert len(result) == 1
    assert result[0].startswith("prod (k8s 1.35.0): ServiceMonitor keelson/web: ")
    assert "selector" in result[0]


@pytest.mark.parametrize("env", ENVS)
def test_the_rendered_umbrella_passes(
    repo: Project, rendered: Callable[[str], list[Object]], env: str
) -> None:
    assert messages(repo, rendered(env), KUBE_VERSIONS) == []


def test_missing_schemas_say_run_bootstrap(tmp_path: Path) -> None:
    empty = project(tmp_path)
    with pytest.raises(
        ToolError, match=r"^Kubernetes 1.30.0 schemas not found in .tools/k8s-schemas; run scripts/bootstrap$"
    ):
        kubeschema.validate([deployment()], "prod", ("1.30.0",), empty)
