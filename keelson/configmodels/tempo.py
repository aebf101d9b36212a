"""Tempo 2.10 (the chart's image, grafana/tempo:2.10.x): the blocks and keys charts/tempo renders,
with their neighbours an operator tunes through ``tempo.extraConfig``.

Source: "Configure Tempo" for v2.10.x (https://grafana.com/docs/tempo/v2.10.x/configuration/,
github.com/grafana/tempo ``docs/sources/tempo/configuration/_index.md``) and the manifest of every
key with its default (``docs/sources/tempo/configuration/manifest.md``), for the sections that are
the same in 2.x; the structs: ``cmd/tempo/app/config.go`` (``Config`` and ``CheckConfig``),
``modules/compactor/config.go``, ``modules/generator/config.go``, ``modules/overrides/config.go``
(the ``defaults`` layout), ``tempodb/backend/s3/config.go``. Durations are Go's (no ``d``).
"""

from __future__ import annotations

from typing import Any

from keelson.configmodels import dskit
from keelson.configmodels.program import Program, Workload, replicas_rule, replication_rule
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
    MapOf,
    Problem,
    Str,
    get,
)

RING = Block(
    {
        "kvstore": dskit.KVSTORE,
        "heartbeat_period": Duration(),
        "heartbeat_timeout": Duration(),
        "instance_id": Str(),
        "instance_addr": Str(),
        "instance_port": Int(minimum=0),
        "instance_interface_names": ListOf(Str()),
    }
)

PROCESSORS = Enum("service-graphs", "span-metrics", "local-blocks")

# An OpenTelemetry receiver's protocol (Tempo embeds the collector's receivers): endpoint plus the
# collector's own settings, which its parser judges.
_PROTOCOL = Block({"endpoint": Str(), "tls": Anything(), "max_recv_msg_size_mib": Int(minimum=0)})

REMOTE_WRITE = Block(
    {
        "url": Str(r"https?://\S+", "an http(s) URL"),
        "name": Str(),
        "remote_timeout": Duration(),
        "headers": MapOf(Str()),
        "send_exemplars": Bool(),
        "send_native_histograms": Bool(),
        "write_relabel_configs": ListOf(Anything()),
        "basic_auth": Anything(),
        "tls_config": Anything(),
        "queue_config": Anything(),
    }
)

S3 = Block(
    {
        "bucket": Str(),
        "prefix": Str(),
        "endpoint": Str(),
        "region": Str(),
        "access_key": Str(),
        "secret_key": Str(),
        "session_token": Str(),
        "insecure": Bool(),
        "tls_cert_path": Str(),
        "tls_key_path": Str(),
        "tls_ca_path": Str(),
        "tls_server_name": Str(),
        "tls_insecure_skip_verify": Bool(),
        "tls_cipher_suites": Str(),
        "tls_min_version": Enum("VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"),
        "part_size": Int(minimum=0),
        "hedge_requests_at": Duration(),
        "hedge_requests_up_to": Int(minimum=0),
        "signature_v2": Bool(),
        "forcepathstyle": Bool(),
        "enable_dual_stack": Bool(),
        "bucket_lookup_type": Int(minimum=0),
        "tags": MapOf(Str()),
        "storage_class": Str(),
        "metadata": MapOf(Str()),
        "native_aws_auth_enabled": Bool(),
        "list_blocks_concurrency": Int(minimum=1),
        "sse": Anything(),
    }
)

