"""Loki 3.7 (the chart's image, grafana/loki:3.7.x): the blocks and keys charts/loki renders, with
their neighbours an operator tunes through ``loki.extraConfig``.

Source: "Grafana Loki configuration parameters" for v3.7.x
(https://grafana.com/docs/loki/v3.7.x/configure/, generated from github.com/grafana/loki
``docs/sources/shared/configuration.md``), and the structs behind it: ``pkg/loki/loki.go``
(``Config`` and its ``Validate``), ``pkg/loki/common/common.go``, ``pkg/validation/limits.go``
(``Limits``), ``pkg/compactor/compactor.go`` (``Config.Validate``), ``pkg/storage/config/schema_config.go``
(``PeriodConfig`` and its ``validate``), ``pkg/storage/chunk/client/aws/s3_storage_client.go`` (``S3Config``).
"""

from __future__ import annotations

import re
from typing import Any

from keelson.configmodels import dskit
from keelson.configmodels.program import Program, Workload, replication_rule
from keelson.configmodels.schema import (
    Anything,
    Block,
    Bool,
    ByteSize,
    Duration,
    Enum,
    Float,
    Int,
    ListOf,
    Problem,
    Str,
    get,
)

OBJECT_STORES = ("s3", "aws", "gcs", "azure", "swift", "filesystem", "bos", "cos", "alibabacloud", "inmemory")

S3 = Block(
    {
        "s3": Str(),
        "s3forcepathstyle": Bool(),
        "bucketnames": Str(),
        "endpoint": Str(),
        "region": Str(),
        "access_key_id": Str(),
        "secret_access_key": Str(),
        "session_token": Str(),
        "insecure": Bool(),
        "disable_dualstack": Bool(),
        "signature_version": Enum("v4", "v2"),
        "storage_class": Str(),
        "http_config": Block(
            {
                "idle_conn_timeout": Duration(),
                "response_header_timeout": Duration(),
                "insecure_skip_verify": Bool(),
                "ca_file": Str(),
            }
        ),
        "sse": Block(
            {"type": Enum("SSE-KMS", "SSE-S3"), "kms_key_id": Str(), "kms_encryption_context": Str()}
        ),
        "backoff_config": Block(
            {"min_period": Duration(), "max_period": Duration(), "max_retries": Int(minimum=0)}
        ),
    }
)

RING = Block(
    {
        "kvstore": dskit.KVSTORE,
        "heartbeat_period": Duration(),
        "heartbeat_timeout": Duration(),
        "tokens_file_path": Str(),
        "zone_awareness_enabled": Bool(),
        "num_tokens": Int(minimum=1),
        "replication_factor": Int(minimum=1),
        "instance_id": Str(),
        "instance_interface_names": ListOf(Str()),
        "instance_port": Int(minimum=0),
        "instance_addr": Str(),
        "instance_availability_zone": Str(),
    }
)

LIMITS = Block(
    {
        "ingestion_rate_strategy": Enum("global", "local"),
        "ingestion_rate_mb": Float(),
        "ingestion_burst_size_mb": Float(),
        "max_label_name_length": Int(minimum=1),
        "max_label_value_length": Int(minimum=1),
        "max_label_names_per_series": Int(minimum=1),
        "reject_old_samples": Bool(),
        "reject_old_samples_max_age": Duration(days=True),
        "creation_grace_period": Duration(days=True),
        "max_line_size": ByteSize(),
        "max_line_size_truncate": Bool(),
        "increment_duplicate_timestamp": Bool(),
        "discover_service_name": ListOf(Str()),
        "discover_log_levels": Bool(),
        "use_owned_stream_count": Bool(),
        # Active streams per tenant: per ingester, and across the cluster (divided among the
        # ingesters by the replication factor). 0 disables the limit.
        "max_streams_per_user": Int(minimum=0),
        "max_global_streams_per_user": Int(minimum=0),
        "unordered_writes": Bool(),
        "per_stream_rate_limit": ByteSize(),
        "per_stream_rate_limit_burst": ByteSize(),
        "max_chunks_per_query": Int(minimum=0),
        "max_query_series": Int(minimum=0),
        "max_query_lookback": Duration(days=True),
        "max_query_length": Duration(days=True),
        "max_query_range": Duration(days=True),
        "max_query_parallelism": Int(minimum=0),
        "tsdb_max_query_parallelism": Int(minimum=0),
        "tsdb_max_bytes_per_shard": ByteSize(),
        "cardinality_limit": Int(minimum=0),
        "max_streams_matchers_per_query": Int(minimum=0),
        "max_concurrent_tail_requests": Int(minimum=0),
        "max_entries_limit_per_query": Int(minimum=0),
        "max_cache_freshness_per_query": Duration(days=True),
        "split_queries_by_interval": Duration(days=True),
        "query_timeout": Duration(days=True),
        "retention_period": Duration(days=True),
        "retention_stream": ListOf(
            Block({"selector": Str(), "priority": Int(minimum=0), "period": Duration(days=True)})
        ),
        "allow_structured_metadata": Bool(),
        "max_structured_metadata_size": ByteSize(),
        "max_structured_metadata_entries_count": Int(minimum=0),
        "volume_enabled": Bool(),
        "otlp_config": Anything(),
        "shard_streams": Anything(),
    }
)

