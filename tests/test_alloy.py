"""The gateway's processors, as Alloy v1.18.0 links them, on the rendered configs.

No Alloy binary can be built from the Go module proxy (scripts/pins.txt lists the refused module
versions), so ``alloy run`` cannot start the gateway here. What runs instead is the part of the
gateway where the telemetry contract lives: ``otelcol-processors`` (scripts/gosrc/otelcol-processors,
built by scripts/bootstrap inside the Alloy v1.18.0 module, so with Alloy's own versions of the
OpenTelemetry Collector's transform processor, OTTL engine and batch processor). The test takes each
env's rendered ``otelcol.processor.transform "contract"`` block, hands its statements to the real
transform processor, sends one span, one data point and one log record through it, each with the run
keys and a wrong ``kfm.env``, and asserts field by field what comes out. The exporters and
``prometheus.relabel`` / ``loki.process`` after them are not run; tests/test_contract_alloy.py reads
them from the render.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import TYPE_CHECKING, Any

import programs_support as programs
import pytest
import yaml
from stack_support import alloy_block, ottl_by_signal
from support import REPO

from keelson import values

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

ENVS = ("dev", "staging", "prod")
WRONG_ENV = "qa"  # what a misconfigured application claims; the gateway must overwrite it
# The contract as data (charts/keelson/values.yaml; tests/test_contract_alloy.py pins it to the design).
CONTRACT: list[dict[str, Any]] = yaml.safe_load((REPO / "charts" / "keelson" / "values.yaml").read_text())[
    "global"
]["telemetry"]["attributes"]
RUN = {
    "kfm.job.run_id": "run-20261130-42",
    "kfm.git.commit_sha": "9f1c2e7d4b3a5f6e7d8c9b0a1f2e3d4c5b6a7980",
    "kfm.job.status": "succeeded",
    "kfm.job.started_at": "2026-11-30T10:00:00Z",
    "kfm.job.ended_at": "2026-11-30T10:05:30+00:00",
    "kfm.dataset.id": "parcels-v3",
    "kfm.pipeline.name": "nightly-ingest",
}
UNIX = {
    "kfm.job.started_at": 1796032800,
    "kfm.job.ended_at": 1796033130,
}  # the same instants (date -u -d 2026-11-30T10:00:00Z +%s)
TRACE_ID, SPAN_ID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
SIGNALS = {"trace": "traces", "metric": "metrics", "log": "logs"}
# Grafana's Loki derived field before the fix (issue 10).
OLD_DERIVED_REGEX = r'(?:trace_id|traceID)"?\s*[=:]\s*"?([0-9a-fA-F]{16,32})'


def _attributes(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": {"stringValue": value}} for key, value in pairs.items()]


def _plain(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP/JSON attributes as a dict (int values come as strings in OTLP/JSON)."""
    found: dict[str, Any] = {}
    for pair in attributes:
        [(kind, value)] = pair["value"].items()
        found[pair["key"]] = int(value) if kind == "intValue" else value
    return found


RESOURCE = {
    "attributes": _attributes(
        {
            "service.name": "keelson-contract-test",
            "kfm.env": WRONG_ENV,
            "deployment.environment": WRONG_ENV,
            "k8s.cluster.name": "somewhere-else",
        }
    )
}
KEYS = _attributes({**RUN, "kfm.env": WRONG_ENV})
SCOPE = {"scope": {"name": "keelson-test"}}
NOW = "1764497200000000000"
PAYLOADS = {
    "trace": {
        "resourceSpans": [
            {
                "resource": RESOURCE,
                "scopeSpans": [
                    {
                        **SCOPE,
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "name": "nightly-ingest",
                                "kind": 1,
                                "startTimeUnixNano": NOW,
                                "endTimeUnixNano": NOW,
                                "attributes": KEYS,
                            }
                        ],
                    }
                ],
            }
        ]
    },
    "metric": {
        "resourceMetrics": [
            {
                "resource": RESOURCE,
                "scopeMetrics": [
                    {
                        **SCOPE,
                        "metrics": [
                            {
                                "name": "keelson_contract_test",
                                "gauge": {
                                    "dataPoints": [
                                        {"timeUnixNano": NOW, "asDouble": 42.0, "attributes": KEYS}
                                    ]
                                },
                            }
                        ],
                    }
                ],
            }
        ]
    },
    "log": {
        "resourceLogs": [
            {
                "resource": RESOURCE,
                "scopeLogs": [
                    {
                        **SCOPE,
                        "logRecords": [
                            {
                                "timeUnixNano": NOW,
                                "severityText": "INFO",
                                "body": {"stringValue": "ingest finished"},
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "attributes": KEYS,
                            }
                        ],
                    }
                ],
            }
        ]
    },
}


