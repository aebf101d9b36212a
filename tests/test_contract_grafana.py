"""Issue 3, item 2, field by field: Grafana's data sources, dashboards, credentials, access and replicas."""

from __future__ import annotations

import configparser
import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from stack_support import RELEASE, container, env_of, pod_spec
from support import find_object

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object

ENVS = ("dev", "prod")

# --- Grafana -------------------------------------------------------------------------------------

DATASOURCES = {
    "mimir": ("prometheus", f"http://{RELEASE}-mimir:8080/prometheus"),
    "loki": ("loki", f"http://{RELEASE}-loki:3100"),
    "tempo": ("tempo", f"http://{RELEASE}-tempo:3200"),
    "pyroscope": ("grafana-pyroscope-datasource", f"http://{RELEASE}-pyroscope:4040"),
    "alertmanager": ("alertmanager", f"http://{RELEASE}-mimir:8080"),
}


def _datasources(objects: list[Object]) -> dict[str, dict[str, Any]]:
    text = find_object(objects, "ConfigMap", f"{RELEASE}-grafana-datasources")["data"]["datasources.yaml"]
    return {ds["uid"]: ds for ds in yaml.safe_load(text)["datasources"]}


def _grafana_ini(objects: list[Object]) -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(find_object(objects, "ConfigMap", f"{RELEASE}-grafana")["data"]["grafana.ini"])
    return ini


@pytest.mark.parametrize("env", ENVS)
def test_grafana_datasources_with_fixed_uids(rendered: Callable[[str], list[Object]], env: str) -> None:
    datasources = _datasources(rendered(env))
    assert {uid: (ds["type"], ds["url"]) for uid, ds in datasources.items()} == DATASOURCES
    assert datasources["alertmanager"]["jsonData"]["implementation"] == "mimir"