MODEL = Block(
    {
        "target": Str(),
        "auth_enabled": Bool(),
        "ballast_bytes": Int(minimum=0),
        "server": dskit.SERVER,
        "common": Block(
            {
                "path_prefix": Str(),
                "replication_factor": Int(minimum=1),
                "ring": RING,
                "instance_interface_names": ListOf(Str()),
                "instance_addr": Str(),
                "compactor_address": Str(),
                "compactor_grpc_address": Str(),
                "storage": Block(
                    {
                        "s3": S3,
                        "filesystem": Block({"chunks_directory": Str(), "rules_directory": Str()}),
                    }
                ),
            }
        ),
        "memberlist": dskit.MEMBERLIST,
        "schema_config": Block(
            {
                "configs": ListOf(
                    Block(
                        {
                            "from": Str(r"\d{4}-\d{2}-\d{2}", "a day as YYYY-MM-DD"),
                            "store": Enum("tsdb", "boltdb-shipper"),
                            "object_store": Enum(*OBJECT_STORES),
                            "schema": Enum("v9", "v10", "v11", "v12", "v13"),
                            "index": Block({"prefix": Str(), "period": Duration()}),
                            "chunks": Block({"prefix": Str(), "period": Duration()}),
                            "row_shards": Int(minimum=1),
                        }
                    )
                )
            }
        ),
        "ingester": Block(
            {
                "wal": Block(
                    {
                        "enabled": Bool(),
                        "dir": Str(),
                        "checkpoint_duration": Duration(),
                        "flush_on_shutdown": Bool(),
                        "replay_memory_ceiling": ByteSize(),
                    }
                ),
                "chunk_idle_period": Duration(),
                "chunk_block_size": Int(minimum=1),
                "chunk_target_size": Int(minimum=0),
                "chunk_encoding": Enum(
                    "none", "gzip", "lz4-64k", "snappy", "lz4-256k", "lz4-1M", "lz4", "flate", "zstd"
                ),
                "max_chunk_age": Duration(),
                "concurrent_flushes": Int(minimum=1),
                "flush_check_period": Duration(),
            }
        ),
        "ruler": Block(
            {
                "rule_path": Str(),
                "alertmanager_url": Str(),
                "external_url": Str(),
                "enable_api": Bool(),
                "evaluation_interval": Duration(),
                "poll_interval": Duration(),
                "storage": Block(
                    {"type": Enum("local", *OBJECT_STORES), "local": Block({"directory": Str()})}
                ),
            }
        ),
        "compactor": Block(
            {
                "working_directory": Str(),
                "compaction_interval": Duration(),
                "apply_retention_interval": Duration(),
                "retention_enabled": Bool(),
                "retention_delete_delay": Duration(),
                "retention_delete_worker_count": Int(minimum=1),
                "retention_table_timeout": Duration(),
                "delete_request_store": Enum(*OBJECT_STORES),
                "delete_request_store_key_prefix": Str(),
                "delete_request_cancel_period": Duration(),
                "delete_max_interval": Duration(),
                "max_compaction_parallelism": Int(minimum=1),
            }
        ),
        "limits_config": LIMITS,
        "analytics": Block({"reporting_enabled": Bool(), "usage_stats_url": Str()}),
    }
)

