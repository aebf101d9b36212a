"""Issue 14, item 5, field by field: the agent reads the Prometheus Operator's objects.

Where the cluster serves monitoring.coreos.com/v1 (or ``global.capabilities.serviceMonitor`` is
true) the agent runs prometheus.operator.servicemonitors, .podmonitors and .probes into the same
contract relabel and remote write as its other metrics, forms an Alloy cluster (for the Probes and
the rules), and with ``rules.enabled`` loads PrometheusRules into Mimir's ruler through
mimir.rules.kubernetes. Its RBAC grows by exactly what those components read. The no-double-scrape
rule is checked on the render itself: every pod a rendered ServiceMonitor reaches is left out of the
prometheus.io/* annotation job, and every other annotated pod stays in it.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import programs_support as programs
import pytest
from stack_support import alloy_block, alloy_blocks, inner_blocks, label_selector_matches
from support import REPO, find_object

from keelson import values
from keelson.errors import RenderError
from keelson.project import OPTIONAL_APIS, project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Mapping

    from keelson.models import Object
    from keelson.project import Project

ENVS = ("dev", "staging", "prod")
AGENT = "keelson-alloy-agent"
AGENT_RBAC = f"keelson:{AGENT}"
CLUSTER_SERVICE = f"{AGENT}-cluster"
CONTRACT_RECEIVER = "[prometheus.relabel.contract.receiver]"
OPERATOR_COMPONENTS = (
    ("prometheus.operator.servicemonitors", "services"),
    ("prometheus.operator.podmonitors", "pods"),
    ("prometheus.operator.probes", "probes"),
)
READ = ["get", "list", "watch"]
# Rules through the ruler API need Mimir's ruler on object storage, which refuses rule ConfigMaps.
MIMIR_OBJECT_RULES = "mimir: {ruler: {storage: objectStorage, ruleConfigMaps: []}}"
RULES_ON = f"alloy: {{agent: {{prometheusOperator: {{rules: {{enabled: true}}}}}}}}\n{MIMIR_OBJECT_RULES}"


@cache
def _render(env: str, overlay: str = "", api: bool = True) -> list[Object]:
    """values/<env>.yaml plus an overlay, rendered with or without the optional APIs."""
    prj = project(REPO)
    with tempfile.TemporaryDirectory() as scratch:
        overlays = []
        if overlay:
            file = Path(scratch) / "overlay.yaml"
            file.write_text(overlay, encoding="utf-8")
            overlays.append(file)
        merged = values.load(env, overlays, prj)
    return list(render(merged.user, prj=prj, api_versions=OPTIONAL_APIS if api else ()))


def _config(objects: list[Object]) -> str:
    text: str = find_object(objects, "ConfigMap", AGENT)["data"]["config.alloy"]
    return text


def _attributes(body: str) -> dict[str, str]:
    """The attributes written directly in a block body (not in its inner blocks): name -> raw value."""
    found: dict[str, str] = {}
    depth = 0
    for line in body.splitlines():
        code = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
        if depth == 0:
            match = re.match(r"\s*([a-z_]+)\s*=\s*(.+?)\s*$", line)
            if match:
                found[match.group(1)] = match.group(2).rstrip(",")
        depth += code.count("{") - code.count("}")
    return found


def _args(objects: list[Object]) -> list[str]:
    args: list[str] = find_object(objects, "DaemonSet", AGENT)["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    return args


# alloy.config.podLabelRules: the labels the stack's alerts select a pod's series on.
POD_LABEL_RULES = [
    {"source_labels": '["__meta_kubernetes_namespace"]', "target_label": '"namespace"'},
    {"source_labels": '["__meta_kubernetes_pod_name"]', "target_label": '"pod"'},
    {
        "source_labels": (
            '["__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_label_app"]'
        ),
        "separator": '";"',
        "regex": '"^;*([^;]+)(;.*)?$"',
        "target_label": '"app"',
    },
    {
        "source_labels": '["__meta_kubernetes_pod_label_app_kubernetes_io_component"]',
        "target_label": '"component"',
    },
]


# --- the components --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_with_the_api_the_agent_reads_monitors_into_the_contract_and_mimir(env: str) -> None:
    config = _config(_render(env))
    blocks = alloy_blocks(config)
    services = alloy_block(config, *OPERATOR_COMPONENTS[0])
    assert _attributes(services) == {
        "forward_to": CONTRACT_RECEIVER,
        "namespaces": '["keelson"]',  # agent.metrics.namespaces: the release namespace
        "kubernetes_role": '"endpointslice"',
    }
    pods = alloy_block(config, *OPERATOR_COMPONENTS[1])
    probes = alloy_block(config, *OPERATOR_COMPONENTS[2])
    assert (
        _attributes(pods)
        == _attributes(probes)
        == {"forward_to": CONTRACT_RECEIVER, "namespaces": '["keelson"]'}
    )
    # ServiceMonitor and PodMonitor targets: only those on this agent's node (each pod once).
    node_local = {
        "source_labels": '["__meta_kubernetes_pod_node_name"]',
        "regex": 'sys.env("NODE_NAME")',
        "action": '"keep"',
    }
    # Then the annotation job's pod labels, so the stack's alerts find these series too.
    pod_metrics = inner_blocks(alloy_block(config, "discovery.relabel", "pod_metrics"), "rule")
    pod_labels = [_attributes(rule) for rule in pod_metrics[-len(POD_LABEL_RULES) :]]
    assert pod_labels == POD_LABEL_RULES
    for body in (services, pods):
        assert [_attributes(rule) for rule in inner_blocks(body, "rule")] == [node_local, *POD_LABEL_RULES]
        assert inner_blocks(body, "clustering") == []
    # A Probe's target has no node: the agents' cluster shares them out.
    assert inner_blocks(probes, "rule") == []
    assert [_attributes(c) for c in inner_blocks(probes, "clustering")] == [{"enabled": "true"}]
    for body in (services, pods, probes):
        assert [_attributes(s) for s in inner_blocks(body, "scrape")] == [
            {"default_scrape_interval": '"60s"', "default_scrape_timeout": '"10s"'}
        ]
    # The same remote write as the annotation and kubelet jobs.
    relabel = alloy_block(config, "prometheus.relabel", "contract")
    assert _attributes(relabel)["forward_to"] == "[prometheus.remote_write.mimir.receiver]"
    assert ("mimir.rules.kubernetes", "rules") not in blocks  # rules.enabled is off by default
    objects = _render(env)
    assert _args(objects)[-2:] == [
        "--cluster.enabled=true",
        f"--cluster.join-addresses={CLUSTER_SERVICE}.keelson.svc.cluster.local:12345",
    ]
    service = find_object(objects, "Service", CLUSTER_SERVICE)["spec"]
    assert service["clusterIP"] == "None"
    assert service["publishNotReadyAddresses"] is True
    assert service["selector"] == find_object(objects, "DaemonSet", AGENT)["spec"]["selector"]["matchLabels"]
    assert service["ports"] == [
        {"name": "http-metrics", "port": 12345, "targetPort": "http-metrics", "protocol": "TCP"}
    ]


@pytest.mark.parametrize(
    ("overlay", "api"),
    [
        ("", False),  # auto, and the cluster does not serve the API
        ("alloy: {agent: {prometheusOperator: {enabled: false}}}", True),
    ],
    ids=["auto-without-api", "forced-off"],
)
def test_without_the_api_or_forced_off_nothing_of_it_renders(overlay: str, api: bool) -> None:
    objects = _render("prod", overlay, api)
    blocks = alloy_blocks(_config(objects))
    assert not [b for b in blocks if b[0].startswith(("prometheus.operator.", "mimir.rules."))]
    assert not [a for a in _args(objects) if a.startswith("--cluster.")]
    assert not [o for o in objects if o["metadata"]["name"] == CLUSTER_SERVICE]
    assert not [o for o in _alloy(objects) if o["kind"] in {"Role", "RoleBinding"}]
    assert find_object(objects, "ClusterRole", AGENT_RBAC)["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "pods/log", "nodes", "nodes/metrics"], "verbs": READ}
    ]
    pod_metrics = alloy_block(_config(objects), "discovery.relabel", "pod_metrics")
    assert "app_kubernetes_io_instance" not in pod_metrics  # annotations scrape every annotated pod


def test_forced_on_renders_it_without_the_api() -> None:
    # The release's one switch for the operator's API, as Argo CD users set it.
    objects = _render("prod", "global: {capabilities: {serviceMonitor: true}}", api=False)
    blocks = alloy_blocks(_config(objects))
    assert all(component in blocks for component in OPERATOR_COMPONENTS)
    assert "--cluster.enabled=true" in _args(objects)


def test_the_capability_false_turns_it_off_with_the_api() -> None:
    objects = _render("prod", "global: {capabilities: {serviceMonitor: false}}", api=True)
    assert not [b for b in alloy_blocks(_config(objects)) if b[0].startswith("prometheus.operator.")]
    assert not [a for a in _args(objects) if a.startswith("--cluster.")]


def test_rules_follow_the_prometheusrule_capability() -> None:
    overlay = f"{RULES_ON}\n"
    served = _render(
        "prod", overlay + "global: {capabilities: {serviceMonitor: true, prometheusRule: true}}\n", api=False
    )
    assert "mimir.rules.kubernetes" in {b[0] for b in alloy_blocks(_config(served))}
    # auto, and the cluster serves no PrometheusRules: the monitors, but no rules to load.
    unserved = _render("prod", overlay + "global: {capabilities: {serviceMonitor: true}}\n", api=False)
    blocks = alloy_blocks(_config(unserved))
    assert "mimir.rules.kubernetes" not in {b[0] for b in blocks}
    assert "prometheus.operator.servicemonitors" in {b[0] for b in blocks}
    # false is refused: Mimir's ruler, on the object store without ConfigMaps, would evaluate nothing.
    with pytest.raises(RenderError, match=r"global\.capabilities\.prometheusRule: must be auto or true"):
        _render("prod", overlay + "global: {capabilities: {prometheusRule: false}}\n", api=True)


def test_the_switch_is_a_boolean() -> None:
    with pytest.raises(RenderError, match=r"prometheusOperator/enabled.*"):
        _render("dev", "alloy: {agent: {prometheusOperator: {enabled: auto}}}")


@pytest.mark.parametrize("env", ENVS)
def test_rules_go_to_mimirs_ruler_for_the_stacks_tenant(env: str) -> None:
    config = _config(_render(env, RULES_ON))
    rules = alloy_block(config, "mimir.rules.kubernetes", "rules")
    assert _attributes(rules) == {
        "address": '"http://keelson-mimir:8080"',  # the monolithic Mimir's Service: its ruler API
        "sync_interval": '"5m"',
        "mimir_namespace_prefix": '"keelson"',
    }  # no tenant_id: endpoints.tenantId is empty, so Mimir's no-auth tenant (anonymous) takes them
    [selector] = inner_blocks(rules, "rule_namespace_selector")
    assert _attributes(selector) == {"match_labels": "{}"}
    assert [_attributes(e) for e in inner_blocks(selector, "match_expression")] == [
        {"key": '"kubernetes.io/metadata.name"', "operator": '"In"', "values": '["keelson"]'}
    ]


def test_rules_carry_the_tenant_when_the_stack_sets_one() -> None:
    overlay = (
        "alloy: {endpoints: {tenantId: team-a}, agent: {prometheusOperator: {rules: {enabled: true}}}}\n"
        + MIMIR_OBJECT_RULES
    )
    rules = alloy_block(_config(_render("dev", overlay)), "mimir.rules.kubernetes", "rules")
    assert _attributes(rules)["tenant_id"] == '"team-a"'
    endpoint = inner_blocks(
        alloy_block(_config(_render("dev", overlay)), "prometheus.remote_write", "mimir"), "endpoint"
    )
    assert '"X-Scope-OrgID" = "team-a"' in endpoint[0]  # the same tenant as the series


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("overlay", ["", RULES_ON], ids=["monitors", "monitors-and-rules"])
def test_alloy_accepts_the_config_with_the_operator_on(
    repo: Project, tmp_path: Path, env: str, overlay: str
) -> None:
    verdict = programs.check_alloy(repo, _render(env, overlay), "alloy-agent", tmp_path)
    assert verdict.ok, str(verdict)


# --- RBAC ------------------------------------------------------------------------------------------

OPERATOR_RULES = [
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": READ},
    {
        "apiGroups": ["monitoring.coreos.com"],
        "resources": ["servicemonitors", "podmonitors", "probes"],
        "verbs": READ,
    },
]


def _alloy(objects: list[Object]) -> list[Object]:
    """The alloy chart's objects (kube-state-metrics, in staging and prod, has a RoleBinding too)."""
    return [o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/name") == "alloy"]


def _roles(objects: list[Object]) -> dict[str, list[dict[str, Any]]]:
    objects = _alloy(objects)
    found: dict[str, list[dict[str, Any]]] = {}
    for role in (o for o in objects if o["kind"] == "Role"):
        assert role["metadata"]["name"] == f"{AGENT}-keelson"
        found[role["metadata"]["namespace"]] = role["rules"]
    bindings = {o["metadata"]["namespace"]: o for o in objects if o["kind"] == "RoleBinding"}
    assert sorted(bindings) == sorted(found)
    for binding in bindings.values():
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": f"{AGENT}-keelson",
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": AGENT, "namespace": "keelson"}]
    return found


def test_rbac_grows_by_what_the_monitors_read_in_their_namespace() -> None:
    objects = _render("prod")
    # Pods are cluster-wide already (every namespace's logs), so the Role adds only the rest.
    assert _roles(objects) == {
        "keelson": [{"apiGroups": [""], "resources": ["services"], "verbs": READ}, *OPERATOR_RULES]
    }
    assert find_object(objects, "ClusterRole", AGENT_RBAC)["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "pods/log", "nodes", "nodes/metrics"], "verbs": READ}
    ]


def test_rbac_with_listed_namespaces_keeps_each_grant_where_it_is_used() -> None:
    overlay = "alloy: {agent: {logs: {namespaces: [keelson, logs]}, metrics: {namespaces: [keelson, apps]}}}"
    objects = _render("prod", overlay)
    assert _roles(objects) == {
        "keelson": [
            {"apiGroups": [""], "resources": ["pods", "pods/log", "services"], "verbs": READ},
            *OPERATOR_RULES,
        ],
        "logs": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": READ}],
        # The pod discovery watches the metrics namespaces too, with their pods and logs.
        "apps": [
            {"apiGroups": [""], "resources": ["pods", "pods/log", "services"], "verbs": READ},
            *OPERATOR_RULES,
        ],
    }
    assert find_object(objects, "ClusterRole", AGENT_RBAC)["rules"] == [
        {"apiGroups": [""], "resources": ["nodes", "nodes/metrics"], "verbs": READ}
    ]
    services = alloy_block(_config(objects), *OPERATOR_COMPONENTS[0])
    assert _attributes(services)["namespaces"] == '["keelson", "apps"]'


def test_rules_read_prometheusrules_and_namespaces_cluster_wide() -> None:
    # mimir.rules.kubernetes takes no namespace list: its informers watch the whole cluster.
    assert find_object(_render("prod", RULES_ON), "ClusterRole", AGENT_RBAC)["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "pods/log", "nodes", "nodes/metrics"], "verbs": READ},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
        {"apiGroups": ["monitoring.coreos.com"], "resources": ["prometheusrules"], "verbs": READ},
    ]


def test_the_agents_may_gossip_with_each_other() -> None:
    policy = find_object(_render("prod"), "NetworkPolicy", AGENT)["spec"]
    peers = {
        "podSelector": {
            "matchLabels": find_object(_render("prod"), "DaemonSet", AGENT)["spec"]["selector"]["matchLabels"]
        }
    }
    assert {"to": [peers], "ports": [{"port": 12345, "protocol": "TCP"}]} in policy["egress"]


# --- nothing scraped twice -------------------------------------------------------------------------


def _relabel_keeps(rules: list[dict[str, str]], meta: Mapping[str, str]) -> bool:
    """Prometheus relabelling's keep and drop on one target (the other actions filter nothing)."""
    for rule in rules:
        action = rule.get("action", '"replace"').strip('"')
        if action not in {"keep", "drop"}:
            continue
        sources = re.findall(r'"([^"]*)"', rule["source_labels"])
        separator = rule.get("separator", '";"').strip('"')
        value = separator.join(meta.get(label, "") for label in sources)
        regex = rule["regex"].strip('"').encode().decode("unicode_escape")
        matched = re.fullmatch(regex, value) is not None
        if matched != (action == "keep"):
            return False
    return True


def _pod_meta(namespace: str, template: Mapping[str, Any]) -> dict[str, str]:
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_container_init": "false",
    }
    for kind, items in (
        ("label", template["metadata"].get("labels", {})),
        ("annotation", template["metadata"].get("annotations", {})),
    ):
        for key, value in items.items():
            meta[f"__meta_kubernetes_pod_{kind}_{re.sub(r'[^a-zA-Z0-9_]', '_', key)}"] = str(value)
    return meta