def processor_config(gateway: str) -> dict[str, Any]:
    """The transform processor's config from the rendered ``otelcol.processor.transform "contract"``,
    as Alloy hands it to the collector: error_mode and [{context, statements}] per signal."""
    body = alloy_block(gateway, "otelcol.processor.transform", "contract")
    mode = re.search(r'error_mode\s*=\s*"(\w+)"', body)
    assert mode, body[:200]
    config: dict[str, Any] = {"error_mode": mode.group(1)}
    for signal, contexts in ottl_by_signal(body).items():
        config[f"{signal}_statements"] = [{"context": c, "statements": s} for c, s in contexts.items()]
    return config


def run_processors(prj: Project, args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(prj.tool("otelcol-processors")), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def transformed(prj: Project, gateway: str, signal: str, tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "transform.json"
    config.write_text(json.dumps(processor_config(gateway)), encoding="utf-8")
    done = run_processors(prj, ["transform", SIGNALS[signal], str(config)], json.dumps(PAYLOADS[signal]))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def gateway_of(rendered: Callable[[str], list[Object]], env: str) -> str:
    return programs.config_text(rendered(env), "alloy-gateway")


def _expected_labels(env: str) -> dict[str, str]:
    """Each canonical label with the value sent, both timestamp forms, and the env forced."""
    labels = {"env": env}
    for item in CONTRACT:
        if item["label"] != "env":
            labels[item["label"]] = RUN[item["attribute"]]
            if item.get("timestamp"):
                labels[f"{item['label']}_unix"] = str(UNIX[item["attribute"]])
    return labels


@pytest.mark.parametrize("env", ENVS)
def test_spans_keep_the_run_keys_and_get_the_env_and_cluster(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, env: str
) -> None:
    cluster = values.load(env, (), repo).merged["global"]["cluster"]
    [resource_spans] = transformed(repo, gateway_of(rendered, env), "trace", tmp_path)["resourceSpans"]
    resource = _plain(resource_spans["resource"]["attributes"])
    assert (resource["kfm.env"], resource["deployment.environment"]) == (env, env)
    assert (resource["k8s.cluster.name"], resource["cluster"]) == (cluster, cluster)
    [span] = resource_spans["scopeSpans"][0]["spans"]
    assert span["traceId"] == TRACE_ID
    attributes = _plain(span["attributes"])
    assert attributes["kfm.env"] == env
    assert {key: attributes[key] for key in RUN} == RUN
    assert {key: attributes[f"{key}_unix"] for key in UNIX} == UNIX


@pytest.mark.parametrize("env", ENVS)
def test_data_points_carry_every_canonical_label(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, env: str
) -> None:
    [resource_metrics] = transformed(repo, gateway_of(rendered, env), "metric", tmp_path)["resourceMetrics"]
    assert _plain(resource_metrics["resource"]["attributes"])["kfm.env"] == env
    [metric] = resource_metrics["scopeMetrics"][0]["metrics"]
    [point] = metric["gauge"]["dataPoints"]
    labels = {key: str(value) for key, value in _plain(point["attributes"]).items()}
    # The canonical attributes leave the point: a series carries each value once, as its label.
    assert labels == _expected_labels(env)
    assert point["asDouble"] == 42.0


@pytest.mark.parametrize("env", ENVS)
def test_log_records_carry_the_labels_and_the_loki_hints(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, env: str
) -> None:
    [resource_logs] = transformed(repo, gateway_of(rendered, env), "log", tmp_path)["resourceLogs"]
    resource = _plain(resource_logs["resource"]["attributes"])
    assert resource["kfm.env"] == env
    assert resource["loki.resource.labels"] == "service.name, service.namespace"
    [record] = resource_logs["scopeLogs"][0]["logRecords"]
    attributes = _plain(record["attributes"])
    expected = _expected_labels(env)
    assert {label: str(attributes[label]) for label in expected} == expected
    # otelcol.exporter.loki turns exactly these attributes into Loki labels.
    assert sorted(label.strip() for label in attributes["loki.attribute.labels"].split(",")) == sorted(
        expected
    )
    assert {key: attributes[key] for key in RUN} == RUN  # the canonical keys stay in the line too
    assert record["traceId"] == TRACE_ID


def loki_json_line(record: dict[str, Any], resource: dict[str, Any], scope: str) -> str:
    """The line otelcol.exporter.loki writes for a record (its default JSON format): the field names
    and order of ``lokiEntry`` in pkg/translator/loki/encode.go of opentelemetry-collector-contrib,
    which Alloy v1.18.0 uses at v0.153.0 (the proxy serves that module at no version, so this is a
    model of the line, written from that source, not the program's own output)."""
    entry = {
        "body": record["body"]["stringValue"],
        "traceid": record["traceId"],
        "spanid": record["spanId"],
        "severity": record["severityText"],
        "attributes": _plain(record["attributes"]),
        "resources": _plain(resource["attributes"]),
        "instrumentation_scope": {"name": scope},
    }
    return json.dumps(entry, separators=(",", ":"))


@pytest.mark.parametrize("env", ENVS)
def test_grafana_finds_the_trace_id_in_the_gateway_log_line(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, env: str
) -> None:
    [resource_logs] = transformed(repo, gateway_of(rendered, env), "log", tmp_path)["resourceLogs"]
    [record] = resource_logs["scopeLogs"][0]["logRecords"]
    line = loki_json_line(record, resource_logs["resource"], resource_logs["scopeLogs"][0]["scope"]["name"])
    assert f'"traceid":"{TRACE_ID}"' in line
    [derived] = _derived_fields(rendered(env))
    assert (derived["name"], derived["matcherType"], derived["datasourceUid"]) == (
        "trace_id",
        "regex",
        "tempo",
    )
    assert [m.group(1) for m in re.finditer(derived["matcherRegex"], line)] == [TRACE_ID]
    assert re.search(OLD_DERIVED_REGEX, line) is None  # the field before the fix found nothing
    # The exporter's logfmt form (`loki.format` hint "logfmt") and applications' own lines match too.
    for other in (f"msg=done traceID={TRACE_ID} spanID={SPAN_ID}", f'{{"trace_id":"{TRACE_ID}"}}'):
        assert [m.group(1) for m in re.finditer(derived["matcherRegex"], other)] == [TRACE_ID]


def _derived_fields(objects: list[Object]) -> list[dict[str, Any]]:
    [configmap] = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "keelson-grafana-datasources"
    ]
    [document] = [yaml.safe_load(text) for text in configmap["data"].values()]
    [loki] = [ds for ds in document["datasources"] if ds["uid"] == "loki"]
    fields: list[dict[str, Any]] = loki["jsonData"]["derivedFields"]
    return fields


# --- The batch processor: Alloy's default bound (3000) against the chart's size ------------------


def batch_sizes(gateway: str) -> tuple[int, int]:
    """send_batch_size and send_batch_max_size of the rendered batch block; a missing bound is
    Alloy v1.18.0's default, read from its otelcol.processor.batch source that bootstrap keeps."""
    body = alloy_block(gateway, "otelcol.processor.batch", "default")
    size = re.search(r"^\s*send_batch_size\s*=\s*(\d+)$", body, re.MULTILINE)
    bound = re.search(r"^\s*send_batch_max_size\s*=\s*(\d+)$", body, re.MULTILINE)
    assert size, body
    if bound:
        return int(size.group(1)), int(bound.group(1))
    source = (REPO / ".tools" / "share" / "otelcol-processors" / "batch.go").read_text(encoding="utf-8")
    default = re.search(r"^\s*SendBatchMaxSize:\s*(\d+),", source, re.MULTILINE)
    assert default, "no SendBatchMaxSize default in Alloy's batch.go"
    return int(size.group(1)), int(default.group(1))


@pytest.mark.parametrize("env", ENVS)
def test_the_batch_processor_accepts_the_rendered_sizes(
    rendered: Callable[[str], list[Object]], repo: Project, env: str
) -> None:
    done = run_processors(repo, ["batch", *map(str, batch_sizes(gateway_of(rendered, env)))])
    assert done.returncode == 0, done.stderr


def test_without_the_bound_alloys_default_refuses_the_chart_batch_size(
    rendered: Callable[[str], list[Object]], repo: Project
) -> None:
    """The gateway of issue 10: send_batch_size 8192 and no bound, so Alloy's 3000 applies."""
    gateway = gateway_of(rendered, "prod")
    assert "  send_batch_max_size = 8192\n" in gateway
    sizes = batch_sizes(gateway.replace("  send_batch_max_size = 8192\n", ""))
    assert sizes == (8192, 3000)
    done = run_processors(repo, ["batch", *map(str, sizes)])
    assert done.returncode == 1
    assert "send_batch_max_size must be greater or equal to send_batch_size" in done.stderr


# --- Spoiled statements are refused by the real OTTL parser ---------------------------------------


SPOILED_STATEMENTS = {
    "misspelt function": ("UnixSeconds(Time(", "UnixSecond(Time(", "UnixSecond(Time("),
    "unknown context": ('context    = "datapoint"', 'context    = "datapoints"', "datapoints"),
    "unknown path": ('set(attributes["env"]', 'set(attribute["env"]', 'segment "attribute"'),
}


@pytest.mark.parametrize("spoil", SPOILED_STATEMENTS)
def test_the_transform_processor_refuses_spoiled_statements(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, spoil: str
) -> None:
    old, new, said = SPOILED_STATEMENTS[spoil]
    gateway = gateway_of(rendered, "prod")
    assert old in gateway
    config = tmp_path / "transform.json"
    config.write_text(json.dumps(processor_config(gateway.replace(old, new, 1))), encoding="utf-8")
    done = run_processors(repo, ["transform", "metrics", str(config)], json.dumps(PAYLOADS["metric"]))
    assert done.returncode == 1, done.stdout
    assert said in done.stderr


# --- The build links no AGPL module ---------------------------------------------------------------

AGPL_MODULES = {
    "github.com/grafana/loki",
    "github.com/grafana/loki/v3",
    "github.com/grafana/tempo",
    "github.com/grafana/mimir",
    "github.com/grafana/pyroscope",
    "github.com/grafana/grafana",
}


def test_otelcol_processors_links_alloys_versions_and_no_agpl_module(repo: Project) -> None:
    done = subprocess.run(
        ["go", "version", "-m", str(repo.tool("otelcol-processors"))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = dict(line.split()[1:3] for line in done.stdout.splitlines() if line.split()[:1] == ["dep"])
    assert (
        modules["github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"]
        == "v0.153.0"
    )
    assert modules["github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"] == "v0.153.0"
    assert modules["go.opentelemetry.io/collector/processor/batchprocessor"] == "v0.153.0"
    refused = [m for m in modules if m in AGPL_MODULES or m.startswith("github.com/grafana/grafana/")]
    assert refused == []
