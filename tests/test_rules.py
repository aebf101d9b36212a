"""Alerting as code: rule files and Alertmanager config per environment, their checks and unit tests.

- promtool/amtool pass on every environment's render, and catch a broken rule or route;
- the promtool unit tests in tests/rules/ pass against prod's rendered rule files;
- prod's Alertmanager reads the Slack and heartbeat URLs from files of mounted Secrets, dev routes to
  null receivers; no URL or token sits in any value or template;
- rules render as a PrometheusRule only when the cluster has the API and the value allows it;
- the README documents every alert.
"""

from __future__ import annotations

import copy
import re
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from support import REPO, find_object

from keelson import alerting, values, valuesschema
from keelson.errors import ToolError
from keelson.project import ENVS, OPTIONAL_APIS, Project, project
from keelson.render import render

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from keelson.alerting import ConfigFile
    from keelson.models import Object

    Rendered = Callable[[str], list[Object]]
UNIT_TESTS = sorted((REPO / "tests" / "rules").glob("*.yaml"))
SECRETS = "/etc/mimir/secrets"


def promtool_unit_test(
    test_files: Sequence[Path], rule_files: Iterable[ConfigFile], prj: Project | None = None
) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` over unit-test files next to the rendered rule files.

    promtool resolves a test's ``rule_files`` relative to the test file, so both go to one scratch
    folder: a test names a rule file by its ConfigMap key (``keelson-app.yaml``).
    """
    prj = prj or project()
    promtool = str(prj.tool("promtool"))
    with tempfile.TemporaryDirectory(prefix="keelson-rule-tests-") as scratch:
        for item in rule_files:
            (Path(scratch) / item.name).write_text(item.text, encoding="utf-8")
        names = []
        for test in test_files:
            target = Path(scratch) / f"test-{test.name}"
            target.write_text(test.read_text(encoding="utf-8"), encoding="utf-8")
            names.append(target.name)
        try:
            return subprocess.run(
                [promtool, "test", "rules", *names],
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=alerting.TIMEOUT * 5,
                check=False,
            )
        except OSError as exc:
            raise ToolError(f"promtool could not run: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"promtool test rules took longer than {alerting.TIMEOUT * 5}s") from exc


def _am_config(objects: list[Object]) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        find_object(objects, "ConfigMap", "keelson-mimir-alertmanager")["data"]["alertmanager.yaml"]
    )
    return config


def _rule_groups(objects: list[Object]) -> dict[str, dict[str, Any]]:
    data = find_object(objects, "ConfigMap", "keelson-alert-rules")["data"]
    groups = {}
    for key, text in data.items():
        for group in yaml.safe_load(text)["groups"]:
            assert key == f"{group['name']}.yaml"
            groups[group["name"]] = group
    return groups


def _alerts(objects: list[Object]) -> set[str]:
    return {
        rule["alert"]
        for group in _rule_groups(objects).values()
        for rule in group["rules"]
        if "alert" in rule
    }


def _render_with(env: str, extra: dict[str, Any], apis: tuple[str, ...] = OPTIONAL_APIS) -> list[Object]:
    user = copy.deepcopy(values.load(env).user)
    merged = values.merge(user, extra)
    return render(merged, api_versions=apis)


@pytest.mark.parametrize("env", ENVS)
def test_promtool_and_amtool_pass_on_every_env(env: str, rendered: Rendered) -> None:
    report = alerting.check(rendered(env), env)
    assert [str(finding) for finding in report.findings] == []
    names = {item.name for item in report.files.rule_files}
    assert {
        "keelson-watchdog.yaml",
        "keelson-app.yaml",
        "keelson-kubernetes.yaml",
        "keelson-stack.yaml",
    } <= names
    assert [item.source for item in report.files.alertmanager] == [
        "ConfigMap keelson/keelson-mimir-alertmanager: alertmanager.yaml"
    ]


@pytest.mark.parametrize("test_file", UNIT_TESTS, ids=lambda path: path.stem)
def test_promtool_unit_tests(test_file: Path, rendered: Rendered) -> None:
    """tests/rules/<name>.yaml against prod's rendered rule files (the thresholds prod ships)."""
    done = promtool_unit_test([test_file], alerting.collect(rendered("prod")).rule_files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_unit_tests_cover_the_acceptance_cases() -> None:
    """The unit tests say what they prove: each acceptance case has its alert and its threshold."""
    text = {path.stem: path.read_text(encoding="utf-8") for path in UNIT_TESTS}
    assert "alertname: Watchdog" in text["watchdog"]
    assert "0+98x30" in text["app"]
    assert "0+2x30" in text["app"]  # 2 % of the requests fail: fires
    assert "0+199x30" in text["app"]
    assert "0+1x30" in text["app"]  # 0.5 %: never fires
    assert 'le="2.5"' in text["app"]
    assert 'le="1.5"' in text["app"]
    assert 'burn_rate: "14.4"' in text["slo"]
    assert 'burn_rate: "1"' in text["slo"]
    assert text["slo"].count("exp_alerts: []") >= 3  # within budget, never


def test_a_broken_rule_and_a_broken_route_are_findings(rendered: Rendered) -> None:
    objects = copy.deepcopy(rendered("dev"))
    rules_cm = find_object(objects, "ConfigMap", "keelson-alert-rules")
    rules_cm["data"]["keelson-app.yaml"] = rules_cm["data"]["keelson-app.yaml"].replace(
        "sum by (job)", "sum by job", 1
    )
    am = find_object(objects, "ConfigMap", "keelson-mimir-alertmanager")
    am["data"]["alertmanager.yaml"] = am["data"]["alertmanager.yaml"].replace(
        "receiver: slack-critical", "receiver: nowhere"
    )
    findings = [str(finding) for finding in alerting.check(objects, "dev").findings]
    assert len(findings) == 2, findings
    assert findings[0].startswith(
        "dev: ConfigMap keelson/keelson-alert-rules: keelson-app.yaml: promtool check rules:"
    )
    assert findings[1].startswith(
        "dev: ConfigMap keelson/keelson-mimir-alertmanager: alertmanager.yaml: amtool"
    )
    assert "nowhere" in findings[1]


def test_all_pass_checks_every_render_in_one_run_and_fails_for_one_broken_env(rendered: Rendered) -> None:
    """check --all asks once for all envs; files of the same name in two envs do not collide."""
    renders = [rendered(env) for env in ENVS]
    assert alerting.all_pass(renders, project()) is True
    broken = copy.deepcopy(rendered("staging"))
    rules_cm = find_object(broken, "ConfigMap", "keelson-alert-rules")
    rules_cm["data"]["keelson-app.yaml"] = rules_cm["data"]["keelson-app.yaml"].replace(
        "sum by (job)", "sum by job", 1
    )
    assert alerting.all_pass([renders[0], broken, renders[2]], project()) is False
    route = copy.deepcopy(rendered("prod"))
    am = find_object(route, "ConfigMap", "keelson-mimir-alertmanager")
    am["data"]["alertmanager.yaml"] = am["data"]["alertmanager.yaml"].replace(
        "receiver: slack-critical", "receiver: nowhere"
    )
    assert alerting.all_pass([renders[0], renders[1], route], project()) is False


def test_check_all_names_the_env_whose_rule_is_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the shared run fails, each env runs its own: only the broken env has a finding, and
    the clean envs' rules stages still pass (with real promtool and amtool throughout)."""
    from keelson import check  # noqa: PLC0415
    from keelson import render as rendering  # noqa: PLC0415

    rendered_by_helm = rendering.render

    def staging_with_a_broken_rule(user: dict[str, Any], **kwargs: Any) -> Any:
        objects = rendered_by_helm(user, **kwargs)
        if user["global"]["env"] == "staging":
            rules_cm = find_object(objects, "ConfigMap", "keelson-alert-rules")
            rules_cm["data"]["keelson-app.yaml"] = rules_cm["data"]["keelson-app.yaml"].replace(
                "sum by (job)", "sum by job", 1
            )
        return objects

    monkeypatch.setattr(rendering, "render", staging_with_a_broken_rule)
    by_env = {report.env: report for report in check.check_all()}
    for env in ENVS:
        rules = [stage for stage in by_env[env].stages if stage.stage == "rules"]
        assert len(rules) == 1, (env, [stage.stage for stage in by_env[env].stages])
        messages = [str(finding) for finding in rules[0].findings]
        if env == "staging":
            assert len(messages) == 1, messages
            assert messages[0].startswith(
                "staging: ConfigMap keelson/keelson-alert-rules: keelson-app.yaml: promtool check rules:"
            )
        else:
            assert messages == []


def test_mimir_loads_the_rules_configmap_for_its_tenant(rendered: Rendered) -> None:
    objects = rendered("prod")
    sts = find_object(objects, "StatefulSet", "keelson-mimir")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    sources = [
        s["configMap"]["name"]
        for v in volumes.values()
        for s in (v.get("projected") or {}).get("sources", [])
    ]
    assert "keelson-alert-rules" in sources
    mounts = {m["mountPath"] for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert "/etc/mimir/rules/anonymous" in mounts


def test_prod_alertmanager_reads_secrets_from_mounted_files(rendered: Rendered) -> None:
    objects = rendered("prod")
    config = _am_config(objects)
    receivers = {r["name"]: r for r in config["receivers"]}
    slack = [c for name in ("slack-critical", "slack-warning") for c in receivers[name]["slack_configs"]]
    assert {c["api_url_file"] for c in slack} == {f"{SECRETS}/slack/url"}
    assert receivers["heartbeat"]["webhook_configs"] == [
        {"url_file": f"{SECRETS}/heartbeat/url", "send_resolved": False}
    ]
    # The files come from the Secrets prod names, mounted read-only where the receivers read them.
    pod = find_object(objects, "StatefulSet", "keelson-mimir")["spec"]["template"]["spec"]
    secret_of = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounted = {
        m["mountPath"]: secret_of[m["name"]]
        for m in pod["containers"][0]["volumeMounts"]
        if m["name"] in secret_of
    }
    assert mounted == {
        f"{SECRETS}/slack": "keelson-alertmanager-slack",
        f"{SECRETS}/heartbeat": "keelson-alertmanager-heartbeat",
    }
    assert all(m.get("readOnly") for m in pod["containers"][0]["volumeMounts"] if m["name"] in secret_of)


def test_watchdog_goes_to_the_heartbeat_every_minute(rendered: Rendered) -> None:
    route = _am_config(rendered("prod"))["route"]
    watchdog = [r for r in route["routes"] if 'alertname="Watchdog"' in r.get("matchers", [])]
    assert len(watchdog) == 1
    assert watchdog[0]["receiver"] == "heartbeat"
    assert watchdog[0] is route["routes"][0], "the Watchdog route must come before the severity routes"
    assert _seconds(watchdog[0]["group_interval"]) <= 60
    # Under group_interval, so that every tick re-sends (tests/test_alerting_live.py shows why).
    assert _seconds(watchdog[0]["repeat_interval"]) < _seconds(watchdog[0]["group_interval"])
    by_severity = {r["matchers"][0]: r["receiver"] for r in route["routes"][1:]}
    assert by_severity == {'severity="critical"': "slack-critical", 'severity="warning"': "slack-warning"}


def test_warnings_are_inhibited_by_the_matching_critical(rendered: Rendered) -> None:
    (rule,) = _am_config(rendered("prod"))["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"']
    assert rule["target_matchers"] == ['severity="warning"']
    assert {"alertname", "namespace", "pod", "container", "slo"} <= set(rule["equal"])


def test_dev_without_secrets_routes_everything_to_null_receivers(rendered: Rendered) -> None:
    objects = rendered("dev")
    config = _am_config(objects)
    assert config["route"]["receiver"] == "null"
    assert all(set(receiver) == {"name"} for receiver in config["receivers"]), config["receivers"]
    pod = find_object(objects, "StatefulSet", "keelson-mimir")["spec"]["template"]["spec"]
    assert not [v for v in pod["volumes"] if "secret" in v]


def test_an_integration_without_its_secret_mount_is_left_out(rendered: Rendered) -> None:
    objects = _render_with(
        "prod", {"mimir": {"alertmanager": {"secretMounts": [{"name": "slack", "secretName": "s"}]}}}
    )
    receivers = {r["name"]: r for r in _am_config(objects)["receivers"]}
    assert receivers["heartbeat"] == {"name": "heartbeat"}
    assert receivers["slack-critical"]["slack_configs"][0]["api_url_file"] == f"{SECRETS}/slack/url"


# A Slack webhook or token, or any URL in a receiver's settings.
URL_OR_TOKEN = re.compile(
    r"hooks\.slack\.com|services/T[0-9A-Z]{6,}/|xox[abpr]-|(api_url|webhook_url|url_file)\s*:\s*https?:"
)
SECRET_KEYS = re.compile(
    r"^\s*-?\s*(api_url|url|webhook_url|routing_key|service_key|token|password)\s*:", re.MULTILINE
)


def test_no_receiver_url_or_token_in_any_value_or_template() -> None:
    files = [*(REPO / "values").glob("*.yaml"), *(REPO / "charts").glob("*/values.yaml")]
    files += [
        *(REPO / "charts" / "keelson" / "templates").glob("*"),
        *(REPO / "charts" / "mimir" / "templates").glob("*"),
    ]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not URL_OR_TOKEN.search(text), f"{path.relative_to(REPO)} holds a receiver URL or token"
    for env in ENVS:
        fallback = values.load(env).merged["mimir"]["alertmanager"]["fallbackConfig"]
        assert not SECRET_KEYS.search(yaml.safe_dump(fallback)), f"{env}: a receiver secret in fallbackConfig"


def test_prometheus_rule_follows_capabilities_and_the_value(rendered: Rendered) -> None:
    objects = rendered("prod")
    prometheus_rule = find_object(objects, "PrometheusRule", "keelson-alert-rules")
    assert prometheus_rule["spec"]["groups"] == list(_rule_groups(objects).values())
    assert not [o for o in _render_with("prod", {}, apis=()) if o["kind"] == "PrometheusRule"]
    off = _render_with("prod", {"alerting": {"prometheusRule": {"enabled": False}}})
    assert not [o for o in off if o["kind"] == "PrometheusRule"]


def test_thresholds_come_from_values(rendered: Rendered) -> None:
    objects = _render_with(
        "dev",
        {"alerting": {"app": {"errors": {"ratio": 0.05, "for": "10m"}, "latency": {"seconds": 1.5}}}},
    )
    app = {r["alert"]: r for r in _rule_groups(objects)["keelson-app"]["rules"]}
    assert app["KeelsonAppHighErrorRate"]["expr"].endswith("> 0.05")
    assert app["KeelsonAppHighErrorRate"]["for"] == "10m"
    assert app["KeelsonAppHighLatency"]["expr"].endswith("> 1.5")
    assert (
        "histogram_quantile(0.95, sum by (le, job) (rate(http_server_request_duration_seconds_bucket"
        in (app["KeelsonAppHighLatency"]["expr"])
    )


def test_prod_ships_backend_slos_with_every_window_and_tier(rendered: Rendered) -> None:
    groups = _rule_groups(rendered("prod"))
    for slo in ("backend-availability", "backend-latency"):
        group = groups[f"keelson-slo-{slo}"]
        recorded = [r["record"] for r in group["rules"] if "record" in r]
        assert recorded == [
            f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
        ]
        tiers = {
            (
                r["labels"]["burn_rate"],
                r["labels"]["long_window"],
                r["labels"]["short_window"],
                r["labels"]["severity"],
            )
            for r in group["rules"]
            if "alert" in r
        }
        assert tiers == {
            ("14.4", "1h", "5m", "critical"),
            ("6", "6h", "30m", "critical"),
            ("3", "1d", "2h", "warning"),
            ("1", "3d", "6h", "warning"),
        }
    assert not [name for name in _rule_groups(rendered("dev")) if name.startswith("keelson-slo-")]


def test_an_slo_query_without_its_window_is_refused(tmp_path: Path) -> None:
    overlay = tmp_path / "slo.yaml"
    overlay.write_text(
        "alerting:\n  slos:\n    - name: x\n      objective: 99\n"
        "      errorQuery: sum(rate(a[5m]))\n      totalQuery: sum(rate(b[$window]))\n",
        encoding="utf-8",
    )
    findings = [str(finding) for finding in valuesschema.check(values.load("dev", [overlay]))]
    assert len(findings) == 1, findings
    assert "alerting.slos[0].errorQuery" in findings[0]
    assert "$window" in findings[0]


def test_readme_documents_every_alert(rendered: Rendered) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Alerts") :]
    table = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section  # to the next section
    rows = {m.group(1) for m in re.finditer(r"^\| `([A-Za-z0-9]+)`", table, re.MULTILINE)}
    alerts = set().union(*(_alerts(rendered(env)) for env in ENVS))
    assert alerts - rows == set(), "alerts missing from the README table"
    assert rows - alerts == set(), "README rows for alerts the chart does not render"
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            assert len(cells) >= 4, f"a README alert row lacks a cell: {line}"
            assert all(cells[:4]), f"a README alert row has an empty cell: {line}"


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_gateway_probes_the_ingress_urls_listed_in_values(rendered: Rendered) -> None:
    objects = rendered("prod")
    config = find_object(objects, "ConfigMap", "keelson-alloy-gateway")["data"]["config.alloy"]
    assert 'prometheus.exporter.blackbox "probes" {' in config
    for name, url in (("api", "https://api.example.com/healthz"), ("app", "https://app.example.com/")):
        assert f'name    = "{name}"\n    address = "{url}"\n    module  = "http_2xx"' in config
    assert 'replacement  = sys.env("POD_NAME")' in config
    assert "forward_to      = [prometheus.relabel.contract.receiver]" in config
    container = find_object(objects, "Deployment", "keelson-alloy-gateway")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
    policy = find_object(objects, "NetworkPolicy", "keelson-alloy-gateway")["spec"]
    assert {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}],
    } in policy["egress"]
    probes = {r["alert"]: r for r in _rule_groups(objects)["keelson-probes"]["rules"]}
    assert probes["KeelsonCertificateExpiringSoon"]["expr"].endswith("< 14 * 86400")
    # dev lists no URLs: no probes, no rules for them, no egress.
    dev = rendered("dev")
    assert (
        "prometheus.exporter.blackbox"
        not in find_object(dev, "ConfigMap", "keelson-alloy-gateway")["data"]["config.alloy"]
    )
    assert "keelson-probes" not in _rule_groups(dev)


def test_mimir_chart_alone_mounts_receiver_secrets_by_name() -> None:
    prj = project()
    overrides = {
        "alertmanager": {
            "secretMounts": [{"name": "pager", "secretName": "team-pager", "optional": True}],
            "fallbackConfig": {
                "route": {"receiver": "pager"},
                "receivers": [
                    {"name": "pager", "webhook_configs": [{"url_file": f"{SECRETS}/pager/url"}]},
                    {"name": "chat", "slack_configs": [{"api_url_file": f"{SECRETS}/chat/url"}]},
                ],
            },
        }
    }
    objects = render(overrides, prj=prj, chart=prj.charts_dir / "mimir", release="x")
    config = yaml.safe_load(
        find_object(objects, "ConfigMap", "x-mimir-alertmanager")["data"]["alertmanager.yaml"]
    )
    assert config["receivers"] == [
        {"name": "pager", "webhook_configs": [{"url_file": f"{SECRETS}/pager/url"}]},
        {"name": "chat"},  # its mount `chat` is not configured
    ]
    pod = find_object(objects, "StatefulSet", "x-mimir")["spec"]["template"]["spec"]
    assert {"name": "am-secret-0", "secret": {"secretName": "team-pager", "optional": True}} in pod["volumes"]
    assert {"name": "am-secret-0", "mountPath": f"{SECRETS}/pager", "readOnly": True} in pod["containers"][0][
        "volumeMounts"
    ]
