"""The config models of Loki 3.7, Tempo 2.10, Mimir 3.1 and Pyroscope 2.2 (keelson/configmodels).

Each environment's rendered configs are accepted; each kind of refusal is shown on a config spoiled
from a real render: a misspelt key, a wrong type, a value outside its allowed set, and every
cross-field rule. The refusals are asserted as the exact key paths, so a model that let a spoiled
config through, or complained about the wrong key, fails here.
"""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from support import invoke, one_error_line, write

from keelson import configmodels
from keelson.configmodels import loki, mimir, pyroscope, tempo
from keelson.configmodels.program import Workload

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.configmodels.program import Program
    from keelson.models import Object

ENVS = ("dev", "staging", "prod")
SENTINEL = "do-not-print-me-0123456789"


def _config(objects: list[Object], program: Program) -> tuple[dict[str, Any], Workload]:
    found = configmodels.rendered_config(objects, program)
    assert found is not None, f"{program.name}: no config in the render"
    _, text, workload = found
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document, workload


def _paths(program: Program, document: Any, workload: Workload) -> list[str]:
    return [str(p).split(": ", 1)[0] for p in configmodels.judge(program, yaml.safe_dump(document), workload)]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("program", configmodels.PROGRAMS, ids=lambda p: p.chart)
def test_each_env_render_is_accepted(
    rendered: Callable[[str], list[Object]], env: str, program: Program
) -> None:
    document, workload = _config(rendered(env), program)
    assert _paths(program, document, workload) == []


@pytest.mark.parametrize("env", ENVS)
def test_the_configs_stage_accepts_every_env(rendered: Callable[[str], list[Object]], env: str) -> None:
    assert configmodels.check(rendered(env), env) == []
    assert configmodels.summary(rendered(env)) == "Loki 3.7, Tempo 2.10, Mimir 3.1, Pyroscope 2.2"


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

