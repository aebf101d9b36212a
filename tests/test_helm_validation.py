"""Issue 14 item 6: Helm-native validation. The rules that compare values (and the prod rules judged
from values alone) fail a plain `helm template charts/keelson -f values/<env>.yaml -f bad.yaml` with
one message per broken rule, all in one failure, each naming the value path as the user writes it in
the umbrella's values; `invoke check` says the same, finding by finding, in the file that set the key.

helm's output is parsed here on its own (not through keelson.helmvalidation), so a change of the
line's shape on either side shows.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from support import REPO, invoke, one_error_line, write

from keelson import check, helmvalidation, render
from keelson.project import ENVS

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

HELM = str(REPO / ".tools" / "bin" / "helm")
_FAILURE = re.compile(
    r"^Error: execution error at \(keelson/templates/validate\.yaml:\d+:\d+\): "
    r"invalid values \((\d+)\): (.+)$"
)


@dataclass(frozen=True)
class Case:
    """A bad overlay for ``env`` and the messages it breaks: (value path, what the message says).
    check blames each on the overlay, but those in ``defaults``, keys the overlay left at the chart's
    default, on charts/<chart>/values.yaml."""

    env: str
    overlay: str
    broken: tuple[tuple[str, str], ...]
    defaults: tuple[str, ...] = ()

    def blamed(self, path: str, overlay: Path) -> str:
        return f"charts/{path.split('.', 1)[0]}/values.yaml" if path in self.defaults else str(overlay)


CASES = {
    "loki-replicas-on-filesystem": Case(
        "dev",
        "loki:\n  replicas: 2\n",
        (("loki.replicas", "must be 1 while the storage backend is filesystem (it is 2)"),),
    ),
    "tempo-replication-on-filesystem": Case(
        "dev",
        "tempo:\n  replicationFactor: 2\n",
        (
            ("tempo.replicationFactor", "must be 1 while the storage backend is filesystem (it is 2)"),
            ("tempo.replicationFactor", "must be at most tempo.replicas (1)"),
        ),
    ),
    "replication-above-replicas": Case(
        "prod",
        "loki:\n  replicas: 2\n  replicationFactor: 3\n",
        (
            (
                "loki.replicationFactor",
                "must be at most loki.replicas (2), every write needs that many replicas",
            ),
        ),
    ),
    "retention-not-whole-days": Case(
        "dev", "loki:\n  retention: 25h\n", (("loki.retention", "must be whole days (a multiple of 24h"),)
    ),
    "prod-chart-on-filesystem": Case(
        "prod",
        "mimir:\n  replicas: 1\n  replicationFactor: 1\n  storage:\n    backend: filesystem\n",
        (("mimir.storage.backend", "must be s3 in prod, or empty to follow global.storage.backend"),),
    ),
    "prod-on-global-filesystem": Case(
        # Once, though four charts follow it.
        "prod",
        "global:\n  storage:\n    backend: filesystem\n"
        + "".join(
            f"{chart}:\n  replicas: 1\n  replicationFactor: 1\n" for chart in ("loki", "tempo", "mimir")
        )
        + "pyroscope:\n  replicas: 1\n",
        (("global.storage.backend", "must be s3 in prod: filesystem storage is not for production"),),
    ),
    "s3-without-a-bucket": Case(
        "prod",
        'tempo:\n  storage:\n    s3:\n      bucket: ""\n',
        (("tempo.storage.s3.bucket", "is required when the storage backend is s3: Tempo's own bucket"),),
    ),
    "s3-without-the-global-secret": Case(
        # Once, though four charts read it.
        "prod",
        'global:\n  storage:\n    s3:\n      existingSecret: ""\n',
        (("global.storage.s3.existingSecret", "is required when global.storage.backend is s3"),),
    ),
    "one-chart-on-s3-without-endpoint-or-secret": Case(
        "dev",
        "pyroscope:\n  persistence:\n    enabled: true\n"
        "  storage:\n    backend: s3\n    s3:\n      bucket: b-1\n",
        (
            ("pyroscope.storage.s3.endpoint", "is required when pyroscope.storage.backend is s3"),
            ("pyroscope.storage.s3.existingSecret", "is required when pyroscope.storage.backend is s3"),
        ),
        defaults=("pyroscope.storage.s3.endpoint", "pyroscope.storage.s3.existingSecret"),
    ),
    "pyroscope-s3-without-persistence": Case(
        "prod",
        "pyroscope:\n  persistence:\n    enabled: false\n",
        (("pyroscope.persistence.enabled", "must be true while the storage backend is s3"),),
    ),
    "mimir-secret-mount-twice": Case(
        "prod",
        "mimir:\n  alertmanager:\n    secretMounts:\n      - {name: slack, secretName: a}\n"
        "      - {name: slack, secretName: b}\n",
        (("mimir.alertmanager.secretMounts[1].name", "is used twice"),),
    ),
    "mimir-ruler-files-on-object-storage": Case(
        "prod",
        "mimir:\n  ruler:\n    storage: objectStorage\n"
        "    ruleConfigMaps: [{name: my-rules, tenant: team-a}]\n",
        (("mimir.ruler.storage", "must be local while ruler.rules or ruler.ruleConfigMaps are set"),),
    ),
    "mimir-stores-share-a-prefix": Case(
        "prod",
        "mimir:\n  storage:\n    prefixes:\n      alertmanager: blocks\n",
        (("mimir.storage.prefixes.alertmanager", "the blocks and alertmanager stores share one bucket"),),
    ),
    "grafana-anonymous-in-staging": Case(
        "staging",
        "grafana:\n  anonymous:\n    enabled: true\n",
        (("grafana.anonymous.enabled", "must be false in staging and prod"),),
    ),
    "grafana-without-admin-secret-in-prod": Case(
        "prod",
        'grafana:\n  admin:\n    existingSecret: ""\n',
        (("grafana.admin.existingSecret", "is required in staging and prod"),),
    ),
    "grafana-replicas-on-sqlite": Case(
        "dev",
        "grafana:\n  replicas: 2\n  persistence:\n    enabled: true\n",
        (
            ("grafana.database.type", "must be postgres or mysql while grafana.replicas is above 1"),
            ("grafana.persistence.enabled", "must be false while grafana.replicas is above 1"),
        ),
        defaults=("grafana.database.type",),
    ),
    "grafana-postgres-without-host-or-secret": Case(
        "dev",
        "grafana:\n  database:\n    type: postgres\n",
        (
            ("grafana.database.host", "is required for postgres and mysql"),
            ("grafana.database.existingSecret", "is required for postgres and mysql"),
        ),
        defaults=("grafana.database.host", "grafana.database.existingSecret"),
    ),
    "grafana-oauth-without-endpoints": Case(
        "dev",
        "grafana:\n  oauth:\n    enabled: true\n",
        tuple(
            (f"grafana.oauth.{key}", "is required when OAuth is enabled")
            for key in ("authUrl", "tokenUrl", "apiUrl", "existingSecret")
        ),
        defaults=tuple(f"grafana.oauth.{key}" for key in ("authUrl", "tokenUrl", "apiUrl", "existingSecret")),
    ),
    "alloy-gateway-alone-in-prod": Case(
        "prod",
        "alloy:\n  gateway:\n    autoscaling:\n      enabled: false\n    replicas: 1\n",
        (("alloy.gateway.replicas", "must be at least 2 in prod"),),
    ),
    "alloy-gateway-autoscaled-from-one-in-prod": Case(
        "prod",
        "alloy:\n  gateway:\n    autoscaling:\n      minReplicas: 1\n",
        (("alloy.gateway.autoscaling.minReplicas", "must be at least 2 in prod"),),
    ),
    "app-latest-in-prod": Case(
        "prod",
        "app:\n  components:\n    backend:\n      image:\n        tag: latest\n",
        (("app.components.backend.image.tag", "must be a semantic version such as 1.2.3 or v1.2.3 in prod"),),
    ),
    "app-defaults-latest-in-prod": Case(
        "prod",
        "app:\n  componentDefaults:\n    image:\n      tag: latest\n",
        (("app.componentDefaults.image.tag", "must be a semantic version"),),
    ),
    "loki-moving-tag-in-prod": Case(
        "prod",
        "loki:\n  image:\n    tag: main\n",
        (("loki.image.tag", "'latest' and moving tags are refused (gate KEEL001)"),),
    ),
    "kube-state-metrics-installed-but-not-scraped": Case(
        "prod",
        "alloy:\n  agent:\n    kubeStateMetrics:\n      enabled: false\n",
        (
            (
                "alloy.agent.kubeStateMetrics.enabled",
                "must equal kubeStateMetrics.enabled (true): the agent scrapes kube-state-metrics exactly "
                "when it is installed, and the Kubernetes alerts read its series",
            ),
        ),
    ),
    "kube-state-metrics-scraped-but-not-installed": Case(
        "dev",
        "kubeStateMetrics:\n  enabled: true\n",
        (
            (
                "alloy.agent.kubeStateMetrics.enabled",
                "must equal kubeStateMetrics.enabled (true): the agent scrapes kube-state-metrics exactly "
                "when it is installed, and the Kubernetes alerts read its series",
            ),
        ),
        defaults=("alloy.agent.kubeStateMetrics.enabled",),
    ),
    "kube-state-metrics-moving-tag-in-prod": Case(
        "prod",
        "kubeStateMetrics:\n  image:\n    tag: latest\n",
        (("kubeStateMetrics.image.tag", "must be a semantic version"),),
    ),
    "operator-rules-on-the-local-rule-store": Case(
        "prod",
        "alloy:\n  agent:\n    prometheusOperator:\n      rules:\n        enabled: true\n",
        (
            (
                "mimir.ruler.storage",
                "must be objectStorage, with mimir.ruler.rules and mimir.ruler.ruleConfigMaps empty, while "
                "alloy.agent.prometheusOperator.rules.enabled is true (the local rule store is read-only to "
                "the ruler API, and Mimir refuses rule files and rule ConfigMaps on the object store)",
            ),
        ),
        defaults=("mimir.ruler.storage",),
    ),
    # Charts left in the list whose ServiceMonitor is off: their pods would be scraped by neither.
    "servicemonitor-off-for-a-listed-chart": Case(
        "prod",
        "global:\n  capabilities:\n    serviceMonitor: true\n"
        "loki:\n  serviceMonitor:\n    enabled: false\n"
        "grafana:\n  metrics:\n    serviceMonitor:\n      enabled: false\n"
        "app:\n  componentDefaults:\n    serviceMonitor:\n      enabled: false\n",
        tuple(
            (
                "alloy.agent.prometheusOperator.serviceMonitorCharts",
                f"lists {chart}, whose metrics have no ServiceMonitor ({keys} false), so the agent scrapes "
                "them neither by annotation nor by ServiceMonitor (turn the ServiceMonitor on, or take the "
                "chart out of the list where none of its pods has one)",
            )
            for chart, keys in (
                ("app", "app.components.backend.serviceMonitor.enabled"),
                ("grafana", "grafana.metrics.serviceMonitor.enabled"),
                ("loki", "loki.serviceMonitor.enabled"),
            )
        ),
        defaults=("alloy.agent.prometheusOperator.serviceMonitorCharts",),
    ),
    # The rules' one way into Mimir turned off: Mimir (object store, no ConfigMaps) would evaluate nothing.
    "operator-rules-without-their-way-into-mimir": Case(
        "prod",
        "alloy:\n  agent:\n    prometheusOperator:\n      enabled: false\n"
        "      rules:\n        enabled: true\n"
        "mimir:\n  ruler:\n    storage: objectStorage\n    ruleConfigMaps: []\n"
        "alerting:\n  prometheusRule:\n    enabled: false\n"
        "global:\n  capabilities:\n    serviceMonitor: false\n    prometheusRule: false\n",
        (
            (
                "alloy.agent.prometheusOperator.enabled",
                "must be true while alloy.agent.prometheusOperator.rules.enabled is true (the agent loads "
                "PrometheusRules only while it reads the operator's objects, else Mimir's ruler evaluates "
                "nothing)",
            ),
            (
                "alerting.prometheusRule.enabled",
                "must be true while alloy.agent.prometheusOperator.rules.enabled is true (the stack's alert "
                "rules reach Mimir's ruler only as the PrometheusRule",
            ),
            (
                "global.capabilities.serviceMonitor",
                "must be auto or true while alloy.agent.prometheusOperator.rules.enabled is true (the agent "
                "loads PrometheusRules only where the operator's API is served",
            ),
            ("global.capabilities.prometheusRule", "must be auto or true while alloy.agent"),
        ),
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _dependencies(repo: Project) -> None:
    """charts/keelson/charts/ holds the packaged subcharts, as `helm dependency build` leaves them."""
    render.prepare_dependencies(repo)


def helm_template(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HELM, "template", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def helm_messages(env: str, overlay: Path) -> list[str]:
    """The messages of the one validation failure of plain `helm template` of the umbrella."""
    done = helm_template("charts/keelson", "-f", f"values/{env}.yaml", "-f", str(overlay))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    match = _FAILURE.match(errors[0])
    assert match is not None, errors[0]
    messages = match[2].split("; ")
    assert len(messages) == int(match[1]), errors[0]
    return messages


def check_findings(env: str, overlay: Path, repo: Project) -> list[tuple[str, str, str]]:
    """`invoke check`'s findings for the same input: (file, key path, message), in order."""
    report = check.check(env, [overlay], repo, until="render")
    assert [stage.stage for stage in report.stages] == ["values", "schema", "render"]
    assert [stage.ok for stage in report.stages] == [True, True, False]
    return [(found.where, found.subject, found.message) for found in report.stages[-1].findings]


