"""Spoilers: each takes a private copy of a real render (gates_helpers.Release) and breaks one thing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gates_helpers import Release

BACKEND = "keelson-app-backend"
FRONTEND = "keelson-app-frontend"
BACKEND_KEY = f"Deployment/keelson/{BACKEND}"
FRONTEND_KEY = f"Deployment/keelson/{FRONTEND}"


def latest_tag(r: Release) -> None:
    r.container(BACKEND)["image"] = "docker.io/keelson/backend:latest"


def no_tag(r: Release) -> None:
    r.container(FRONTEND)["image"] = "docker.io/keelson/frontend"


def moving_tag(r: Release) -> None:
    r.container(BACKEND)["image"] = "docker.io/keelson/backend:main"


def one_replica(r: Release) -> None:
    r.get("Deployment", BACKEND)["spec"]["replicas"] = 1


def max_unavailable(r: Release) -> None:
    r.get("Deployment", FRONTEND)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1


def recreate(r: Release) -> None:
    r.get("Deployment", BACKEND)["spec"]["strategy"] = {"type": "Recreate"}


def drop_pdb(r: Release) -> None:
    r.objects.remove(r.get("PodDisruptionBudget", BACKEND))


def blocking_pdb(r: Release) -> None:
    r.get("PodDisruptionBudget", FRONTEND)["spec"]["minAvailable"] = 2  # the frontend runs 2


def zero_max_unavailable_pdb(r: Release) -> None:
    spec = r.get("PodDisruptionBudget", BACKEND)["spec"]
    del spec["minAvailable"]
    spec["maxUnavailable"] = "0%"


def no_spread(r: Release) -> None:
    pod = r.pod(FRONTEND)
    pod.pop("affinity", None)
    pod.pop("topologySpreadConstraints", None)


def no_memory_limit(r: Release) -> None:
    del r.container(BACKEND)["resources"]["limits"]["memory"]


def no_readiness(r: Release) -> None:
    del r.container(FRONTEND)["readinessProbe"]


def root(r: Release) -> None:
    r.container(BACKEND)["securityContext"]["runAsNonRoot"] = False


def uid_zero(r: Release) -> None:
    r.container(BACKEND)["securityContext"]["runAsUser"] = 0


def escalation(r: Release) -> None:
    del r.container(BACKEND)["securityContext"]["allowPrivilegeEscalation"]


def keep_capabilities(r: Release) -> None:
    r.container(BACKEND)["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}


def add_capability(r: Release) -> None:
    r.container(BACKEND)["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]


def no_seccomp(r: Release) -> None:
    del r.pod(BACKEND)["securityContext"]["seccompProfile"]
    del r.container(BACKEND)["securityContext"]["seccompProfile"]


def unconfined(r: Release) -> None:
    r.container(FRONTEND)["securityContext"]["seccompProfile"] = {"type": "Unconfined"}


def writable_root(r: Release) -> None:
    r.container(BACKEND)["securityContext"]["readOnlyRootFilesystem"] = False


def privileged(r: Release) -> None:
    r.container(BACKEND)["securityContext"]["privileged"] = True


def host_path(r: Release) -> None:
    r.pod(BACKEND)["volumes"].append({"name": "logs", "hostPath": {"path": "/var/log"}})


def host_network(r: Release) -> None:
    r.pod(BACKEND)["hostNetwork"] = True


def host_port(r: Release) -> None:
    r.container(FRONTEND)["ports"][0]["hostPort"] = 8080


def token(r: Release) -> None:
    r.pod(BACKEND)["automountServiceAccountToken"] = True


def token_by_default(r: Release) -> None:
    del r.pod(FRONTEND)["automountServiceAccountToken"]
    del r.get("ServiceAccount", FRONTEND)["automountServiceAccountToken"]


def no_network_policies(r: Release) -> None:
    r.objects[:] = [obj for obj in r.objects if obj["kind"] != "NetworkPolicy"]


def password_env(r: Release) -> None:
    r.container(BACKEND)["env"] = [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}]


def api_key_config(r: Release) -> None:
    r.get("ConfigMap", BACKEND)["data"]["PAYMENT_API_KEY"] = "pk-not-a-reference"


def password_in_config_file(r: Release) -> None:
    r.get("ConfigMap", FRONTEND)["data"]["server.yaml"] = (
        "server:\n  port: 8080\n  admin:\n    password: s3cret-value\n"
    )


def token_annotation(r: Release) -> None:
    r.get("Deployment", BACKEND)["metadata"]["annotations"]["example.com/api-token"] = "abc123def456"


def password_in_values(r: Release) -> None:
    r.values["app"]["components"]["backend"]["config"]["SMTP_PASSWORD"] = "correct-horse-battery"


def credentials_in_url(r: Release) -> None:
    r.get("ConfigMap", BACKEND)["data"]["DATABASE_URL"] = "postgres://app:p4ssw0rd@db:5432/app"


def password_flag(r: Release) -> None:
    r.container(BACKEND)["args"] = ["--port=8000", "--db-password=hunter2hunter2"]


def random_token_in_config(r: Release) -> None:
    r.get("ConfigMap", BACKEND)["data"]["FEATURE_FLAGS_KEY_ID"] = "q8Zr2LmX9vTb4NcW7pKd1sYe"


def hex_token_in_values(r: Release) -> None:
    r.values["app"]["components"]["frontend"]["config"]["SENTRY_DSN_ID"] = "9f86d081884c7d659a2feaa0c55ad015"


def secret_object(r: Release) -> None:
    r.objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "keelson"},
            "data": {"password": "aHVudGVyMg=="},
        }
    )


def no_tls(r: Release) -> None:
    del r.get("Ingress", "keelson-app")["spec"]["tls"]


def tls_misses_a_host(r: Release) -> None:
    r.get("Ingress", "keelson-app")["spec"]["tls"][0]["hosts"] = ["api.example.com"]


def staging_issuer(r: Release) -> None:
    r.get("Ingress", "keelson-app")["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] = (
        "letsencrypt-staging"
    )


def no_issuer(r: Release) -> None:
    del r.get("Ingress", "keelson-app")["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]


def wrong_env_label(r: Release) -> None:
    r.get("ConfigMap", BACKEND)["metadata"]["labels"]["app.kubernetes.io/environment"] = "staging"


def pod_without_env_label(r: Release) -> None:
    del r.get("Deployment", FRONTEND)["spec"]["template"]["metadata"]["labels"][
        "app.kubernetes.io/environment"
    ]


def _alloy(r: Release, stamp: str) -> None:
    """A collector like charts/alloy renders one: a DaemonSet and its ConfigMap (labels from the app)."""
    labels = {
        **r.get("Deployment", BACKEND)["metadata"]["labels"],
        "helm.sh/chart": "alloy-0.1.0",
        "app.kubernetes.io/name": "alloy",
        "app.kubernetes.io/component": "agent",
    }
    r.objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "keelson-alloy-agent", "namespace": "keelson", "labels": labels},
            "data": {
                "config.alloy": f'prometheus.remote_write "mimir" {{\n  external_labels = '
                f'{{ {stamp}, cluster = "prod" }}\n}}\n'
            },
        }
    )
    daemon = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "keelson-alloy-agent", "namespace": "keelson", "labels": labels},
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": r.pod(BACKEND) | {"automountServiceAccountToken": False},
            }
        },
    }
    r.objects.append(daemon)


def _alloy_configs(r: Release) -> list[dict[str, Any]]:
    """The Alloy ConfigMaps of the render; a stand-in collector when the umbrella has none yet."""
    found = [
        obj
        for obj in r.objects
        if obj["kind"] == "ConfigMap" and obj["metadata"]["labels"].get("app.kubernetes.io/name") == "alloy"
    ]
    if not found:
        _alloy(r, f'env = "{r.env}"')
        return _alloy_configs(r)
    return found


def _restamp(r: Release, replacement: str) -> None:
    for config in _alloy_configs(r):
        for key, text in config["data"].items():
            config["data"][key] = re.sub(rf'\benv(\s*)=(\s*)"{r.env}"', replacement, text)


def alloy_wrong_env(r: Release) -> None:
    _restamp(r, 'env = "staging"')


def alloy_no_env(r: Release) -> None:
    _restamp(r, 'region = "eu"')


def removed_api(r: Release) -> None:
    r.get("PodDisruptionBudget", BACKEND)["apiVersion"] = "policy/v1beta1"


def flowcontrol_v1beta3(r: Release) -> None:
    r.objects.append(
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3",
            "kind": "FlowSchema",
            "metadata": {"name": "keelson", "labels": {"app.kubernetes.io/environment": "production"}},
        }
    )


def alpha_api(r: Release) -> None:
    r.get("Service", BACKEND)["apiVersion"] = "v1alpha1"
