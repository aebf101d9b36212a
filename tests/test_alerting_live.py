"""The real Prometheus server evaluates every rendered rule group and sends to the real Alertmanager
loaded with each environment's rendered config; loopback sinks stand in for Slack and the heartbeat.

Both programs are the pinned Apache-2.0 builds (``prometheus``, ``alertmanager`` in .tools/bin, from
the promtool and amtool pins). The three environments run at once, on real time scales: the render
is changed only as tests/alerting_live.py lists (rule evaluation every 5s instead of 1m; the Secret
mount root moved to a temporary folder). Thresholds, ``for`` durations, routes, group waits and
repeat intervals are the render's own.

``for`` durations of an hour or more are met the way a restarted Prometheus meets them: the series
are backfilled over three days with ``promtool tsdb create-blocks-from openmetrics``, together with
``ALERTS_FOR_STATE`` samples saying since when each alert has been active. Prometheus restores that
state only for an alert whose expression is true at its own evaluation, so a restored alert fires
only if the rendered rule fires on the data: the latency SLO's page tiers are backfilled as active
too and must stay silent (4 % slow requests is under their 6x and 14.4x thresholds).

The prod scenario, over job keelson/backend at 1000 requests a minute:
- three days at 0.05 % 5xx, then a burst of 5 % 5xx for the last four hours (over every burn tier);
- 4 % of requests slower than 1 s throughout (the latency SLO's two ticket tiers, not its pages).
"""

from __future__ import annotations

import re
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from alerting_live import Series, Stack, alertmanager_config, backfill, rule_files, stacks, wait_for

from keelson import alerting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

JOB = "keelson/backend"
HEARTBEAT = "/keelson-alertmanager-heartbeat"
SLACK = "/keelson-alertmanager-slack"
# (upper bound `le`, share of requests at or below it): 4 % above 1 s, p95 within (0.5, 1].
BUCKETS = (("0.25", 0.80), ("0.5", 0.90), ("1", 0.96), ("2.5", 1.0), ("5", 1.0), ("+Inf", 1.0))
BURST_HOURS = 4


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", duration))


def _prod_series(now: float) -> Series:
    series = Series()
    counts = {"200": 0.0, "500": 0.0}
    at = now - 3 * 86400 - 600
    while at <= now:
        errors = 0.05 if at > now - BURST_HOURS * 3600 else 0.0005
        counts["500"] += 1000 * errors
        counts["200"] += 1000 * (1 - errors)
        for code, count in counts.items():
            labels = {"job": JOB, "http_response_status_code": code}
            series.add("http_server_request_duration_seconds_count", labels, at, count)
            for le, share in BUCKETS:
                series.add(
                    "http_server_request_duration_seconds_bucket", {**labels, "le": le}, at, count * share
                )
        at += 60
    return series


