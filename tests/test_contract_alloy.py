"""Issue 3, items 3 and 4, field by field: the Alloy collector, the telemetry contract, the app's wiring.

The telemetry contract is the design's table (kfm.* attribute, label, timestamp), copied below so a
reviewer reads it here; the umbrella keeps it as data in ``global.telemetry`` and the alloy chart
renders it into the collector configs, which these tests parse per signal (metrics, logs, spans)
for dev and prod.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
import yaml
from stack_support import (
    RELEASE,
    alloy_block,
    alloy_blocks,
    alloy_map,
    container,
    env_of,
    inner_blocks,
    instance_labels,
    ottl_by_signal,
    pod_spec,
)
from support import REPO, find_object, invoke, one_error_line, write

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object

ENVS = ("dev", "prod")
# The design's telemetry contract: attribute, Prometheus label, kept as timestamp in both forms.
CONTRACT = [
    ("kfm.job.run_id", "job_run_id", False),
    ("kfm.git.commit_sha", "commit_sha", False),
    ("kfm.job.status", "status", False),
    ("kfm.job.started_at", "started_at", True),
    ("kfm.job.ended_at", "ended_at", True),
    ("kfm.dataset.id", "dataset_id", False),
    ("kfm.pipeline.name", "pipeline", False),
    ("kfm.env", "env", False),
]
AGENT = f"{RELEASE}-alloy-agent"
# Cluster-scoped RBAC carries the namespace, so releases in two namespaces do not claim one object.
AGENT_RBAC = f"keelson:{AGENT}"
GATEWAY = f"{RELEASE}-alloy-gateway"


def alloy_config(objects: list[Object], name: str) -> str:
    text: str = find_object(objects, "ConfigMap", name)["data"]["config.alloy"]
    return text


def test_the_contract_is_data_in_the_umbrella_values() -> None:
    umbrella = yaml.safe_load((REPO / "charts" / "keelson" / "values.yaml").read_text())
    attributes = umbrella["global"]["telemetry"]["attributes"]
    assert [(a["attribute"], a["label"], a.get("timestamp", False)) for a in attributes] == CONTRACT


# --- agent ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_agent_daemonset(rendered: Callable[[str], list[Object]], env: str) -> None:
    objects = rendered(env)
    agent = find_object(objects, "DaemonSet", AGENT)
    assert agent["spec"]["selector"]["matchLabels"] == instance_labels("alloy", "agent")
    spec = pod_spec(agent)
    assert spec["serviceAccountName"] == AGENT
    # The only pod that calls the Kubernetes API (discovery, logs), so the only one with a token.
    assert spec["automountServiceAccountToken"] is True
    # Logs come through the API, not from the node's files: no hostPath, no privileged access.
    assert not [v for v in spec["volumes"] if "hostPath" in v]
    assert env_of(container(agent, "alloy"))["NODE_NAME"] == {
        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}
    }
    args = container(agent, "alloy")["args"]
    assert args[:2] == ["run", "/etc/alloy/config.alloy"]


@pytest.mark.parametrize("env", ENVS)
def test_agent_sends_pod_logs_through_the_api_to_loki(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    config = alloy_config(rendered(env), AGENT)
    pods = alloy_block(config, "discovery.kubernetes", "pods")
    assert 'role = "pod"' in pods
    assert '"spec.nodeName=" + sys.env("NODE_NAME")' in pods
    source = alloy_block(config, "loki.source.kubernetes", "pods")
    assert "targets    = discovery.relabel.pod_logs.output" in source
    assert "forward_to = [loki.process.pod_logs.receiver]" in source
    assert "forward_to = [loki.process.contract.receiver]" in alloy_block(config, "loki.process", "pod_logs")
    assert "forward_to = [loki.write.loki.receiver]" in alloy_block(config, "loki.process", "contract")
    [endpoint] = inner_blocks(alloy_block(config, "loki.write", "loki"), "endpoint")
    assert f'url = "http://{RELEASE}-loki:3100/loki/api/v1/push"' in endpoint
    assert not [name for name, _ in alloy_blocks(config) if name in ("loki.source.file", "local.file_match")]


@pytest.mark.parametrize("env", ENVS)
def test_agent_scrapes_kubelet_cadvisor_and_annotated_pods_into_mimir(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    config = alloy_config(rendered(env), AGENT)
    for job, path in (("kubelet", "/metrics"), ("cadvisor", "/metrics/cadvisor")):
        relabel = alloy_block(config, "discovery.relabel", job)
        assert "targets = discovery.kubernetes.nodes.targets" in relabel
        assert f'replacement  = "{path}"' in relabel
        scrape = alloy_block(config, "prometheus.scrape", job)
        assert f"targets           = discovery.relabel.{job}.output" in scrape
        assert 'scheme            = "https"' in scrape
        assert "forward_to        = [prometheus.relabel.contract.receiver]" in scrape
    keep = inner_blocks(alloy_block(config, "discovery.relabel", "pod_metrics"), "rule")[0]
    assert '"__meta_kubernetes_pod_annotation_prometheus_io_scrape"' in keep
    assert 'regex         = "true"' in keep
    assert 'action        = "keep"' in keep
    annotations = alloy_block(config, "discovery.relabel", "pod_metrics")
    for annotation in ("prometheus_io_port", "prometheus_io_path", "prometheus_io_scheme"):
        assert f"__meta_kubernetes_pod_annotation_{annotation}" in annotations
    assert "forward_to      = [prometheus.relabel.contract.receiver]" in alloy_block(
        config, "prometheus.scrape", "pods"
    )
    [endpoint] = inner_blocks(alloy_block(config, "prometheus.remote_write", "mimir"), "endpoint")
    assert f'url = "http://{RELEASE}-mimir:8080/api/v1/push"' in endpoint


def test_agent_rbac_is_least_privilege(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    role = find_object(objects, "ClusterRole", AGENT_RBAC)
    # pods: discovery of this node's pods; pods/log: their logs through the API; nodes: discovery of
    # this node; nodes/metrics: the kubelet's /metrics and /metrics/cadvisor. Read-only, nothing else.
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["pods", "pods/log", "nodes", "nodes/metrics"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = find_object(objects, "ClusterRoleBinding", AGENT_RBAC)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": AGENT_RBAC,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": AGENT, "namespace": "keelson"}]
    # The only Role is the agent's, for the Prometheus Operator's objects (the cluster serves
    # monitoring.coreos.com/v1 here; tests/test_contract_operator.py pins its rules): the gateway
    # needs no API access.
    alloy = [o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/name") == "alloy"]
    namespaced = [(o["kind"], o["metadata"]["name"]) for o in alloy if o["kind"] in {"Role", "RoleBinding"}]
    assert namespaced == [("Role", f"{AGENT}-keelson"), ("RoleBinding", f"{AGENT}-keelson")]
    assert [o["metadata"]["name"] for o in alloy if o["kind"] == "ClusterRole"] == [AGENT_RBAC]


# --- gateway -------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_gateway_receives_otlp_and_faro(rendered: Callable[[str], list[Object]], env: str) -> None:
    objects = rendered(env)
    gateway = find_object(objects, "Deployment", GATEWAY)
    assert pod_spec(gateway)["automountServiceAccountToken"] is False
    ports = {p["name"]: p["containerPort"] for p in container(gateway, "alloy")["ports"]}
    assert ports == {"otlp-grpc": 4317, "otlp-http": 4318, "faro": 12347, "http-metrics": 12345}
    service = find_object(objects, "Service", GATEWAY)["spec"]
    assert service["selector"] == instance_labels("alloy", "gateway")
    assert {(p["name"], p["port"]) for p in service["ports"]} == set(ports.items())
    config = alloy_config(objects, GATEWAY)
    receiver = alloy_block(config, "otelcol.receiver.otlp", "default")
    assert [b.strip() for b in inner_blocks(receiver, "grpc")] == ['endpoint = "0.0.0.0:4317"']
    assert [b.strip() for b in inner_blocks(receiver, "http")] == ['endpoint = "0.0.0.0:4318"']
    [server] = inner_blocks(alloy_block(config, "faro.receiver", "default"), "server")
    assert "listen_port          = 12347" in server


@pytest.mark.parametrize("env", ENVS)
def test_gateway_exports_traces_to_tempo_metrics_to_mimir_logs_to_loki(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    config = alloy_config(rendered(env), GATEWAY)
    [output] = inner_blocks(alloy_block(config, "otelcol.processor.batch", "default"), "output")
    assert "metrics = [otelcol.exporter.prometheus.mimir.input]" in output
    assert "logs    = [otelcol.exporter.loki.loki.input]" in output
    assert "traces  = [otelcol.exporter.otlp.tempo.input]" in output
    [client] = inner_blocks(alloy_block(config, "otelcol.exporter.otlp", "tempo"), "client")
    assert f'endpoint = "{RELEASE}-tempo:4317"' in client
    assert "forward_to                       = [prometheus.relabel.contract.receiver]" in alloy_block(
        config, "otelcol.exporter.prometheus", "mimir"
    )
    [endpoint] = inner_blocks(alloy_block(config, "prometheus.remote_write", "mimir"), "endpoint")
    assert f'url = "http://{RELEASE}-mimir:8080/api/v1/push"' in endpoint
    assert "forward_to = [loki.process.contract.receiver]" in alloy_block(
        config, "otelcol.exporter.loki", "loki"
    )
    [endpoint] = inner_blocks(alloy_block(config, "loki.write", "loki"), "endpoint")
    assert f'url = "http://{RELEASE}-loki:3100/loki/api/v1/push"' in endpoint


def test_prod_gateway_two_replicas_and_an_hpa(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("prod")
    hpa = find_object(objects, "HorizontalPodAutoscaler", GATEWAY)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    # Without a cluster (helm template) the Deployment starts at the HPA's floor, never at the
    # default of 1; an upgrade keeps the live count (tests/test_cluster_operator.py).
    assert find_object(objects, "Deployment", GATEWAY)["spec"]["replicas"] == 2
    assert find_object(objects, "PodDisruptionBudget", GATEWAY)["spec"]["minAvailable"] == 1


def test_dev_gateway_one_replica_no_hpa(rendered: Callable[[str], list[Object]]) -> None:
    objects = rendered("dev")
    assert find_object(objects, "Deployment", GATEWAY)["spec"]["replicas"] == 1
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]


# --- the telemetry contract, per signal ----------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", [AGENT, GATEWAY])
def test_every_metric_carries_env_and_cluster(
    rendered: Callable[[str], list[Object]], env: str, name: str
) -> None:
    config = alloy_config(rendered(env), name)
    # Every scrape and the OTLP metrics go through prometheus.relabel "contract", and only it
    # reaches the remote write ...
    forwards = {
        block: set(re.findall(r"(prometheus\.[a-z_]+\.[a-z_]+)\.receiver", body))
        for block, body in alloy_blocks(config).items()
    }
    senders = {block for block, targets in forwards.items() if targets}
    assert senders
    for block in senders - {("prometheus.relabel", "contract")}:
        assert forwards[block] == {"prometheus.relabel.contract"}, block
    assert forwards[("prometheus.relabel", "contract")] == {"prometheus.remote_write.mimir"}
    rules = inner_blocks(alloy_block(config, "prometheus.relabel", "contract"), "rule")
    assert [dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', r)) for r in rules] == [
        {"target_label": "env", "replacement": env},
        {"target_label": "cluster", "replacement": env},
    ]
    assert "forward_to = [prometheus.remote_write.mimir.receiver]" in alloy_block(
        config, "prometheus.relabel", "contract"
    )
    # ... and the remote write stamps them again, env = "<env>" as the issue spells it.
    remote_write = alloy_block(config, "prometheus.remote_write", "mimir")
    assert alloy_map(remote_write, "external_labels") == {"env": env, "cluster": env}
    assert f'env = "{env}"' in remote_write


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", [AGENT, GATEWAY])
def test_every_log_stream_carries_env_and_cluster(
    rendered: Callable[[str], list[Object]], env: str, name: str
) -> None:
    config = alloy_config(rendered(env), name)
    contract = alloy_block(config, "loki.process", "contract")
    [static] = inner_blocks(contract, "stage.static_labels")
    assert alloy_map(static, "values") == {"env": env, "cluster": env}
    assert alloy_map(alloy_block(config, "loki.write", "loki"), "external_labels") == {
        "env": env,
        "cluster": env,
    }
    # Nothing reaches loki.write except through the contract.
    assert set(re.findall(r"forward_to\s*=\s*\[(loki\.write\.[a-z_]+)\.receiver\]", config)) == {
        "loki.write.loki"
    }
    assert len(re.findall(r"loki\.write\.loki\.receiver", config)) == 1


@pytest.mark.parametrize("env", ENVS)
def test_every_span_carries_env_and_cluster_and_keeps_the_contract(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    config = alloy_config(rendered(env), GATEWAY)
    statements = ottl_by_signal(alloy_block(config, "otelcol.processor.transform", "contract"))
    resource = statements["trace"]["resource"]
    for attribute in ("kfm.env", "deployment.environment", "cluster", "k8s.cluster.name"):
        assert f'set(attributes["{attribute}"], "{env}")' in resource
    # Traces keep the canonical attributes (no renaming, no deletion) and gain the unix timestamps.
    spans = statements["trace"]["resource"] + statements["trace"]["span"]
    assert not [s for s in spans if "delete_key" in s or "delete_matching_keys" in s]
    for attribute, _, timestamp in CONTRACT:
        if timestamp:
            assert any(
                s.startswith(
                    f'set(attributes["{attribute}_unix"], UnixSeconds(Time(attributes["{attribute}"]'
                )
                for s in statements["trace"]["span"]
            ), attribute
    # Every span of every receiver goes through the transform before the exporter.
    [output] = inner_blocks(alloy_block(config, "otelcol.processor.memory_limiter", "default"), "output")
    assert "traces  = [otelcol.processor.transform.contract.input]" in output
    faro_output = inner_blocks(alloy_block(config, "faro.receiver", "default"), "output")[0]
    assert "traces = [otelcol.processor.memory_limiter.default.input]" in faro_output


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("signal", ["metric", "log"])
def test_each_attribute_maps_to_its_prometheus_label(
    rendered: Callable[[str], list[Object]], env: str, signal: str
) -> None:
    config = alloy_config(rendered(env), GATEWAY)
    statements = ottl_by_signal(alloy_block(config, "otelcol.processor.transform", "contract"))
    records = statements[signal]["datapoint" if signal == "metric" else "log"]
    assert f'set(attributes["kfm.env"], "{env}")' in statements[signal]["resource"]
    for attribute, label, timestamp in CONTRACT:
        pairs = [(label, attribute)] + ([(f"{label}_unix", f"{attribute}_unix")] if timestamp else [])
        for target, source in pairs:
            from_resource = (
                f'set(attributes["{target}"], resource.attributes["{source}"]) '
                f'where resource.attributes["{source}"] != nil'
            )
            assert from_resource in records, f"{signal}: {source} -> {target}"
            if source != "kfm.env":  # env is a resource attribute, always the environment's
                assert (
                    f'set(attributes["{target}"], attributes["{source}"]) where attributes["{source}"] != nil'
                    in (records)
                ), f"{signal}: {source} -> {target}"


@pytest.mark.parametrize("env", ENVS)
def test_metric_labels_are_the_contract_only(rendered: Callable[[str], list[Object]], env: str) -> None:
    config = alloy_config(rendered(env), GATEWAY)
    statements = ottl_by_signal(alloy_block(config, "otelcol.processor.transform", "contract"))
    deleted = {
        m
        for s in statements["metric"]["datapoint"]
        for m in re.findall(r'delete_key\(attributes, "([^"]+)"\)', s)
    }
    expected = {a for a, _, _ in CONTRACT} | {f"{a}_unix" for a, _, t in CONTRACT if t}
    assert deleted == expected, "the canonical names give way to the Prometheus labels on metrics"
    assert "resource_to_telemetry_conversion = false" in alloy_block(
        config, "otelcol.exporter.prometheus", "mimir"
    )


@pytest.mark.parametrize("env", ENVS)
def test_log_labels_hint_lists_the_contract(rendered: Callable[[str], list[Object]], env: str) -> None:
    config = alloy_config(rendered(env), GATEWAY)
    statements = ottl_by_signal(alloy_block(config, "otelcol.processor.transform", "contract"))
    [hint] = [s for s in statements["log"]["log"] if 'attributes["loki.attribute.labels"]' in s]
    labels = re.search(r'"loki.attribute.labels"\], "([^"]+)"', hint)
    assert labels
    expected = [x for _, label, t in CONTRACT for x in ([label, f"{label}_unix"] if t else [label])]
    assert labels.group(1).split(", ") == expected
    # Timestamps are unique per run: structured metadata, not stream labels (cardinality).
    contract = alloy_block(config, "loki.process", "contract")
    [metadata] = inner_blocks(contract, "stage.structured_metadata")
    assert set(alloy_map(metadata, "values")) == {
        "started_at",
        "started_at_unix",
        "ended_at",
        "ended_at_unix",
    }


@pytest.mark.parametrize("env", ENVS)
def test_agent_maps_the_contract_from_json_log_lines(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    config = alloy_config(rendered(env), AGENT)
    process = alloy_block(config, "loki.process", "pod_logs")
    [json_stage] = inner_blocks(process, "stage.json")
    expressions = dict(re.findall(r'(\w+)\s*=\s*`"([^"]+)"`', json_stage))
    assert expressions == {label: attribute for attribute, label, _ in CONTRACT}
    templates = inner_blocks(process, "stage.template")
    for _, label, timestamp in CONTRACT:
        if timestamp:
            assert any(f'source   = "{label}_unix"' in t and f".{label}" in t for t in templates), label


# --- the application is wired to the gateway ------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_app_components_send_otlp_to_the_gateway(
    rendered: Callable[[str], list[Object]], env: str, component: str
) -> None:
    objects = rendered(env)
    deployment = find_object(objects, "Deployment", f"{RELEASE}-app-{component}")
    env_vars = {k: v["value"] for k, v in env_of(container(deployment, component)).items() if "value" in v}
    assert env_vars["OTEL_SERVICE_NAME"] == component
    assert env_vars["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{GATEWAY}:4318"
    assert env_vars["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    # The endpoint is the gateway Service's OTLP/HTTP port, which matches the protocol.
    service_ports = {p["port"]: p["name"] for p in find_object(objects, "Service", GATEWAY)["spec"]["ports"]}
    assert service_ports[4318] == "otlp-http"
    attributes = dict(item.split("=", 1) for item in env_vars["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes == {"deployment.environment": env, "kfm.env": env, "service.namespace": "keelson"}


@pytest.mark.parametrize("env", ENVS)
def test_gateway_batch_sets_both_sizes_with_the_bound_above_the_trigger(
    rendered: Callable[[str], list[Object]], env: str
) -> None:
    """otelcol.processor.batch defaults send_batch_max_size to 3000 and refuses one below the size."""
    batch = alloy_block(alloy_config(rendered(env), GATEWAY), "otelcol.processor.batch", "default")
    sizes = dict(re.findall(r"^\s*(send_batch(?:_max)?_size)\s*=\s*(\d+)$", batch, re.MULTILINE))
    assert sizes == {"send_batch_size": "8192", "send_batch_max_size": "8192"}


def test_a_batch_bound_below_the_batch_size_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    overlay = write(tmp_path / "batch.yaml", "alloy:\n  gateway:\n    batch:\n      sendBatchMaxSize: 4096\n")
    out = tmp_path / "out"
    done = invoke("template", "--env", "prod", "--values", str(overlay), "--out", str(out))
    one_error_line(done, "gateway.batch.sendBatchMaxSize is below gateway.batch.sendBatchSize")
    assert not out.exists()