_DAY_HOURS = re.compile(r"(\d+)h")


def _configured_stores(config: Any) -> set[str]:
    """The object store names ``common.storage`` configures (``s3`` and its alias ``aws``)."""
    storage = get(config, "common", "storage", default={}) or {}
    stores = {name for name in ("s3", "filesystem") if name in storage}
    return stores | ({"aws"} if "s3" in stores else set())


def schema_rules(config: Any, _workload: Workload) -> list[Problem]:
    """Loki 3 stores structured metadata (on by default), which needs the newest period to be a tsdb
    index with schema v13; a tsdb index needs 24h periods; a period's store must be configured."""
    configs = get(config, "schema_config", "configs", default=[]) or []
    if not configs:
        return [
            Problem(("schema_config", "configs"), "required: Loki does not start without a schema period")
        ]
    problems: list[Problem] = []
    last = len(configs) - 1
    newest = configs[last] if isinstance(configs[last], dict) else {}
    if newest.get("store") != "tsdb":
        problems.append(
            Problem(("schema_config", "configs", last, "store"), "the newest period must use tsdb")
        )
    if newest.get("schema") != "v13":
        problems.append(
            Problem(
                ("schema_config", "configs", last, "schema"),
                "the newest period must be v13 (Loki 3 needs it for structured metadata)",
            )
        )
    stores = _configured_stores(config)
    for index, period in enumerate(configs):
        if not isinstance(period, dict):
            continue
        if period.get("store") == "tsdb" and get(period, "index", "period") not in (None, "24h"):
            problems.append(
                Problem(("schema_config", "configs", index, "index", "period"), "a tsdb index needs 24h")
            )
        store = period.get("object_store")
        if isinstance(store, str) and store not in stores:
            problems.append(
                Problem(
                    ("schema_config", "configs", index, "object_store"),
                    f"no such store in common.storage (configured: {', '.join(sorted(stores)) or 'none'})",
                )
            )
    return problems


def retention_rules(config: Any, _workload: Workload) -> list[Problem]:
    """The compactor applies retention only with ``retention_enabled`` and a delete request store,
    and deletes whole index tables, so the period is counted in days."""
    problems: list[Problem] = []
    retention = get(config, "limits_config", "retention_period")
    compactor = get(config, "compactor", default={}) or {}
    if retention not in (None, "0", "0s") and not compactor.get("retention_enabled"):
        problems.append(
            Problem(
                ("compactor", "retention_enabled"),
                "must be true when limits_config.retention_period is set (otherwise nothing is deleted)",
            )
        )
    if compactor.get("retention_enabled"):
        store = compactor.get("delete_request_store")
        if not store:
            problems.append(
                Problem(
                    ("compactor", "delete_request_store"),
                    "required when retention_enabled is true (Loki refuses to start without it)",
                )
            )
        elif store not in _configured_stores(config):
            problems.append(Problem(("compactor", "delete_request_store"), "no such store in common.storage"))
    if isinstance(retention, str) and (hours := _DAY_HOURS.fullmatch(retention)) and int(hours[1]) % 24:
        problems.append(
            Problem(("limits_config", "retention_period"), "expected whole days (a multiple of 24h)")
        )
    return problems


def _single_replica_on_filesystem(config: Any, workload: Workload) -> list[Problem]:
    """Chunks on one pod's volume are invisible to the others: filesystem storage means one replica."""
    if "filesystem" in (get(config, "common", "storage", default={}) or {}) and workload.replicas > 1:
        return [
            Problem(
                ("common", "storage", "filesystem"),
                f"Loki on filesystem storage needs exactly one replica (the StatefulSet has "
                f"{workload.replicas}): use object storage (s3) for more",
            )
        ]
    return []


PROGRAM = Program(
    name="Loki 3.7",
    chart="loki",
    configmap="loki",
    key="config.yaml",
    model=MODEL,
    rules=(
        schema_rules,
        retention_rules,
        dskit.memberlist_rule("Loki"),
        _single_replica_on_filesystem,
        replication_rule(("common", "replication_factor"), "Loki ring"),
    ),
    source=__doc__ or "",
)