def _alerting_rules(files: dict[str, str]) -> list[dict[str, Any]]:
    return [
        rule
        for text in files.values()
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _active_before(series: Series, rule: dict[str, Any], output: dict[str, str], now: float) -> None:
    """ALERTS_FOR_STATE of ``rule`` (labels: the expression's ``output`` and the rule's own), active
    since one minute more than its ``for``, sampled every minute up to ``now``."""
    labels = {**output, **rule.get("labels", {}), "alertname": rule["alert"]}
    since = now - _seconds(rule["for"]) - 60
    at = since
    while at <= now:
        series.add("ALERTS_FOR_STATE", labels, at, since)
        at += 60


def _start_prod(prj: Project, objects: list[Object], stack: Stack) -> None:
    now = float(int(time.time()))
    series = _prod_series(now)
    for rule in _alerting_rules(rule_files(objects)):
        if rule["alert"] == "KeelsonAppHighErrorRate":
            _active_before(series, rule, {"job": JOB}, now)
        elif rule["alert"] == "SLOErrorBudgetBurn":
            _active_before(series, rule, {"slo": rule["labels"]["slo"]}, now)
    (stack.folder / "data").mkdir()
    backfill(prj, series, stack.folder / "data", stack.folder)
    stack.start(prj, objects)


@pytest.fixture(scope="module")
def live(
    repo: Project, rendered: Callable[[str], list[Object]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Stack]]:
    repo.tool("prometheus"), repo.tool("alertmanager"), repo.tool("promtool")  # a clear error first
    builders = {
        "prod": lambda stack: _start_prod(repo, rendered("prod"), stack),
        "staging": lambda stack: stack.start(repo, rendered("staging")),
        "dev": lambda stack: stack.start(repo, rendered("dev")),
    }
    yield from stacks(builders, tmp_path_factory.mktemp("alerting"))


def _route(objects: list[Object], alertname: str) -> dict[str, Any]:
    [item] = alerting.collect(objects).alertmanager
    config = yaml.safe_load(item.text)
    return next(r for r in config["route"]["routes"] if f'alertname="{alertname}"' in r.get("matchers", []))


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_watchdog_reaches_the_heartbeat_and_repeats(
    live: dict[str, Stack], rendered: Callable[[str], list[Object]], env: str
) -> None:
    stack = live[env]
    route = _route(rendered(env), "Watchdog")
    # Alertmanager re-sends at group_interval ticks once repeat_interval has passed, so the
    # heartbeat's period is the longer of the two: what the outside monitor must be told.
    period = max(_seconds(route["repeat_interval"]), _seconds(route["group_interval"]))
    assert wait_for(lambda: len(stack.sink.at(HEARTBEAT)) >= 1, 60), stack.log("alertmanager")
    first = stack.sink.at(HEARTBEAT)[0]
    assert first.body["receiver"] == "heartbeat"
    assert first.body["status"] == "firing"
    assert first.body["commonLabels"] == {"alertname": "Watchdog", "severity": "none", "env": env}
    # Wait one period more than promised, to measure a late repeat rather than time out on it.
    assert wait_for(lambda: len(stack.sink.at(HEARTBEAT)) >= 2, 2 * period + 10), stack.sink.deliveries
    second = stack.sink.at(HEARTBEAT)[1]
    gap = second.at - first.at
    assert gap <= period + 10, f"the heartbeat came {gap:.0f}s after the first; its period is {period}s"
    assert second.body["commonLabels"]["alertname"] == "Watchdog"


def _slack_messages(stack: Stack) -> dict[str, list[str]]:
    """Slack title -> the summary lines of its alerts."""
    return {
        attachment["title"]: [line for line in attachment["text"].splitlines() if line.strip()]
        for delivery in stack.sink.at(SLACK)
        for attachment in delivery.body["attachments"]
    }


def test_prod_burst_pages_on_slack_and_inhibits_its_tickets(live: dict[str, Stack]) -> None:
    stack = live["prod"]
    titles = {
        "[FIRING] KeelsonAppHighErrorRate (prod, critical)",
        "[FIRING] SLOErrorBudgetBurn (prod, critical)",
        "[FIRING] SLOErrorBudgetBurn (prod, warning)",
    }
    # Restored at the second evaluation, firing at the third, then the route's 30s group_wait.
    assert wait_for(lambda: set(_slack_messages(stack)) >= titles, 90), (
        stack.sink.deliveries,
        stack.log("prometheus"),
    )
    messages = _slack_messages(stack)
    assert set(messages) == titles
    assert messages["[FIRING] KeelsonAppHighErrorRate (prod, critical)"][0] == (
        f"{JOB} answers more than 1 % of its requests with 5xx."
    )
    pages = " ".join(messages["[FIRING] SLOErrorBudgetBurn (prod, critical)"])
    assert (
        "SLO backend-availability (99.9 % over 30d) burns its error budget 14.4x too fast (1h and 5m)."
        in pages
    )
    assert (
        "SLO backend-availability (99.9 % over 30d) burns its error budget 6x too fast (6h and 30m)." in pages
    )
    assert "backend-latency" not in pages
    # The ticket that reached Slack is the latency SLO's; the availability tickets are inhibited.
    tickets = " ".join(messages["[FIRING] SLOErrorBudgetBurn (prod, warning)"])
    assert "SLO backend-latency (99 % over 30d) burns its error budget 3x too fast (1d and 2h)." in tickets
    assert "SLO backend-latency (99 % over 30d) burns its error budget 1x too fast (3d and 6h)." in tickets
    assert "backend-availability" not in tickets

    burns = {
        (a["labels"]["slo"], a["labels"]["burn_rate"]): a
        for a in stack.alerts()
        if a["labels"]["alertname"] == "SLOErrorBudgetBurn"
    }
    assert set(burns) == {
        ("backend-availability", "14.4"),
        ("backend-availability", "6"),
        ("backend-availability", "3"),
        ("backend-availability", "1"),
        ("backend-latency", "3"),
        ("backend-latency", "1"),
    }
    for tier in ("14.4", "6"):
        page = burns[("backend-availability", tier)]
        assert page["status"]["state"] == "active"
        assert [r["name"] for r in page["receivers"]] == ["slack-critical"]
    for tier in ("3", "1"):
        ticket = burns[("backend-availability", tier)]
        assert ticket["status"]["state"] == "suppressed"
        assert ticket["status"]["inhibitedBy"] != []
        assert [r["name"] for r in ticket["receivers"]] == ["slack-warning"]
        assert burns[("backend-latency", tier)]["status"]["state"] == "active"


def test_prod_latency_pages_stay_silent_although_their_state_was_backfilled(live: dict[str, Stack]) -> None:
    """Restoring ``for`` state cannot fire an alert whose expression is false."""
    stack = live["prod"]
    assert wait_for(lambda: bool(_slack_messages(stack)), 90)
    firing = {
        (a["labels"].get("slo"), a["labels"].get("burn_rate"))
        for a in stack.prometheus_alerts()
        if a["labels"]["alertname"] == "SLOErrorBudgetBurn" and a["state"] == "firing"
    }
    assert ("backend-latency", "14.4") not in firing
    assert ("backend-latency", "6") not in firing
    assert ("backend-latency", "3") in firing


def test_dev_routes_everything_to_receivers_without_integrations(
    live: dict[str, Stack], rendered: Callable[[str], list[Object]], tmp_path: Path
) -> None:
    stack = live["dev"]
    # dev mounts no receiver Secret, so the rendered config reads no file and has no integration.
    assert "_file:" not in alertmanager_config(rendered("dev"), tmp_path, stack.sink)
    assert wait_for(lambda: any(a["labels"]["alertname"] == "Watchdog" for a in stack.alerts()), 60)
    [watchdog] = [a for a in stack.alerts() if a["labels"]["alertname"] == "Watchdog"]
    assert [r["name"] for r in watchdog["receivers"]] == ["heartbeat"]
    assert watchdog["status"]["state"] == "active"
    # By now (after the prod and staging tests) the Watchdog has been routed for over a minute.
    assert live["staging"].sink.at(HEARTBEAT), "staging, with the same timing, did deliver"
    assert stack.sink.deliveries == []
    with urllib.request.urlopen(f"{stack.alertmanager}/metrics", timeout=5) as answer:
        metrics = answer.read()
    sent = [
        line
        for line in metrics.decode().splitlines()
        if line.startswith("alertmanager_notifications_total{") and not line.endswith(" 0")
    ]
    assert sent == []
