"""Issue 3, item 1, field by field: the storage backends (Loki, Tempo, Mimir, Pyroscope).

Each backend runs its program in monolithic mode as a StatefulSet with a headless Service for
memberlist and a client Service; its config is rendered into a ConfigMap and rolled by a checksum;
dev stores on the filesystem with one replica, staging and prod on S3 with credentials from an
existing Secret only. Prod: 3 replicas, replication factor 3, volume claims, PDB, hard anti-affinity.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from stack_support import (
    BACKENDS,
    NAMESPACE,
    RELEASE,
    backend_config,
    container,
    env_of,
    instance_labels,
    pod_spec,
    statefulset,
)
from support import REPO, find_object, write

from keelson import values
from keelson.project import OPTIONAL_APIS, project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object

ENVS = ("dev", "prod")
S3_SECRET = "keelson-object-storage"


# --- StatefulSets, Services, memberlist ---------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_is_a_monolithic_statefulset(
    rendered: Callable[[str], list[Object]], env: str, backend: str
) -> None:
    objects = rendered(env)
    sts = statefulset(objects, backend)
    _, configmap, key, target = BACKENDS[backend]
    assert sts["spec"]["serviceName"] == f"{RELEASE}-{backend}-headless"
    assert sts["spec"]["selector"]["matchLabels"] == instance_labels(backend)
    args = container(sts, backend)["args"]
    assert target in args
    assert sum(arg.startswith("-target=") for arg in args) == 1
    # The config comes from the ConfigMap, mounted where -config.file points.
    config_file = next(arg.removeprefix("-config.file=") for arg in args if arg.startswith("-config.file="))
    volumes = {v["name"]: v for v in pod_spec(sts)["volumes"]}
    mounts = [m for m in container(sts, backend)["volumeMounts"] if config_file.startswith(m["mountPath"])]
    assert len(mounts) == 1, f"{config_file} is not under one mount"
    assert volumes[mounts[0]["name"]]["configMap"]["name"] == configmap
    assert config_file.endswith("/" + key)
    assert not [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == sts["metadata"]["name"]
    ]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_headless_and_client_services(
    rendered: Callable[[str], list[Object]], env: str, backend: str
) -> None:
    objects = rendered(env)
    http_port = BACKENDS[backend][0]
    headless = find_object(objects, "Service", f"{RELEASE}-{backend}-headless")["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    assert headless["selector"] == instance_labels(backend)
    assert {(p["name"], p["port"]) for p in headless["ports"]} >= {("memberlist", 7946), ("grpc", 9095)}
    client = find_object(objects, "Service", f"{RELEASE}-{backend}")["spec"]
    assert client.get("clusterIP") != "None"
    assert client["selector"] == instance_labels(backend)
    assert ("http", http_port) in {(p["name"], p["port"]) for p in client["ports"]}
    ports = {
        p["name"]: p["containerPort"] for p in container(statefulset(objects, backend), backend)["ports"]
    }
    assert (ports["http"], ports["grpc"], ports["memberlist"]) == (http_port, 9095, 7946)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_memberlist_has_its_own_cluster_label_and_ported_join_members(
    rendered: Callable[[str], list[Object]], env: str, backend: str
) -> None:
    memberlist = backend_config(rendered(env), backend)["memberlist"]
    assert memberlist["cluster_label"] == f"{RELEASE}-{backend}"
    assert memberlist["join_members"] == [
        f"dns+{RELEASE}-{backend}-headless.{NAMESPACE}.svc.cluster.local:7946"
    ]
    assert memberlist["bind_port"] == 7946


def test_cluster_labels_differ_between_backends(rendered: Callable[[str], list[Object]]) -> None:
    labels = [backend_config(rendered("prod"), b)["memberlist"]["cluster_label"] for b in BACKENDS]
    assert len(set(labels)) == len(BACKENDS)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_config_checksum_on_the_pod_template(
    rendered: Callable[[str], list[Object]], env: str, backend: str
) -> None:
    annotations = statefulset(rendered(env), backend)["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/config"]) == 64
    int(annotations["checksum/config"], 16)


@pytest.fixture(scope="module")
def prod_changed(tmp_path_factory: pytest.TempPathFactory) -> list[Object]:
    """Prod with every backend's retention changed and a storage class set: one extra render."""
    retention = {"loki": "744h", "tempo": "360h", "mimir": "91d", "pyroscope": "31d"}
    overlay = {b: {"persistence": {"storageClass": "fast-ssd"}, "retention": retention[b]} for b in BACKENDS}
    file = write(tmp_path_factory.mktemp("overlay") / "prod-changed.yaml", yaml.safe_dump(overlay))
    prj = project(REPO)
    return render(values.load("prod", (str(file),), prj).user, prj=prj, api_versions=OPTIONAL_APIS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_config_change_rolls_the_pods(
    rendered: Callable[[str], list[Object]], prod_changed: list[Object], backend: str
) -> None:
    def checksum(objects: list[Object]) -> str:
        value: str = statefulset(objects, backend)["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        return value

    assert backend_config(prod_changed, backend) != backend_config(rendered("prod"), backend)
    assert checksum(prod_changed) != checksum(rendered("prod"))


# --- storage -------------------------------------------------------------------------------------


def _storage(config: dict[str, Any], backend: str) -> dict[str, Any]:
    """The object store section of each program's config."""
    section: dict[str, Any] = {
        "loki": lambda c: c["common"]["storage"],
        "tempo": lambda c: c["storage"]["trace"],
        "mimir": lambda c: c["common"]["storage"],
        "pyroscope": lambda c: c["storage"],
    }[backend](config)
    return section


@pytest.mark.parametrize("backend", BACKENDS)
def test_dev_stores_on_the_filesystem_with_one_replica(
    rendered: Callable[[str], list[Object]], backend: str
) -> None:
    objects = rendered("dev")
    sts = statefulset(objects, backend)
    storage = _storage(backend_config(objects, backend), backend)
    assert "s3" not in storage
    if backend == "loki":
        assert set(storage) == {"filesystem"}
    elif backend == "tempo":
        assert storage["backend"] == "local"
    else:
        assert storage["backend"] == "filesystem"
    assert sts["spec"]["replicas"] == 1
    assert not [name for name in env_of(container(sts, backend)) if name.startswith("AWS_")]
    # No claims in dev: the data folder is scratch space.
    assert "volumeClaimTemplates" not in sts["spec"]
    data = {v["name"]: v for v in pod_spec(sts)["volumes"]}["data"]
    assert "emptyDir" in data


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_stores_on_s3_with_credentials_from_the_existing_secret(
    rendered: Callable[[str], list[Object]], backend: str
) -> None:
    objects = rendered("prod")
    c = container(statefulset(objects, backend), backend)
    storage = _storage(backend_config(objects, backend), backend)
    s3 = storage["s3"]
    if backend != "loki":
        assert storage["backend"] == "s3"
    bucket = s3.get("bucket_name") or s3.get("bucket") or s3.get("bucketnames")
    assert bucket == f"keelson-prod-{backend}"
    assert s3["endpoint"] == "s3.eu-west-1.amazonaws.com"
    assert s3["region"] == "eu-west-1"
    # Credentials: references expanded from the environment, never values.
    credentials = {k: v for k, v in s3.items() if "key" in k}
    assert sorted(credentials.values()) == ["${AWS_ACCESS_KEY_ID}", "${AWS_SECRET_ACCESS_KEY}"]
    assert "-config.expand-env=true" in c["args"]
    env = env_of(c)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[name] == {"valueFrom": {"secretKeyRef": {"name": S3_SECRET, "key": name}}}


def test_no_credential_value_anywhere_in_prod(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    assert not [o for o in objects if o["kind"] == "Secret"], "the charts must not create Secrets"
    text = json.dumps(objects)
    for marker in ("AKIA", 'aws_secret_access_key": "', 'password": "', 'client_secret": "'):
        assert marker not in text
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            for c in pod_spec(obj)["containers"]:
                for name, entry in env_of(c).items():
                    if any(word in name for word in ("KEY", "SECRET", "PASSWORD", "TOKEN")):
                        assert "value" not in entry or entry["value"].startswith("/etc/"), name


# --- prod: replicas, replication, volumes, PDB, anti-affinity -----------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_three_replicas_with_replication_factor_three(
    rendered: Callable[[str], list[Object]], backend: str
) -> None:
    objects = rendered("prod")
    config = backend_config(objects, backend)
    assert statefulset(objects, backend)["spec"]["replicas"] == 3
    if backend == "loki":
        assert config["common"]["replication_factor"] == 3
    elif backend == "tempo":
        assert config["ingester"]["lifecycler"]["ring"]["replication_factor"] == 3
    elif backend == "mimir":
        assert config["ingester"]["ring"]["replication_factor"] == 3
        assert config["store_gateway"]["sharding_ring"]["replication_factor"] == 3
        assert config["alertmanager"]["sharding_ring"]["replication_factor"] == 3
    else:
        # Pyroscope's v2 storage has no ingester replication factor: its metastore is a Raft group
        # of the 3 replicas (the data itself is in object storage).
        assert config["metastore"]["raft"]["bootstrap_expect_peers"] == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_volume_claim_templates(rendered: Callable[[str], list[Object]], backend: str) -> None:
    sts = statefulset(rendered("prod"), backend)
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] in {"50Gi", "20Gi"}
    assert "storageClassName" not in claim["spec"]  # the cluster's default class unless set
    assert "data" not in {v["name"] for v in pod_spec(sts)["volumes"]}
    assert "data" in {m["name"] for m in container(sts, backend)["volumeMounts"]}


@pytest.mark.parametrize("backend", BACKENDS)
def test_storage_class_is_configurable(prod_changed: list[Object], backend: str) -> None:
    [claim] = statefulset(prod_changed, backend)["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_pdb_max_unavailable_1(rendered: Callable[[str], list[Object]], backend: str) -> None:
    pdb = find_object(rendered("prod"), "PodDisruptionBudget", f"{RELEASE}-{backend}")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert "minAvailable" not in pdb
    assert pdb["selector"]["matchLabels"] == instance_labels(backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_hard_anti_affinity_across_nodes(rendered: Callable[[str], list[Object]], backend: str) -> None:
    affinity = pod_spec(statefulset(rendered("prod"), backend))["affinity"]["podAntiAffinity"]
    assert affinity == {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {
                "topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": instance_labels(backend)},
            }
        ]
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_dev_anti_affinity_is_soft(rendered: Callable[[str], list[Object]], backend: str) -> None:
    affinity = pod_spec(statefulset(rendered("dev"), backend)).get("affinity", {}).get("podAntiAffinity", {})
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity


# --- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "retention"), [("prod", "720h"), ("staging", "168h")])
def test_loki_retention(rendered: Callable[[str], list[Object]], env: str, retention: str) -> None:
    config = backend_config(rendered(env), "loki")
    assert config["limits_config"]["retention_period"] == retention
    assert config["compactor"]["retention_enabled"] is True
    assert config["compactor"]["delete_request_store"] == "s3"


@pytest.mark.parametrize(("env", "retention"), [("prod", "336h"), ("staging", "72h")])
def test_tempo_retention(rendered: Callable[[str], list[Object]], env: str, retention: str) -> None:
    assert backend_config(rendered(env), "tempo")["compactor"]["compaction"]["block_retention"] == retention


@pytest.mark.parametrize(("env", "retention"), [("prod", "90d"), ("staging", "15d")])
def test_mimir_retention(rendered: Callable[[str], list[Object]], env: str, retention: str) -> None:
    limits = backend_config(rendered(env), "mimir")["limits"]
    assert limits["compactor_blocks_retention_period"] == retention


# --- Tempo's metrics generator, Mimir's ruler and Alertmanager ----------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_tempo_metrics_generator_remote_writes_to_mimir(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    config = backend_config(rendered(env), "tempo")
    generator = config["metrics_generator"]
    assert generator["storage"]["remote_write"] == [
        {"url": f"http://{RELEASE}-mimir:8080/api/v1/push", "send_exemplars": True}
    ]
    assert generator["registry"]["external_labels"]["env"] == env
    assert generator["registry"]["external_labels"]["cluster"] == env
    assert config["overrides"]["defaults"]["metrics_generator"]["processors"] == [
        "service-graphs",
        "span-metrics",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_mimir_runs_ruler_and_alertmanager(rendered: Callable[[str], list[Object]], env: str) -> None:
    objects = rendered(env)
    sts = statefulset(objects, "mimir")
    config = backend_config(objects, "mimir")
    assert "-target=all,alertmanager" in container(sts, "mimir")["args"]
    assert config["ruler"]["alertmanager_url"] == "http://localhost:8080/alertmanager"
    assert config["ruler_storage"]["backend"] == "local"
    # A tenant without a config of its own still routes alerts: the fallback file is mounted.
    fallback = config["alertmanager"]["fallback_config_file"]
    mounts = {m["mountPath"]: m["name"] for m in container(sts, "mimir")["volumeMounts"]}
    folder, file = fallback.rsplit("/", 1)
    volume = {v["name"]: v for v in pod_spec(sts)["volumes"]}[mounts[folder]]
    assert file in find_object(objects, "ConfigMap", volume["configMap"]["name"])["data"]
    # Blocks, ruler and Alertmanager never share a bucket prefix.
    assert config["blocks_storage"]["storage_prefix"] != config["alertmanager_storage"]["storage_prefix"]