@pytest.mark.parametrize("name", list(CASES))
def test_a_broken_rule_fails_helm_and_check_with_the_same_message(
    repo: Project, tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    overlay = write(tmp_path / "bad.yaml", case.overlay)
    messages = helm_messages(case.env, overlay)
    assert len(messages) == len(case.broken), messages
    for message, (path, says) in zip(messages, case.broken, strict=True):
        assert message.startswith(f"{path}: "), message
        assert says in message, message
        assert "\n" not in message
    # The same rules, key paths and words from check, each blamed on the overlay that broke it
    # (the chart rules on chart keys the overlay set; the global one on the global key it emptied).
    assert check_findings(case.env, overlay, repo) == [
        (case.blamed(path, overlay), path, allowed)
        for path, allowed in (message.split(": ", 1) for message in messages)
    ]


def test_every_broken_rule_of_every_chart_in_one_failure(repo: Project, tmp_path: Path) -> None:
    picked = [
        "replication-above-replicas",
        "pyroscope-s3-without-persistence",
        "mimir-secret-mount-twice",
        "grafana-without-admin-secret-in-prod",
        "alloy-gateway-autoscaled-from-one-in-prod",
        "app-latest-in-prod",
    ]
    # One overlay breaking one rule in each of six charts (the cases' overlays touch distinct keys).
    merged: dict[str, str] = {}
    for name in picked:
        chart, _, rest = CASES[name].overlay.partition(":\n")
        merged[chart] = merged.get(chart, "") + rest
    overlay = write(tmp_path / "bad.yaml", "".join(f"{chart}:\n{rest}" for chart, rest in merged.items()))
    messages = helm_messages("prod", overlay)
    expected = [broken for name in picked for broken in CASES[name].broken]
    assert sorted(message.split(": ", 1)[0] for message in messages) == sorted(path for path, _ in expected)
    for path, says in expected:
        assert any(message.startswith(f"{path}: ") and says in message for message in messages), (
            path,
            messages,
        )
    # invoke check as a user runs it: the first message on the error line, the others on stdout.
    done = invoke("check", "--env", "prod", "--values", str(overlay))
    line = one_error_line(done, f"error: {overlay}: {messages[0]}", f"(and {len(messages) - 1} more")
    assert line
    for message in messages[1:]:
        assert f"  {overlay}: {message}\n" in done.stdout, message


def test_a_chart_installed_alone_names_its_own_paths(tmp_path: Path) -> None:
    overlay = write(tmp_path / "bad.yaml", "replicas: 2\nretention: 25h\n")
    done = helm_template("charts/loki", "-f", str(overlay))
    assert done.returncode == 1, done.stdout[-2000:]
    assert "execution error at (loki/templates/statefulset.yaml:" in done.stderr
    failure = next(line for line in done.stderr.splitlines() if line.startswith("Error:"))
    messages = failure.split("invalid values (2): ", 1)[1].split("; ")
    assert [message.split(": ", 1)[0] for message in messages] == ["replicas", "retention"]


def test_a_chart_under_another_parent_names_its_paths_from_there(tmp_path: Path) -> None:
    parent = tmp_path / "other"
    parent.mkdir()
    write(
        parent / "Chart.yaml",
        "apiVersion: v2\nname: other\nversion: 0.0.1\ndependencies:\n"
        f"  - name: loki\n    version: '>=0.0.0'\n    repository: file://{REPO / 'charts' / 'loki'}\n",
    )
    built = subprocess.run(
        [HELM, "dependency", "build", str(parent)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    done = helm_template(str(parent), "-f", str(write(tmp_path / "bad.yaml", "loki:\n  replicas: 2\n")))
    assert done.returncode == 1, done.stdout[-2000:]
    assert "execution error at (other/charts/loki/templates/statefulset.yaml:" in done.stderr
    assert (
        "invalid values (1): loki.replicas: must be 1 while the storage backend is filesystem" in done.stderr
    )


def test_a_disabled_chart_is_not_judged(repo: Project, tmp_path: Path) -> None:
    overlay = write(tmp_path / "off.yaml", "pyroscope:\n  enabled: false\n  replicas: 3\n")
    done = helm_template("charts/keelson", "-f", "values/dev.yaml", "-f", str(overlay))
    assert done.returncode == 0, done.stderr
    assert "# Source: keelson/charts/pyroscope/" not in done.stdout


def test_no_value_is_echoed(repo: Project, tmp_path: Path) -> None:
    secretish = "ghp-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    overlay = write(
        tmp_path / "bad.yaml", f"app:\n  components:\n    backend:\n      image:\n        tag: {secretish}\n"
    )
    messages = helm_messages("prod", overlay)
    assert [message.split(": ", 1)[0] for message in messages] == ["app.components.backend.image.tag"]
    assert secretish not in "".join(messages)
    assert all(secretish not in "".join(found) for found in check_findings("prod", overlay, repo))


@pytest.mark.parametrize("env", ENVS)
def test_good_values_of_every_env_render(env: str) -> None:
    done = helm_template("charts/keelson", "-f", f"values/{env}.yaml")
    assert done.returncode == 0, done.stderr
    assert "kind: StatefulSet" in done.stdout


def test_only_a_validation_failure_is_read_as_findings() -> None:
    lead = "helm template charts/keelson: execution error at (keelson/templates/validate.yaml:4:4): "
    assert helmvalidation.messages(lead + "invalid values (2): a.b: must be 1; c: is required") == [
        "a.b: must be 1",
        "c: is required",
    ]
    # Any other helm failure stays one error; so does a count that does not match the parts.
    assert helmvalidation.messages(lead + "nil pointer evaluating interface {}.backend") is None
    assert helmvalidation.messages(lead + "invalid values (1): a: x; y") is None
    assert helmvalidation.key_path("mimir.alertmanager.secretMounts[1].name") == (
        "mimir",
        "alertmanager",
        "secretMounts",
        1,
        "name",
    )