# (program, env, changes as {dotted path: new value}, replicas or None for the render's, refused paths)
SPOILED: list[tuple[Program, str, dict[str, Any], int | None, list[str]]] = [
    # Loki: misspelt key, wrong type, bad enum, each rule
    (
        loki.PROGRAM,
        "prod",
        {"limits_config.retention_perod": "720h"},
        None,
        ["limits_config.retention_perod"],
    ),
    (loki.PROGRAM, "prod", {"common.replication_factor": "3"}, None, ["common.replication_factor"]),
    (loki.PROGRAM, "prod", {"server.log_level": "verbose"}, None, ["server.log_level"]),
    (
        loki.PROGRAM,
        "prod",
        {"limits_config.max_global_streams_per_user": -1},
        None,
        ["limits_config.max_global_streams_per_user"],
    ),
    (
        loki.PROGRAM,
        "prod",
        {"schema_config.configs.0.schema": "v12"},
        None,
        ["schema_config.configs[0].schema"],
    ),
    (
        loki.PROGRAM,
        "prod",
        {"schema_config.configs.0.store": "boltdb-shipper"},
        None,
        ["schema_config.configs[0].store"],
    ),
    (
        loki.PROGRAM,
        "prod",
        {"schema_config.configs.0.index.period": "168h"},
        None,
        ["schema_config.configs[0].index.period"],
    ),
    (
        loki.PROGRAM,
        "prod",
        {"schema_config.configs.0.object_store": "gcs"},
        None,
        ["schema_config.configs[0].object_store"],
    ),
    (loki.PROGRAM, "prod", {"schema_config.configs": []}, None, ["schema_config.configs"]),
    (
        loki.PROGRAM,
        "prod",
        {"compactor.delete_request_store": _DELETE},
        None,
        ["compactor.delete_request_store"],
    ),
    (loki.PROGRAM, "prod", {"compactor.retention_enabled": False}, None, ["compactor.retention_enabled"]),
    (
        loki.PROGRAM,
        "prod",
        {"limits_config.retention_period": "100h"},
        None,
        ["limits_config.retention_period"],
    ),
    (loki.PROGRAM, "dev", {}, 3, ["common.storage.filesystem"]),
    (loki.PROGRAM, "prod", {}, 2, ["common.replication_factor"]),
    (loki.PROGRAM, "prod", {"memberlist.cluster_label": ""}, None, ["memberlist.cluster_label"]),
    (
        loki.PROGRAM,
        "prod",
        {"memberlist.join_members": ["dns+keelson-loki-headless"]},
        None,
        ["memberlist.join_members[0]"],
    ),
    # Tempo
    (
        tempo.PROGRAM,
        "prod",
        {"compactor.compaction.block_retension": "336h"},
        None,
        ["compactor.compaction.block_retension"],
    ),
    (
        tempo.PROGRAM,
        "prod",
        {"compactor.compaction.block_retention": "14d"},
        None,
        ["compactor.compaction.block_retention"],
    ),
    (tempo.PROGRAM, "prod", {"storage.trace.backend": "file"}, None, ["storage.trace.backend"]),
    (tempo.PROGRAM, "prod", {"stream_over_http_enabled": "yes"}, None, ["stream_over_http_enabled"]),
    (tempo.PROGRAM, "prod", {"storage.trace.s3.bucket": ""}, None, ["storage.trace.s3.bucket"]),
    (tempo.PROGRAM, "dev", {"storage.trace.local": _DELETE}, None, ["storage.trace.local.path"]),
    (tempo.PROGRAM, "dev", {}, 3, ["storage.trace.backend"]),
    (tempo.PROGRAM, "prod", {}, 1, ["ingester.lifecycler.ring.replication_factor"]),
    (
        tempo.PROGRAM,
        "prod",
        {"overrides.defaults.metrics_generator.processors": ["span-metric"]},
        None,
        ["overrides.defaults.metrics_generator.processors[0]"],
    ),
    (
        tempo.PROGRAM,
        "prod",
        {"metrics_generator.storage.remote_write": []},
        None,
        ["metrics_generator.storage.remote_write"],
    ),
    (
        tempo.PROGRAM,
        "prod",
        {"overrides.defaults.metrics_generator.processors": ["local-blocks"]},
        None,
        ["metrics_generator.traces_storage.path"],
    ),
    (tempo.PROGRAM, "prod", {"memberlist.cluster_label": _DELETE}, None, ["memberlist.cluster_label"]),
    # Mimir
    (
        mimir.PROGRAM,
        "prod",
        {"limits.max_global_series_per_usr": 1},
        None,
        ["limits.max_global_series_per_usr"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"limits.max_global_series_per_user": "lots"},
        None,
        ["limits.max_global_series_per_user"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"common.storage.s3.bucket_lookup_type": "path-style"},
        None,
        ["common.storage.s3.bucket_lookup_type"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"limits.compactor_blocks_retention_period": "3 months"},
        None,
        ["limits.compactor_blocks_retention_period"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"alertmanager_storage.storage_prefix": "blocks"},
        None,
        ["alertmanager_storage.storage_prefix"],
    ),
    (
        mimir.PROGRAM,
        "dev",
        {"alertmanager_storage.storage_prefix": "blocks"},
        None,
        ["alertmanager_storage.storage_prefix"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"ruler_storage": {"storage_prefix": "blocks"}},
        None,
        ["ruler_storage.storage_prefix"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"blocks_storage.storage_prefix": "my-blocks"},
        None,
        ["blocks_storage.storage_prefix"],
    ),
    (mimir.PROGRAM, "dev", {}, 3, ["common.storage.backend"]),
    (
        mimir.PROGRAM,
        "prod",
        {},
        2,
        [
            "ingester.ring.replication_factor",
            "store_gateway.sharding_ring.replication_factor",
            "alertmanager.sharding_ring.replication_factor",
        ],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"alertmanager.fallback_config_file": _DELETE},
        None,
        ["alertmanager.fallback_config_file"],
    ),
    (
        mimir.PROGRAM,
        "prod",
        {"alertmanager.external_url": "http://keelson-mimir:8080/"},
        None,
        ["alertmanager.external_url"],
    ),
    (mimir.PROGRAM, "prod", {"no_auth_tenant": ""}, None, ["no_auth_tenant"]),
    (mimir.PROGRAM, "prod", {"memberlist.cluster_label": ""}, None, ["memberlist.cluster_label"]),
    # Pyroscope
    (
        pyroscope.PROGRAM,
        "prod",
        {"storage.s3.bucket_lookup_type": "path"},
        None,
        ["storage.s3.bucket_lookup_type"],
    ),
    (pyroscope.PROGRAM, "prod", {"limits.retention_periods": "30d"}, None, ["limits.retention_periods"]),
    (
        pyroscope.PROGRAM,
        "prod",
        {"metastore.raft.bootstrap_expect_peers": "3"},
        None,
        ["metastore.raft.bootstrap_expect_peers"],
    ),
    (
        pyroscope.PROGRAM,
        "prod",
        {"metastore.raft.bootstrap_expect_peers": 1},
        None,
        ["metastore.raft.bootstrap_expect_peers"],
    ),
    (
        pyroscope.PROGRAM,
        "prod",
        {"metastore.raft.bootstrap_expect_peers": 2},
        2,
        ["metastore.raft.bootstrap_expect_peers"],
    ),
    (pyroscope.PROGRAM, "dev", {"metastore.raft.bootstrap_expect_peers": 3}, 3, ["storage.backend"]),
    (
        pyroscope.PROGRAM,
        "prod",
        {"memberlist.join_members": ["keelson-pyroscope-headless"]},
        None,
        ["memberlist.join_members[0]"],
    ),
]