@pytest.mark.parametrize("env", ENVS)
def test_grafana_cross_links(rendered: Callable[[str], list[Object]], env: str) -> None:
    ds = _datasources(rendered(env))
    exemplars = ds["mimir"]["jsonData"]["exemplarTraceIdDestinations"]
    assert [(e["name"], e["datasourceUid"]) for e in exemplars] == [("trace_id", "tempo")]
    derived = ds["loki"]["jsonData"]["derivedFields"]
    assert derived
    assert {d["datasourceUid"] for d in derived} == {"tempo"}
    assert "trace_id" in {d["name"] for d in derived}
    tempo = ds["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert tempo["tracesToMetrics"]["datasourceUid"] == "mimir"
    assert tempo["serviceMap"]["datasourceUid"] == "mimir"
    assert tempo["lokiSearch"]["datasourceUid"] == "loki"


DASHBOARDS = {
    "app-red.json": ("rate(", "histogram_quantile(", "component"),
    "stack-health.json": ("loki", "tempo", "mimir", "pyroscope", "ring"),
    "telemetry-contract.json": ("job_run_id", "pipeline", "dataset_id"),
}


@pytest.mark.parametrize("env", ENVS)
def test_grafana_dashboards_are_provisioned_from_files(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    objects = rendered(env)
    data = find_object(objects, "ConfigMap", f"{RELEASE}-grafana-dashboards")["data"]
    assert set(data) == set(DASHBOARDS)
    uids = set(DATASOURCES)
    for name, words in DASHBOARDS.items():
        dashboard = json.loads(data[name])
        text = json.dumps(dashboard)
        assert dashboard["uid"], name
        assert dashboard["panels"], name
        for word in words:
            assert word in text, f"{name} does not mention {word}"
        used = {v["uid"] for v in _walk(dashboard, "datasource") if isinstance(v, dict) and "uid" in v}
        assert used - {"-- Grafana --", "grafana"} <= uids | {"${datasource}", "$datasource"}, name
    provider = yaml.safe_load(
        find_object(objects, "ConfigMap", f"{RELEASE}-grafana-dashboard-provider")["data"]["keelson.yaml"]
    )
    path = provider["providers"][0]["options"]["path"]
    deployment = find_object(objects, "Deployment", f"{RELEASE}-grafana")
    mounts = {m["mountPath"]: m["name"] for m in container(deployment, "grafana")["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes[mounts[path]]["configMap"]["name"] == f"{RELEASE}-grafana-dashboards"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert {"checksum/config", "checksum/datasources", "checksum/dashboards"} <= set(annotations)


def _walk(value: Any, key: str) -> list[Any]:
    if isinstance(value, dict):
        found = [value[key]] if key in value else []
        return found + [v for item in value.values() for v in _walk(item, key)]
    if isinstance(value, list):
        return [v for item in value for v in _walk(item, key)]
    return []


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_grafana_admin_and_oauth_from_existing_secrets_only(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    objects = rendered(env)
    deployment = find_object(objects, "Deployment", f"{RELEASE}-grafana")
    env_vars = env_of(container(deployment, "grafana"))
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod_spec(deployment)["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m["name"] for m in container(deployment, "grafana")["volumeMounts"]}
    assert env_vars["GF_SECURITY_ADMIN_PASSWORD__FILE"]["value"].startswith("/etc/grafana/secrets/")
    for name, entry in env_vars.items():
        if name.endswith("__FILE"):
            folder = entry["value"].rsplit("/", 1)[0]
            assert secrets[mounts[folder]].startswith(f"{RELEASE}-grafana-"), name
        assert not any(word in name for word in ("PASSWORD", "SECRET")) or name.endswith("__FILE"), name
    assert secrets[mounts["/etc/grafana/secrets/keelson-grafana-admin"]] == "keelson-grafana-admin"
    ini = _grafana_ini(objects)
    for section in ini.sections():
        for key in ini[section]:
            assert key not in {"admin_password", "client_secret", "password", "secret_key"}, (
                f"{section}.{key}"
            )


def test_prod_grafana_oauth_client_from_its_secret(rendered: Callable[[str], list[Object]]) -> None:
    deployment = find_object(rendered("prod"), "Deployment", f"{RELEASE}-grafana")
    env_vars = env_of(container(deployment, "grafana"))
    assert env_vars["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE"] == {
        "value": "/etc/grafana/secrets/keelson-grafana-oauth/client-secret"
    }
    assert _grafana_ini(rendered("prod"))["auth.generic_oauth"]["enabled"] == "true"


@pytest.mark.parametrize(("env", "anonymous"), [("dev", "true"), ("staging", "false"), ("prod", "false")])
def test_grafana_anonymous_access(rendered: Callable[[str], list[Object]], env: str, anonymous: str) -> None:
    assert _grafana_ini(rendered(env))["auth.anonymous"]["enabled"] == anonymous


def test_prod_grafana_ingress_with_tls(rendered: Callable[[str], list[Object]]) -> None:
    ingress = find_object(rendered("prod"), "Ingress", f"{RELEASE}-grafana")
    spec = ingress["spec"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert spec["tls"] == [
        {"secretName": f"{RELEASE}-grafana-production-tls", "hosts": ["grafana.example.com"]}
    ]
    [rule] = spec["rules"]
    assert rule["host"] == "grafana.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": f"{RELEASE}-grafana",
        "port": {"name": "http"},
    }


def test_prod_grafana_two_replicas_on_a_shared_database(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    assert find_object(objects, "Deployment", f"{RELEASE}-grafana")["spec"]["replicas"] == 2
    database = _grafana_ini(objects)["database"]
    assert database["type"] == "postgres"  # two replicas cannot share SQLite; sessions live in the DB
    assert _grafana_ini(objects)["remote_cache"]["type"] == "database"
    assert find_object(objects, "PodDisruptionBudget", f"{RELEASE}-grafana")["spec"]["minAvailable"] == 1


def test_dev_grafana_one_replica(rendered: Callable[[str], list[Object]]) -> None:
    spec = find_object(rendered("dev"), "Deployment", f"{RELEASE}-grafana")["spec"]
    assert spec.get("replicas", 1) == 1
