"""Mimir 3.1 (the chart's image, grafana/mimir:3.1.x): the blocks and keys charts/mimir renders,
with their neighbours an operator tunes through ``mimir.extraConfig``.

Source: "Grafana Mimir configuration parameters" for v3.1.x
(https://grafana.com/docs/mimir/v3.1.x/configure/configuration-parameters/, generated from
github.com/grafana/mimir ``cmd/mimir/config-descriptor.json``), and the structs: ``pkg/mimir/mimir.go``
(``Config``, ``Validate`` and ``validateBucketConfig``: stores must not share a bucket and prefix),
``pkg/storage/bucket/client.go`` (``Config``: backends, ``storage_prefix`` letters and digits only),
``pkg/storage/bucket/s3/config.go``, ``pkg/util/validation/limits.go`` (``Limits``),
``pkg/alertmanager/multitenant.go`` and ``pkg/ruler/ruler.go`` (``Config``).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from keelson.configmodels import dskit
from keelson.configmodels.program import Program, Workload, replicas_rule, replication_rule
from keelson.configmodels.schema import (
    Block,
    Bool,
    Duration,
    Enum,
    Float,
    Int,
    ListOf,
    Problem,
    Str,
    get,
)

BACKENDS = ("s3", "gcs", "azure", "swift", "filesystem")

S3 = Block(
    {
        "endpoint": Str(),
        "region": Str(),
        "bucket_name": Str(),
        "secret_access_key": Str(),
        "access_key_id": Str(),
        "session_token": Str(),
        "insecure": Bool(),
        "signature_version": Enum("v4", "v2"),
        "list_objects_version": Enum("", "v1", "v2"),
        "bucket_lookup_type": Enum("auto", "path", "virtual-hosted"),
        "dualstack_enabled": Bool(),
        "storage_class": Str(),
        "native_aws_auth_enabled": Bool(),
        "part_size": Int(minimum=0),
        "send_content_md5": Bool(),
        "sts_endpoint": Str(),
        "sse": Block(
            {"type": Enum("SSE-KMS", "SSE-S3"), "kms_key_id": Str(), "kms_encryption_context": Str()}
        ),
        "http": Block(
            {
                "idle_conn_timeout": Duration(),
                "response_header_timeout": Duration(),
                "insecure_skip_verify": Bool(),
                "tls_handshake_timeout": Duration(),
                "expect_continue_timeout": Duration(),
                "max_idle_connections": Int(minimum=0),
                "max_idle_connections_per_host": Int(minimum=0),
                "max_connections_per_host": Int(minimum=0),
                "tls_ca_path": Str(),
                "tls_cert_path": Str(),
                "tls_key_path": Str(),
                "tls_server_name": Str(),
            }
        ),
        "trace": Block({"enable": Bool()}),
    }
)

FILESYSTEM = Block({"dir": Str()})


def _bucket(*backends: str, **more: Any) -> Block:
    """A store's bucket block (``pkg/storage/bucket.Config``): backend, prefix and per-backend settings."""
    return Block(
        {
            "backend": Enum(*backends),
            "storage_prefix": Str(r"[A-Za-z0-9]*", "letters and digits only"),
            "s3": S3,
            "filesystem": FILESYSTEM,
            **more,
        }
    )


RING = Block(
    {
        "kvstore": dskit.KVSTORE,
        "heartbeat_period": Duration(),
        "heartbeat_timeout": Duration(),
        "replication_factor": Int(minimum=1),
        "zone_awareness_enabled": Bool(),
        "tokens_file_path": Str(),
        "num_tokens": Int(minimum=1),
        "instance_id": Str(),
        "instance_addr": Str(),
        "instance_port": Int(minimum=0),
        "instance_interface_names": ListOf(Str()),
        "instance_availability_zone": Str(),
        "final_sleep": Duration(),
        "unregister_on_shutdown": Bool(),
    }
)

LIMITS = Block(
    {
        "ingestion_rate": Float(),
        "ingestion_burst_size": Int(minimum=0),
        "request_rate": Float(),
        "request_burst_size": Int(minimum=0),
        "accept_ha_samples": Bool(),
        "ha_cluster_label": Str(),
        "ha_replica_label": Str(),
        "drop_labels": ListOf(Str()),
        "max_label_name_length": Int(minimum=1),
        "max_label_value_length": Int(minimum=1),
        "max_label_names_per_series": Int(minimum=1),
        "max_metadata_length": Int(minimum=0),
        "max_native_histogram_buckets": Int(minimum=0),
        "native_histograms_ingestion_enabled": Bool(),
        "creation_grace_period": Duration(days=True),
        "past_grace_period": Duration(days=True),
        "out_of_order_time_window": Duration(days=True),
        # In-memory series per tenant across the cluster, and per metric name. 0 disables the limit.
        "max_global_series_per_user": Int(minimum=0),
        "max_global_series_per_metric": Int(minimum=0),
        "max_global_metadata_per_user": Int(minimum=0),
        "max_global_metadata_per_metric": Int(minimum=0),
        "max_global_exemplars_per_user": Int(minimum=0),
        "ingestion_tenant_shard_size": Int(minimum=0),
        "max_fetched_series_per_query": Int(minimum=0),
        "max_fetched_chunks_per_query": Int(minimum=0),
        "max_fetched_chunk_bytes_per_query": Int(minimum=0),
        "max_query_lookback": Duration(days=True),
        "max_partial_query_length": Duration(days=True),
        "max_total_query_length": Duration(days=True),
        "max_query_parallelism": Int(minimum=0),
        "cardinality_analysis_enabled": Bool(),
        "compactor_blocks_retention_period": Duration(days=True),
        "ruler_max_rules_per_rule_group": Int(minimum=0),
        "ruler_max_rule_groups_per_tenant": Int(minimum=0),
    }
)