@pytest.mark.parametrize(
    "case",
    SPOILED,
    ids=[f"{p.chart}-{env}-{'+'.join(c) or f'replicas={r}'}" for p, env, c, r, _ in SPOILED],
)
def test_a_spoiled_config_is_refused_at_its_key(
    rendered: Callable[[str], list[Object]], case: tuple[Program, str, dict[str, Any], int | None, list[str]]
) -> None:
    program, env, changes, replicas, refused = case
    document, workload = _config(rendered(env), program)
    spoiled = deepcopy(document)
    for path, value in changes.items():
        _set(spoiled, path, value)
    assert _paths(program, spoiled, Workload(replicas) if replicas else workload) == refused


def test_refusals_say_what_is_allowed_without_the_value(rendered: Callable[[str], list[Object]]) -> None:
    document, workload = _config(rendered("prod"), loki.PROGRAM)
    document["common"]["storage"]["s3"]["secret_access_key"] = [SENTINEL]
    document["server"]["log_level"] = SENTINEL
    document["limits_config"][SENTINEL[:6]] = SENTINEL
    messages = [str(p) for p in configmodels.judge(loki.PROGRAM, yaml.safe_dump(document), workload)]
    assert messages == [
        "common.storage.s3.secret_access_key: wrong type: expected a string, got a list",
        "limits_config.do-not: unknown key: allowed here: allow_structured_metadata, cardinality_limit, "
        "creation_grace_period, discover_log_levels, discover_service_name, increment_duplicate_timestamp, "
        "ingestion_burst_size_mb, ingestion_rate_mb, ingestion_rate_strategy, max_cache_freshness_per_query, "
        "max_chunks_per_query, max_concurrent_tail_requests, max_entries_limit_per_query, "
        "max_global_streams_per_user, max_label_name_length, max_label_names_per_series, ...",
        "server.log_level: not an allowed value: expected one of debug, info, warn, error",
    ]
    assert not any(SENTINEL in message for message in messages)


def test_a_misspelt_key_gets_a_suggestion(rendered: Callable[[str], list[Object]]) -> None:
    document, workload = _config(rendered("prod"), tempo.PROGRAM)
    document["compactor"]["compaction"]["block_retension"] = document["compactor"]["compaction"].pop(
        "block_retention"
    )
    [problem] = configmodels.judge(tempo.PROGRAM, yaml.safe_dump(document), workload)
    assert str(problem).startswith(
        "compactor.compaction.block_retension: unknown key (did you mean block_retention?): allowed here: "
    )


def test_invalid_yaml_is_one_problem() -> None:
    problems = configmodels.judge(loki.PROGRAM, "server: [unclosed\n", Workload(1))
    assert [str(p) for p in problems] == ["(top level): not valid YAML at line 2"]


def test_two_backends_with_one_cluster_label_are_refused(rendered: Callable[[str], list[Object]]) -> None:
    objects = deepcopy(rendered("prod"))
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "keelson-tempo":
            text = obj["data"]["tempo.yaml"]
            obj["data"]["tempo.yaml"] = text.replace(
                "cluster_label: keelson-tempo", "cluster_label: keelson-loki"
            )
    assert [str(f) for f in configmodels.check(objects, "prod")] == [
        "prod: ConfigMap keelson/keelson-tempo tempo.yaml: memberlist.cluster_label: the same cluster label "
        "as Loki 3.7: their rings would merge (Tempo 2.10)"
    ]


def test_check_refuses_a_wrong_type_in_extra_config_with_one_line(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.yaml", "mimir:\n  extraConfig:\n    limits:\n      max_global_series_per_user: many\n"
    )
    done = invoke("check", "--env", "dev", "--values", str(bad))
    line = one_error_line(
        done,
        "ConfigMap keelson/keelson-mimir-config mimir.yaml: limits.max_global_series_per_user: wrong type",
        "(Mimir 3.1)",
    )
    assert "many" not in line