def _scraped(objects: list[Object]) -> tuple[set[str], set[str], set[str]]:
    """Workloads whose pods are annotated, reached by a ServiceMonitor, and kept by the annotation job."""
    config = _config(objects)
    rules = [
        _attributes(r) for r in inner_blocks(alloy_block(config, "discovery.relabel", "pod_metrics"), "rule")
    ]
    watched = re.findall(
        r'"([^"]*)"', _attributes(alloy_block(config, *OPERATOR_COMPONENTS[0]))["namespaces"]
    )
    workloads = [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "DaemonSet"}]
    annotated, covered, kept = set(), set(), set()
    for workload in workloads:
        namespace, template = workload["metadata"]["namespace"], workload["spec"]["template"]
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        if template["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true":
            annotated.add(name)
            if _relabel_keeps(rules, _pod_meta(namespace, template)):
                kept.add(name)
        for monitor in (o for o in objects if o["kind"] == "ServiceMonitor"):
            if (
                namespace not in monitor["spec"]["namespaceSelector"]["matchNames"]
                or namespace not in watched
            ):
                continue
            ports = {e["port"] for e in monitor["spec"]["endpoints"]}
            for service in (
                o for o in objects if o["kind"] == "Service" and o["metadata"]["namespace"] == namespace
            ):
                if (
                    label_selector_matches(monitor["spec"]["selector"], service["metadata"].get("labels", {}))
                    and {p.get("name") for p in service["spec"]["ports"]} & ports
                    and label_selector_matches(
                        {"matchLabels": service["spec"].get("selector", {})}, template["metadata"]["labels"]
                    )
                ):
                    covered.add(name)
    return annotated, covered, kept


@pytest.mark.parametrize("env", ENVS)
def test_every_annotated_pod_is_scraped_once(env: str) -> None:
    annotated, covered, kept = _scraped(_render(env))
    assert covered, "Keelson's own ServiceMonitors reach its pods"
    assert not covered & kept, "a pod reached by a ServiceMonitor is also scraped by its annotations"
    assert annotated <= covered | kept, "an annotated pod is scraped by neither"
    # Alloy has no ServiceMonitor: its pods stay with their annotations.
    assert {f"DaemonSet/{AGENT}", "Deployment/keelson-alloy-gateway"} <= kept


def test_a_chart_whose_servicemonitor_is_off_must_leave_the_list() -> None:
    # Loki's ServiceMonitor off while the list still names loki: its pods would be scraped by
    # neither, so the validation refuses it.
    off = "loki: {serviceMonitor: {enabled: false}}"
    with pytest.raises(
        RenderError,
        match=r"alloy\.agent\.prometheusOperator\.serviceMonitorCharts: lists loki, whose metrics have no "
        r"ServiceMonitor \(loki\.serviceMonitor\.enabled false\)",
    ):
        _render("prod", off)
    # Without the operator's API the list is not read: the annotation job keeps every annotated pod.
    pod_metrics = alloy_block(_config(_render("prod", off, api=False)), "discovery.relabel", "pod_metrics")
    assert "app_kubernetes_io_instance" not in pod_metrics
    # Taking loki out of the list gives its pods back to the annotation job.
    charts = "[app, grafana, mimir, pyroscope, tempo]"
    annotated, covered, kept = _scraped(
        _render(
            "prod", f"{off}\nalloy: {{agent: {{prometheusOperator: {{serviceMonitorCharts: {charts}}}}}}}"
        )
    )
    assert "StatefulSet/keelson-loki" in kept - covered
    assert annotated <= covered | kept


# --- rules reach Mimir one way only ------------------------------------------------------------------


def _mimir_reads_the_rule_configmap(objects: list[Object]) -> bool:
    return "keelson-alert-rules" in json.dumps(find_object(objects, "StatefulSet", "keelson-mimir")["spec"])


@pytest.mark.parametrize("env", ENVS)
def test_keelsons_rules_reach_mimir_one_way_only(env: str) -> None:
    # Today (local rule store): the ruler reads the umbrella's rule ConfigMap; the agent loads nothing.
    default = _render(env)
    assert _mimir_reads_the_rule_configmap(default)
    assert ("mimir.rules.kubernetes", "rules") not in alloy_blocks(_config(default))
    # Rules on (object store): the ruler reads no ConfigMap, and the agent loads the PrometheusRule,
    # which sits in a namespace its selector takes.
    on = _render(env, RULES_ON)
    assert not _mimir_reads_the_rule_configmap(on)
    rule = find_object(on, "PrometheusRule", "keelson-alert-rules")
    selector = inner_blocks(
        alloy_block(_config(on), "mimir.rules.kubernetes", "rules"), "rule_namespace_selector"
    )
    [expression] = inner_blocks(selector[0], "match_expression")
    assert f'"{rule["metadata"]["namespace"]}"' in _attributes(expression)["values"]


# --- the stack's alerts see the operator's series --------------------------------------------------


def _relabel(rules: list[dict[str, str]], meta: Mapping[str, str]) -> dict[str, str]:
    """Prometheus relabelling's replace action (the default) on one target's labels."""
    labels = dict(meta)
    for rule in rules:
        if rule.get("action", '"replace"').strip('"') != "replace":
            continue
        sources = re.findall(r'"([^"]*)"', rule["source_labels"])
        value = rule.get("separator", '";"').strip('"').join(labels.get(label, "") for label in sources)
        match = re.fullmatch(rule.get("regex", '"(.*)"').strip('"'), value)
        if match:
            target = rule["target_label"].strip('"')
            labels[target] = match.expand(rule.get("replacement", '"$1"').strip('"').replace("$1", r"\1"))
    return {k: v for k, v in labels.items() if v and not k.startswith("__")}


MATCHER = r'\s*([a-z_]+)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"\s*'


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    parsed = re.fullmatch(MATCHER, matcher)
    assert parsed, matcher
    name, op, value = parsed.groups()
    actual = labels.get(name, "")
    return {
        "=": actual == value,
        "!=": actual != value,
        "=~": re.fullmatch(value, actual) is not None,
        "!~": re.fullmatch(value, actual) is None,
    }[op]


# Each alert of a chart with a ServiceMonitor, and the chart whose pod's series it reads.
OPERATOR_ALERTS = {
    "KubeScrapeTargetDown": "loki",
    **{
        f"{t}{a}": t.lower()
        for t in ("Loki", "Tempo", "Mimir")
        for a in ("RequestErrors", "RingMembersUnhealthy")
    },
    "LokiDiscardedSamples": "loki",
    "TempoDiscardedSpans": "tempo",
    "MimirDiscardedSamples": "mimir",
    "MimirRulerEvaluationFailures": "mimir",
    "MimirAlertmanagerNotificationsFailing": "mimir",
}
# The labels a scrape gives each series: the series' own (route, status_code...) come from the app.
TARGET_LABELS = {"job", "namespace", "pod", "app", "component", "service", "endpoint"}


def test_the_stacks_alerts_select_the_series_the_servicemonitors_scrape() -> None:
    objects = _render("prod")
    config = _config(objects)
    services = [_attributes(r) for r in inner_blocks(alloy_block(config, *OPERATOR_COMPONENTS[0]), "rule")]
    rules = {
        rule["alert"]: rule["expr"]
        for group in find_object(objects, "PrometheusRule", "keelson-alert-rules")["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert set(OPERATOR_ALERTS) <= set(rules)
    for alert, chart in OPERATOR_ALERTS.items():
        [workload] = [
            o
            for o in objects
            if o["kind"] in {"Deployment", "StatefulSet"}
            and o["metadata"]["labels"].get("app.kubernetes.io/name") == chart
        ]
        template = workload["spec"]["template"]
        meta = _pod_meta("keelson", template) | {
            "__meta_kubernetes_pod_name": f"{workload['metadata']['name']}-0"
        }
        # The operator's own relabelling names the job after the ServiceMonitor's Service.
        labels = _relabel(services, meta) | {"job": f"keelson-{chart}"}
        assert labels["app"] == chart
        assert labels["namespace"] == "keelson"
        assert labels["job"] != "kubernetes-pods"
        selectors = re.findall(r"\{([^{}]*)\}", rules[alert])
        assert selectors, alert
        for selector in selectors:
            found = re.finditer(MATCHER, selector)
            on_target = [m.group(0) for m in found if m.group(1) in TARGET_LABELS]
            assert on_target, f"{alert} selects on no target label: {selector}"
            assert all(_matches(m, labels) for m in on_target), f"{alert}: {selector} misses {labels}"