MODEL = Block(
    {
        "target": Str(),
        "multitenancy_enabled": Bool(),
        "no_auth_tenant": Str(),
        "shutdown_delay": Duration(),
        "server": dskit.SERVER,
        "usage_stats": Block({"enabled": Bool(), "installation_mode": Str()}),
        "activity_tracker": Block({"filepath": Str(), "max_entries": Int(minimum=0)}),
        "common": Block({"storage": _bucket(*BACKENDS)}),
        "blocks_storage": _bucket(
            *BACKENDS,
            tsdb=Block(
                {
                    "dir": Str(),
                    "retention_period": Duration(),
                    "block_ranges_period": ListOf(Duration()),
                    "head_compaction_interval": Duration(),
                    "wal_compression_enabled": Bool(),
                    "ship_interval": Duration(),
                }
            ),
            bucket_store=Block(
                {"sync_dir": Str(), "sync_interval": Duration(), "ignore_blocks_within": Duration()}
            ),
        ),
        "compactor": Block(
            {
                "data_dir": Str(),
                "compaction_interval": Duration(),
                "block_ranges": ListOf(Duration()),
                "deletion_delay": Duration(),
                "cleanup_interval": Duration(),
                "compaction_concurrency": Int(minimum=1),
                "sharding_ring": RING,
            }
        ),
        "ingester": Block({"ring": RING}),
        "store_gateway": Block({"sharding_ring": RING}),
        "limits": LIMITS,
        "memberlist": dskit.MEMBERLIST,
        "ruler": Block(
            {
                "rule_path": Str(),
                "alertmanager_url": Str(),
                "external_url": Str(),
                "evaluation_interval": Duration(),
                "poll_interval": Duration(),
                "enable_api": Bool(),
                "ring": RING,
            }
        ),
        "ruler_storage": _bucket(*BACKENDS, "local", local=Block({"directory": Str()})),
        "alertmanager": Block(
            {
                "data_dir": Str(),
                "retention": Duration(),
                "external_url": Str(r"https?://\S+", "an http(s) URL"),
                "fallback_config_file": Str(),
                "poll_interval": Duration(),
                "max_recv_msg_size": Int(minimum=0),
                "enable_api": Bool(),
                "sharding_ring": RING,
            }
        ),
        "alertmanager_storage": _bucket(*BACKENDS, "local", local=Block({"path": Str()})),
    }
)

# The stores Mimir keeps in object storage, by config block.
STORES = ("blocks_storage", "alertmanager_storage", "ruler_storage")


def _where(config: Any, store: str) -> tuple[str, str, str] | None:
    """(backend, bucket or directory, prefix) a store writes to, its own settings over ``common.storage``."""
    own = get(config, store, default={}) or {}
    common = get(config, "common", "storage", default={}) or {}
    backend = own.get("backend") or common.get("backend") or "filesystem"
    if backend == "local":  # ruler or Alertmanager files on disk, read only: not a shared bucket
        return None
    if backend == "s3":
        place = get(own, "s3", "bucket_name") or get(common, "s3", "bucket_name") or ""
    else:
        place = get(own, backend, "dir") or get(common, backend, "dir") or ""
    return str(backend), str(place), str(own.get("storage_prefix") or "")


def bucket_rules(config: Any, _workload: Workload) -> list[Problem]:
    """Mimir's validateBucketConfig: blocks, ruler and Alertmanager storage must not share one bucket
    (or directory) and prefix, or each would read the others' objects as its own."""
    places = {store: _where(config, store) for store in STORES}
    problems = []
    for first, second in combinations(STORES, 2):
        if places[first] is not None and places[first] == places[second]:
            problems.append(
                Problem(
                    (second, "storage_prefix"),
                    f"{second} shares its bucket and prefix with {first}: Mimir refuses to start; "
                    "give each store its own storage_prefix",
                )
            )
    return problems


def tenant_rules(config: Any, _workload: Workload) -> list[Problem]:
    """Without multi-tenancy every request belongs to ``no_auth_tenant``, which must be a name."""
    if get(config, "multitenancy_enabled") is False and get(config, "no_auth_tenant") == "":
        return [Problem(("no_auth_tenant",), "required when multitenancy_enabled is false")]
    return []


def alertmanager_rules(config: Any, _workload: Workload) -> list[Problem]:
    """A tenant without a config of its own routes through the fallback file, and the UI and
    notification links need the external URL, which must end in the /alertmanager prefix."""
    problems = []
    if get(config, "alertmanager") is None:
        return []
    if not get(config, "alertmanager", "fallback_config_file"):
        problems.append(
            Problem(
                ("alertmanager", "fallback_config_file"),
                "required: without it a tenant with no config of its own drops every alert",
            )
        )
    url = get(config, "alertmanager", "external_url")
    if isinstance(url, str) and not url.rstrip("/").endswith("/alertmanager"):
        problems.append(Problem(("alertmanager", "external_url"), "expected a URL ending in /alertmanager"))
    return problems


PROGRAM = Program(
    name="Mimir 3.1",
    chart="mimir",
    configmap="mimir-config",
    key="mimir.yaml",
    model=MODEL,
    rules=(
        bucket_rules,
        tenant_rules,
        alertmanager_rules,
        dskit.memberlist_rule("Mimir"),
        replicas_rule("Mimir", ("common", "storage", "backend"), ("filesystem",)),
        replication_rule(("ingester", "ring", "replication_factor"), "Mimir ingester ring"),
        replication_rule(
            ("store_gateway", "sharding_ring", "replication_factor"), "Mimir store-gateway ring"
        ),
        replication_rule(("alertmanager", "sharding_ring", "replication_factor"), "Mimir Alertmanager ring"),
    ),
    source=__doc__ or "",
)
