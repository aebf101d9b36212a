"""Pyroscope 2.2 (the chart's image, grafana/pyroscope:2.2.x, with ``-architecture.storage=v2``):
the blocks and keys charts/pyroscope renders, with their neighbours an operator tunes through
``pyroscope.extraConfig``.

Source: "Configuration parameters" for v2.2.x
(https://grafana.com/docs/pyroscope/v2.2.x/configure-server/reference-configuration-parameters/,
generated from github.com/grafana/pyroscope ``cmd/pyroscope/help-all.txt.tmpl`` and the config
descriptor), and the structs: ``pkg/pyroscope/pyroscope.go`` (``Config``), ``pkg/objstore/client/config.go``
(backends, ``storage_prefix``), ``pkg/objstore/providers/s3/config.go`` (``bucket_lookup_type`` is
``auto``, ``virtual-hosted-style`` or ``path-style``), ``pkg/metastore/config.go`` and
``pkg/metastore/raftnode/config.go``, ``pkg/validation/limits.go``.
"""

from __future__ import annotations

from typing import Any

from keelson.configmodels import dskit
from keelson.configmodels.program import Program, Workload, replicas_rule
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

S3 = Block(
    {
        "endpoint": Str(),
        "region": Str(),
        "bucket_name": Str(),
        "secret_access_key": Str(),
        "access_key_id": Str(),
        "insecure": Bool(),
        "signature_version": Enum("v4", "v2"),
        "force_path_style": Bool(),
        "bucket_lookup_type": Enum("auto", "virtual-hosted-style", "path-style"),
        "native_aws_auth_enabled": Bool(),
        "sse": Block(
            {"type": Enum("SSE-KMS", "SSE-S3"), "kms_key_id": Str(), "kms_encryption_context": Str()}
        ),
        "http": Anything(),
    }
)

MODEL = Block(
    {
        "target": Str(),
        "multitenancy_enabled": Bool(),
        "show_banner": Bool(),
        "shutdown_delay": Duration(),
        "analytics": Block({"reporting_enabled": Bool()}),
        "self_profiling": Block(
            {
                "disable_push": Bool(),
                "mutex_profile_fraction": Int(minimum=0),
                "block_profile_rate": Int(minimum=0),
            }
        ),
        "server": dskit.SERVER,
        "memberlist": dskit.MEMBERLIST,
        "storage": Block(
            {
                "backend": Enum("s3", "gcs", "azure", "swift", "filesystem", "cos"),
                "storage_prefix": Str(r"[A-Za-z0-9]*", "letters and digits only"),
                "s3": S3,
                "filesystem": Block({"dir": Str()}),
            }
        ),
        "metastore": Block(
            {
                "address": Str(),
                "data_dir": Str(),
                "raft": Block(
                    {
                        "dir": Str(),
                        "snapshots_dir": Str(),
                        "bootstrap_peers": ListOf(Str()),
                        "bootstrap_expect_peers": Int(minimum=1),
                        "server_id": Str(),
                        "advertise_address": Str(),
                        "bind_address": Str(),
                        "apply_timeout": Duration(),
                        "log_index_check_interval": Duration(),
                    }
                ),
                "index": Block({"cleanup_interval": Duration(), "partition_duration": Duration()}),
                "min_ready_duration": Duration(),
            }
        ),
        "query_backend": Block({"address": Str()}),
        "limits": Block(
            {
                "ingestion_rate_mb": Float(),
                "ingestion_burst_size_mb": Float(),
                "max_label_name_length": Int(minimum=1),
                "max_label_value_length": Int(minimum=1),
                "max_label_names_per_series": Int(minimum=1),
                "max_profile_size_bytes": ByteSize(),
                "max_profile_stacktrace_samples": Int(minimum=0),
                "max_profile_stacktrace_depth": Int(minimum=0),
                "max_query_lookback": Duration(days=True),
                "max_query_length": Duration(days=True),
                "max_query_parallelism": Int(minimum=0),
                "reject_older_than": Duration(days=True),
                "reject_newer_than": Duration(days=True),
                "retention_period": Duration(days=True),
            }
        ),
    }
)


def metastore_rules(config: Any, workload: Workload) -> list[Problem]:
    """The v2 metastore is a Raft group of every replica: it waits for ``bootstrap_expect_peers`` peers
    before it elects a leader, and a group of an even size cannot outvote a split."""
    expected = get(config, "metastore", "raft", "bootstrap_expect_peers")
    path = ("metastore", "raft", "bootstrap_expect_peers")
    if expected is None:
        return []
    if expected != workload.replicas:
        return [
            Problem(
                path,
                f"expected the replica count of the StatefulSet ({workload.replicas}): the metastore "
                "waits for that many peers before it serves",
            )
        ]
    if isinstance(expected, int) and expected % 2 == 0:
        return [Problem(path, "expected an odd number of peers (Raft needs a majority)")]
    return []


PROGRAM = Program(
    name="Pyroscope 2.2",
    chart="pyroscope",
    configmap="pyroscope-config",
    key="pyroscope.yaml",
    model=MODEL,
    rules=(
        metastore_rules,
        dskit.memberlist_rule("Pyroscope"),
        replicas_rule("Pyroscope", ("storage", "backend"), ("filesystem",)),
    ),
    source=__doc__ or "",
)
