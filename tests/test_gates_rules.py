"""Every gate rule fires on a spoiled copy of the real render and stays quiet on the real one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from gates_helpers import Release, hits, real, rules_hit, without_waivers
from gates_spoilers import (
    BACKEND,
    BACKEND_KEY,
    FRONTEND,
    FRONTEND_KEY,
    add_capability,
    alloy_no_env,
    alloy_wrong_env,
    alpha_api,
    api_key_config,
    blocking_pdb,
    credentials_in_url,
    drop_pdb,
    escalation,
    flowcontrol_v1beta3,
    hex_token_in_values,
    host_network,
    host_path,
    host_port,
    keep_capabilities,
    latest_tag,
    max_unavailable,
    moving_tag,
    no_issuer,
    no_memory_limit,
    no_network_policies,
    no_readiness,
    no_seccomp,
    no_spread,
    no_tag,
    no_tls,
    one_replica,
    password_env,
    password_flag,
    password_in_config_file,
    password_in_values,
    pod_without_env_label,
    privileged,
    random_token_in_config,
    recreate,
    removed_api,
    root,
    secret_object,
    staging_issuer,
    tls_misses_a_host,
    token,
    token_annotation,
    token_by_default,
    uid_zero,
    unconfined,
    writable_root,
    wrong_env_label,
    zero_max_unavailable_pdb,
)

from keelson import gates

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_real_render_is_clean(env: str) -> None:
    report = real(env).run()
    assert report.findings == [], gates.table(report)
    for waived in report.waived:  # deliberate exceptions in values (gates.waive) name their reason
        assert waived.waiver.strip()
    # Every rule that applies to the environment ran (and none of the others).
    assert [item.id for item in report.rules] == [item.id for item in gates.rules() if env in item.envs]


@dataclass(frozen=True)
class Case:
    rule: str
    env: str
    spoil: Callable[[Release], None]
    subject: str  # Kind/namespace/name of the finding
    severity: str = "error"
    says: str = ""  # a phrase the message must contain


CASES = [
    Case("KEEL001", "prod", latest_tag, BACKEND_KEY, says='image tag "latest" is not pinned'),
    Case("KEEL001", "staging", no_tag, FRONTEND_KEY, says='pulls "latest"'),
    Case("KEEL002", "prod", moving_tag, BACKEND_KEY, says='"main" is not a semantic version'),
    Case("KEEL002", "staging", moving_tag, BACKEND_KEY, severity="warning", says='"main" is not a semantic'),
    Case("KEEL010", "prod", one_replica, BACKEND_KEY, says="runs 1 replica"),
    Case("KEEL011", "prod", max_unavailable, FRONTEND_KEY, says="maxUnavailable is 1"),
    Case("KEEL011", "prod", recreate, BACKEND_KEY, says="Recreate"),
    Case("KEEL012", "prod", drop_pdb, BACKEND_KEY, says="no PodDisruptionBudget"),
    Case(
        "KEEL013",
        "prod",
        blocking_pdb,
        f"PodDisruptionBudget/keelson/{FRONTEND}",
        says="blocks every eviction",
    ),
    Case(
        "KEEL013",
        "prod",
        zero_max_unavailable_pdb,
        f"PodDisruptionBudget/keelson/{BACKEND}",
        says="lets no pod",
    ),
    Case("KEEL014", "prod", no_spread, FRONTEND_KEY, says="no pod anti-affinity"),
    Case("KEEL015", "dev", no_memory_limit, BACKEND_KEY, says="limits.memory"),
    Case("KEEL016", "staging", no_readiness, FRONTEND_KEY, says="no readinessProbe"),
    Case("KEEL020", "dev", root, BACKEND_KEY, says="runAsNonRoot"),
    Case("KEEL020", "prod", uid_zero, BACKEND_KEY, says="runAsUser is 0"),
    Case("KEEL021", "prod", escalation, BACKEND_KEY, says="allowPrivilegeEscalation"),
    Case("KEEL022", "prod", keep_capabilities, BACKEND_KEY, says="does not include ALL"),
    Case("KEEL022", "prod", add_capability, BACKEND_KEY, says="SYS_ADMIN"),
    Case("KEEL023", "prod", no_seccomp, BACKEND_KEY, says="is not set"),
    Case("KEEL023", "prod", unconfined, FRONTEND_KEY, says="Unconfined"),
    Case("KEEL024", "prod", writable_root, BACKEND_KEY, says="readOnlyRootFilesystem"),
    Case("KEEL025", "prod", privileged, BACKEND_KEY, says="privileged is true"),
    Case("KEEL026", "prod", host_path, BACKEND_KEY, says="/var/log"),
    Case("KEEL027", "prod", host_network, BACKEND_KEY, says="hostNetwork"),
    Case("KEEL027", "prod", host_port, FRONTEND_KEY, says="host port 8080"),
    Case("KEEL028", "prod", token, BACKEND_KEY, says=f'ServiceAccount "{BACKEND}"'),
    Case("KEEL028", "dev", token_by_default, FRONTEND_KEY),
    Case("KEEL030", "prod", no_network_policies, BACKEND_KEY, says="no NetworkPolicy"),
    Case("KEEL040", "prod", password_env, BACKEND_KEY, says='"DB_PASSWORD" holds a literal'),
    Case("KEEL040", "prod", api_key_config, f"ConfigMap/keelson/{BACKEND}", says="PAYMENT_API_KEY"),
    Case(
        "KEEL040",
        "prod",
        password_in_config_file,
        f"ConfigMap/keelson/{FRONTEND}",
        says='data["server.yaml"].server.admin.password',
    ),
    Case("KEEL040", "prod", token_annotation, BACKEND_KEY, says="example.com/api-token"),
    Case("KEEL040", "dev", password_in_values, "Values", says="app.components.backend.config.SMTP_PASSWORD"),
    Case(
        "KEEL040", "prod", credentials_in_url, f"ConfigMap/keelson/{BACKEND}", says="URL carries a password"
    ),
    Case("KEEL040", "prod", password_flag, BACKEND_KEY, says="args[1]"),
    Case(
        "KEEL041", "prod", random_token_in_config, f"ConfigMap/keelson/{BACKEND}", says="FEATURE_FLAGS_KEY_ID"
    ),
    Case("KEEL041", "staging", hex_token_in_values, "Values", says="SENTRY_DSN_ID"),
    Case("KEEL042", "dev", secret_object, "Secret/keelson/db", says="carries data (password)"),
    Case("KEEL050", "prod", no_tls, "Ingress/keelson/keelson-app", says='"api.example.com" has no TLS'),
    Case("KEEL050", "prod", tls_misses_a_host, "Ingress/keelson/keelson-app", says='"app.example.com"'),
    Case(
        "KEEL051",
        "prod",
        staging_issuer,
        "Ingress/keelson/keelson-app",
        says='not the prod issuer "letsencrypt-prod"',
    ),
    Case(
        "KEEL051", "prod", no_issuer, "Ingress/keelson/keelson-app", says="no cert-manager.io/cluster-issuer"
    ),
    Case(
        "KEEL060",
        "prod",
        wrong_env_label,
        f"ConfigMap/keelson/{BACKEND}",
        says="'staging' (want \"production\")",
    ),
    Case("KEEL060", "dev", pod_without_env_label, FRONTEND_KEY, says="pod template label"),
    Case("KEEL061", "prod", alloy_wrong_env, "ConfigMap/keelson/keelson-alloy-agent", says='env = "staging"'),
    Case(
        "KEEL061",
        "prod",
        alloy_no_env,
        "ConfigMap/keelson/keelson-alloy-agent",
        says='never sets env = "prod"',
    ),
    Case(
        "KEEL070",
        "prod",
        removed_api,
        f"PodDisruptionBudget/keelson/{BACKEND}",
        says="removed in Kubernetes 1.25",
    ),
    Case("KEEL070", "dev", flowcontrol_v1beta3, "FlowSchema/keelson", says="removed in Kubernetes 1.32"),
    Case("KEEL070", "prod", alpha_api, f"Service/keelson/{BACKEND}", says="alpha API"),
]


def _id(case: Any) -> str:
    return f"{case.rule}-{case.env}-{case.spoil.__name__}" if isinstance(case, Case) else str(case)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_rule_fires_on_spoiled_render(case: Case) -> None:
    release = without_waivers(real(case.env))

    def matching_in(report: gates.GateReport) -> list[gates.GateFinding]:
        return [f for f in hits(report, case.rule) if f.object == case.subject and case.says in f.message]

    assert matching_in(release.run()) == []
    case.spoil(release)
    found = hits(release.run(), case.rule)
    assert found, f"{case.rule} did not fire on {case.spoil.__name__}"
    assert case.subject in {finding.object for finding in found}
    matching = matching_in(release.run())
    assert matching, [finding.message for finding in found]
    finding = matching[0]
    assert finding.severity == case.severity
    assert finding.remediation == gates.get_rule(case.rule).remediation
    # One clear line for the user: rule id, object, what is wrong.
    line = finding.line(case.env)
    assert "\n" not in line
    assert line.startswith(f"gates {case.env}: {case.rule} {finding.subject.display}: ")


def test_every_rule_has_a_spoil_case() -> None:
    from test_gates_doors import DOOR_CASES  # noqa: PLC0415 (it imports Case from here)

    covered = {case.rule for case in [*CASES, *DOOR_CASES]}
    assert {item.id for item in gates.rules()} == covered  # KEEL000 too: a glob waiver of a door rule


def test_secrets_never_echo_the_value() -> None:
    release = real("prod")
    for spoil in (
        password_env,
        api_key_config,
        password_in_config_file,
        credentials_in_url,
        random_token_in_config,
        password_flag,
    ):
        spoil(release)
    report = release.run()
    text = gates.table(report) + repr(gates.to_json(report)) + repr(gates.to_sarif(report))
    for value in (
        "hunter2hunter2",
        "pk-not-a-reference",
        "s3cret-value",
        "p4ssw0rd",
        "q8Zr2LmX9vTb4NcW7pKd1sYe",
    ):
        assert value not in text


# --- rules that must stay quiet on look-alikes ----------------------------------------------------


def test_references_are_not_secrets() -> None:
    release = real("prod")
    release.container(BACKEND)["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "backend-db", "key": "password"}}},
        {"name": "API_TOKEN_FILE", "value": "/var/run/secrets/api/token"},
        {"name": "S3_SECRET_KEY", "value": "${S3_SECRET_KEY}"},
        {"name": "TOKEN_TTL_SECONDS", "value": "3600"},
    ]
    release.values["loki"] = {
        "storage": {"s3": {"existingSecret": "loki-s3", "secretAccessKeyKey": "AWS_SECRET"}},
        "tls": {"secretName": "loki-tls"},
    }
    release.get("ConfigMap", BACKEND)["data"]["loki.yaml"] = (
        "common:\n  storage:\n    s3:\n      secret_access_key: ${AWS_SECRET_ACCESS_KEY}\n"
    )
    release.get("ConfigMap", FRONTEND)["data"]["config.alloy"] = (
        'basic_auth {\n  username = "keelson"\n  password = sys.env("GRAFANA_CLOUD_TOKEN")\n}\n'
    )
    # Long identifiers, URLs, paths and checksums are not secrets either.
    release.get("ConfigMap", BACKEND)["data"]["METRIC"] = "http_server_requests_seconds_bucket"
    release.get("ConfigMap", BACKEND)["data"]["SCHEMA"] = "LokiV13SchemaConfigTsdbIndex24h"
    release.get("ConfigMap", BACKEND)["data"]["IMAGE"] = (
        "docker.io/grafana/loki@sha256:" + "0123456789abcdef" * 4
    )
    report = release.run()
    assert report.findings == [], gates.table(report)


def test_jobs_and_init_containers_need_no_probes() -> None:
    release = real("prod")
    pod = release.pod(BACKEND)
    init = {**pod["containers"][0], "name": "migrate"}
    del init["livenessProbe"], init["readinessProbe"]
    pod["initContainers"] = [init]
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {**release.get("Deployment", BACKEND)["metadata"], "name": "migrate"},
        "spec": {
            "template": {
                "metadata": pod_meta(release),
                "spec": {**pod, "restartPolicy": "Never", "containers": [init]},
            }
        },
    }
    release.objects.append(job)
    assert "KEEL016" not in rules_hit(release.run())


def pod_meta(release: Release) -> dict[str, Any]:
    meta: dict[str, Any] = release.get("Deployment", BACKEND)["spec"]["template"]["metadata"]
    return meta


def test_a_pod_that_uses_the_api_may_mount_its_token() -> None:
    release = real("prod")
    token(release)
    release.objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {
                "name": "backend-reads-config",
                "namespace": "keelson",
                "labels": {"app.kubernetes.io/environment": "production"},
            },
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-config"},
            "subjects": [{"kind": "ServiceAccount", "name": BACKEND, "namespace": "keelson"}],
        }
    )
    assert "KEEL028" not in rules_hit(release.run())


def test_prod_only_rules_do_not_run_in_dev() -> None:
    release = real("dev")
    one_replica(release)
    no_spread(release)
    staging_issuer(release)
    latest_tag(release)
    assert rules_hit(release.run()) == set()


def test_issuer_is_configurable_in_values() -> None:
    release = real("prod")
    release.values["gates"] = {"clusterIssuers": {"prod": "corp-ca"}}
    found = [
        finding
        for finding in hits(release.run(), "KEEL051")
        if finding.object == "Ingress/keelson/keelson-app"
    ]
    assert [finding.message for finding in found] == [
        'cert-manager.io/cluster-issuer is "letsencrypt-prod", not the prod issuer "corp-ca"'
    ]


def test_empty_network_policy_selector_selects_every_pod() -> None:
    release = real("prod")
    no_network_policies(release)
    release.objects.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "deny",
                "namespace": "keelson",
                "labels": {"app.kubernetes.io/environment": "production"},
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
    )
    assert "KEEL030" not in rules_hit(release.run())
    # A policy in another namespace does not count.
    release.objects[-1]["metadata"]["namespace"] = "other"
    assert "KEEL030" in rules_hit(release.run())


def test_pdb_and_spread_follow_the_autoscaler_floor() -> None:
    release = real("prod")
    deployment = release.get("Deployment", BACKEND)
    del deployment["spec"]["replicas"]
    release.objects.append(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": BACKEND,
                "namespace": "keelson",
                "labels": {"app.kubernetes.io/environment": "production"},
            },
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": BACKEND},
                "minReplicas": 1,
                "maxReplicas": 4,
            },
        }
    )
    found = hits(release.run(), "KEEL010")
    assert [finding.object for finding in found] == [BACKEND_KEY]
    assert "KEEL013" in rules_hit(release.run())  # minAvailable 1 with a floor of 1 replica