MODEL = Block(
    {
        "target": Str(),
        "http_api_prefix": Str(),
        "multitenancy_enabled": Bool(),
        "stream_over_http_enabled": Bool(),
        "server": dskit.SERVER,
        "distributor": Block(
            {
                "ring": RING,
                "receivers": Block(
                    {
                        "otlp": Block({"protocols": Block({"grpc": _PROTOCOL, "http": _PROTOCOL})}),
                        "jaeger": Anything(),
                        "zipkin": Anything(),
                        "opencensus": Anything(),
                        "kafka": Anything(),
                    }
                ),
                "forwarders": ListOf(Anything()),
                "extend_writes": Bool(),
                "max_attribute_bytes": Int(minimum=0),
            }
        ),
        "ingester": Block(
            {
                "lifecycler": Block(
                    {
                        "ring": RING.extend(replication_factor=Int(minimum=1), zone_awareness_enabled=Bool()),
                        "num_tokens": Int(minimum=1),
                        "heartbeat_period": Duration(),
                        "join_after": Duration(),
                        "min_ready_duration": Duration(),
                        "final_sleep": Duration(),
                        "tokens_file_path": Str(),
                        "availability_zone": Str(),
                        "unregister_on_shutdown": Bool(),
                        "readiness_check_ring_health": Bool(),
                        "address": Str(),
                        "port": Int(minimum=0),
                        "id": Str(),
                    }
                ),
                "concurrent_flushes": Int(minimum=1),
                "flush_check_period": Duration(),
                "flush_op_timeout": Duration(),
                "trace_idle_period": Duration(),
                "trace_live_period": Duration(),
                "max_block_duration": Duration(),
                "max_block_bytes": Int(minimum=0),
                "complete_block_timeout": Duration(),
                "override_ring_key": Str(),
                "flush_all_on_shutdown": Bool(),
            }
        ),
        "compactor": Block(
            {
                "disabled": Bool(),
                "ring": RING,
                "compaction": Block(
                    {
                        "block_retention": Duration(),
                        "compacted_block_retention": Duration(),
                        "compaction_window": Duration(),
                        "max_compaction_objects": Int(minimum=0),
                        "max_block_bytes": Int(minimum=0),
                        "retention_concurrency": Int(minimum=1),
                        "max_time_per_tenant": Duration(),
                        "compaction_cycle": Duration(),
                        "v2_in_buffer_bytes": Int(minimum=0),
                        "v2_out_buffer_bytes": Int(minimum=0),
                        "v2_prefetch_traces_count": Int(minimum=0),
                    }
                ),
            }
        ),
        "metrics_generator": Block(
            {
                "ring": RING,
                "processor": Anything(),
                "registry": Block(
                    {
                        "collection_interval": Duration(),
                        "stale_duration": Duration(),
                        "external_labels": MapOf(Str()),
                        "max_label_name_length": Int(minimum=1),
                        "max_label_value_length": Int(minimum=1),
                    }
                ),
                "storage": Block(
                    {
                        "path": Str(),
                        "wal": Anything(),
                        "remote_write_flush_deadline": Duration(),
                        "remote_write_add_org_id_header": Bool(),
                        "remote_write": ListOf(REMOTE_WRITE),
                    }
                ),
                "traces_storage": Block({"path": Str()}),
                "metrics_ingestion_time_range_slack": Duration(),
                "query_timeout": Duration(),
            }
        ),
        "storage": Block(
            {
                "trace": Block(
                    {
                        "backend": Enum("local", "s3", "gcs", "azure"),
                        "wal": Block({"path": Str(), "ingestion_time_range_slack": Duration()}),
                        "block": Block(
                            {
                                "version": Enum("vParquet3", "vParquet4", "vParquet5"),
                                "bloom_filter_false_positive": Float(),
                                "bloom_filter_shard_size_bytes": Int(minimum=1),
                                "parquet_row_group_size_bytes": Int(minimum=1),
                            }
                        ),
                        "local": Block({"path": Str()}),
                        "pool": Block({"max_workers": Int(minimum=1), "queue_depth": Int(minimum=1)}),
                        "blocklist_poll": Duration(),
                        "blocklist_poll_concurrency": Int(minimum=1),
                        "blocklist_poll_fallback": Bool(),
                        "blocklist_poll_tenant_index_builders": Int(minimum=1),
                        "blocklist_poll_stale_tenant_index": Duration(),
                        "blocklist_poll_jitter_ms": Int(minimum=0),
                        "search": Anything(),
                        "s3": S3,
                    }
                )
            }
        ),
        "overrides": Block(
            {
                "defaults": Block(
                    {
                        "ingestion": Block(
                            {
                                "rate_strategy": Enum("local", "global"),
                                "rate_limit_bytes": ByteSize(),
                                "burst_size_bytes": ByteSize(),
                                "max_traces_per_user": Int(minimum=0),
                            }
                        ),
                        "read": Block({"max_bytes_per_tag_values_query": ByteSize()}),
                        "metrics_generator": Block(
                            {
                                "processors": ListOf(PROCESSORS),
                                "generate_native_histograms": Enum("classic", "native", "both"),
                                "ingestion_time_range_slack": Duration(),
                            }
                        ),
                        "global": Block({"max_bytes_per_trace": ByteSize()}),
                    }
                ),
                "per_tenant_override_config": Str(),
                "per_tenant_override_period": Duration(),
            }
        ),
        "memberlist": dskit.MEMBERLIST,
        "usage_report": Block({"reporting_enabled": Bool()}),
    }
)


def storage_rules(config: Any, _workload: Workload) -> list[Problem]:
    """Tempo's CheckConfig: a backend needs its block (the bucket for s3, the path for local)."""
    backend = get(config, "storage", "trace", "backend")
    if backend is None:
        return [Problem(("storage", "trace", "backend"), "required: one of local, s3, gcs, azure")]
    if backend == "s3" and not get(config, "storage", "trace", "s3", "bucket"):
        return [Problem(("storage", "trace", "s3", "bucket"), "required when the backend is s3")]
    if backend == "local" and not get(config, "storage", "trace", "local", "path"):
        return [Problem(("storage", "trace", "local", "path"), "required when the backend is local")]
    return []


def generator_rules(config: Any, _workload: Workload) -> list[Problem]:
    """Enabled processors write metrics somewhere: the generator needs a WAL path and a remote write,
    and ``local-blocks`` keeps blocks under ``traces_storage.path``."""
    processors = get(config, "overrides", "defaults", "metrics_generator", "processors", default=[]) or []
    if not processors:
        return []
    problems: list[Problem] = []
    if not get(config, "metrics_generator", "storage", "path"):
        problems.append(
            Problem(("metrics_generator", "storage", "path"), "required when processors are enabled")
        )
    if not get(config, "metrics_generator", "storage", "remote_write"):
        problems.append(
            Problem(
                ("metrics_generator", "storage", "remote_write"),
                "required when processors are enabled (the metrics would go nowhere)",
            )
        )
    if "local-blocks" in processors and not get(config, "metrics_generator", "traces_storage", "path"):
        problems.append(
            Problem(("metrics_generator", "traces_storage", "path"), "required by the local-blocks processor")
        )
    return problems


PROGRAM = Program(
    name="Tempo 2.10",
    chart="tempo",
    configmap="tempo",
    key="tempo.yaml",
    model=MODEL,
    rules=(
        storage_rules,
        generator_rules,
        dskit.memberlist_rule("Tempo"),
        replicas_rule("Tempo", ("storage", "trace", "backend"), ("local",)),
        replication_rule(("ingester", "lifecycler", "ring", "replication_factor"), "Tempo ingester ring"),
    ),
    source=__doc__ or "",
)
