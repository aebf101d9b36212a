"""Helpers of tests/test_alerting_live.py: a loopback HTTP sink, the rendered files laid out for the
real Prometheus and Alertmanager, series backfilled with promtool, and the two processes.

Everything listens on 127.0.0.1 and every wait is bounded. What the helpers change in the render,
and why, is listed in one place (``EVALUATION_INTERVAL`` and ``Stack.start``):

- the rule groups' ``interval`` (1m in values) becomes ``EVALUATION_INTERVAL``, so a test sees three
  evaluations in seconds rather than minutes;
- the Alertmanager config's Secret mount root (``/etc/mimir/secrets``) becomes a temporary folder
  holding one file per URL the config reads, pointing at the sink;
- nothing else: thresholds, ``for`` durations, routes, group waits and repeat intervals are the
  render's.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import yaml

from keelson import alerting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

EVALUATION_INTERVAL = "5s"
SECRETS_ROOT = "/etc/mimir/secrets"
_FILE_SETTING = re.compile(r"^[\s-]*\w+_file:\s*(\S+)\s*$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], seconds: float, step: float = 0.5) -> bool:
    """Poll ``predicate`` until it holds or ``seconds`` have passed; the last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def is_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class Delivery:
    path: str  # the sink path, named after the Secret whose URL file pointed here
    body: dict[str, Any]
    at: float  # time.monotonic() of arrival


class Sink:
    """A loopback HTTP server standing in for Slack and the heartbeat: it records every POST."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        lock = threading.Lock()
        deliveries = self.deliveries

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    deliveries.append(Delivery(self.path, json.loads(body or b"{}"), time.monotonic()))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[Delivery]:
        return [d for d in list(self.deliveries) if d.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rule_files(objects: list[Object]) -> dict[str, str]:
    """The rule files of the ConfigMaps Mimir's ruler mounts (not the PrometheusRule copy of the
    same groups), with each group's interval set to EVALUATION_INTERVAL."""
    files = {}
    for item in alerting.collect(objects).rule_files:
        if not item.source.startswith("ConfigMap "):
            continue
        document = yaml.safe_load(item.text)
        for group in document["groups"]:
            group["interval"] = EVALUATION_INTERVAL
        files[item.name] = yaml.safe_dump(document, sort_keys=False)
    return files


def alertmanager_config(objects: list[Object], root: Path, sink: Sink) -> str:
    """The rendered Alertmanager config with the Secret mount root moved under ``root``; every file a
    receiver reads (``*_file``) must lie in a Secret the StatefulSet mounts, and holds the sink URL
    ``<sink>/<Secret name>``."""
    [configfile] = alerting.collect(objects).alertmanager
    mounts = secret_mounts(objects)
    for path in _FILE_SETTING.findall(configfile.text):
        owner = [m for m in mounts if path.startswith(m + "/")]
        assert owner, f"{path} is read by the Alertmanager config but no Secret is mounted there"
        target = root / os.path.relpath(path, SECRETS_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{sink.url}/{mounts[owner[0]]}", encoding="utf-8")
    return configfile.text.replace(SECRETS_ROOT + "/", f"{root}/")


def secret_mounts(objects: list[Object]) -> dict[str, str]:
    """Mount path -> Secret name, for the Secret volumes of the Mimir container."""
    [sts] = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "keelson-mimir"]
    pod = sts["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    [mimir] = [c for c in pod["containers"] if c["name"] == "mimir"]
    mounts = {
        m["mountPath"]: secrets[m["name"]] for m in mimir.get("volumeMounts", []) if m["name"] in secrets
    }
    assert all(path.startswith(SECRETS_ROOT + "/") for path in mounts), mounts
    return mounts


# --- series --------------------------------------------------------------------------------------


@dataclass
class Series:
    """OpenMetrics lines of one backfill: samples by series, written in the order promtool wants."""

    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, name: str, labels: dict[str, str], at: float, value: float) -> None:
        text = ",".join(f'{key}="{val}"' for key, val in sorted(labels.items()))
        self.samples.setdefault(f"{name}{{{text}}}", []).append((at, value))

    def openmetrics(self) -> str:
        lines = [
            f"{key} {value:.6f} {at:.3f}" for key in sorted(self.samples) for at, value in self.samples[key]
        ]
        return "\n".join([*lines, "# EOF", ""])


def backfill(prj: Project, series: Series, data: Path, scratch: Path) -> None:
    """Write ``series`` as TSDB blocks into ``data`` with ``promtool tsdb create-blocks-from openmetrics``."""
    source = scratch / "series.om"
    source.write_text(series.openmetrics(), encoding="utf-8")
    done = subprocess.run(
        [str(prj.tool("promtool")), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- processes -----------------------------------------------------------------------------------


@dataclass
class Stack:
    """One environment's Prometheus and Alertmanager, on loopback ports."""

    env: str
    folder: Path
    sink: Sink
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    prometheus: str = ""
    alertmanager: str = ""

    def start(self, prj: Project, objects: list[Object]) -> None:
        rules_dir = self.folder / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        for name, text in rule_files(objects).items():
            (rules_dir / name).write_text(text, encoding="utf-8")
        am_port, prom_port = free_port(), free_port()
        self.alertmanager = f"http://127.0.0.1:{am_port}"
        self.prometheus = f"http://127.0.0.1:{prom_port}"
        am_config = self.folder / "alertmanager.yaml"
        am_config.write_text(
            alertmanager_config(objects, self.folder / "secrets", self.sink), encoding="utf-8"
        )
        prom_config = self.folder / "prometheus.yml"
        prom_config.write_text(
            yaml.safe_dump(
                {
                    "global": {"evaluation_interval": EVALUATION_INTERVAL},
                    "rule_files": [str(rules_dir / "*.yaml")],
                    "alerting": {
                        "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                    },
                }
            ),
            encoding="utf-8",
        )
        self._spawn(
            "alertmanager",
            [
                str(prj.tool("alertmanager")),
                f"--config.file={am_config}",
                f"--storage.path={self.folder / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",  # no gossip port: one Alertmanager, loopback only
            ],
        )
        self._spawn(
            "prometheus",
            [
                str(prj.tool("prometheus")),
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
        )
        for name, url in (
            ("alertmanager", f"{self.alertmanager}/-/ready"),
            ("prometheus", f"{self.prometheus}/-/ready"),
        ):
            assert wait_for(partial(is_ready, url), 60), self.log(name)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        )
        log.close()

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-4000:] if path.exists() else ""

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's view: every alert with its receivers and status (active, suppressed)."""
        answer: list[dict[str, Any]] = get_json(f"{self.alertmanager}/api/v2/alerts")
        return answer

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = get_json(f"{self.prometheus}/api/v1/alerts")["data"]["alerts"]
        return answer

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def stacks(builders: dict[str, Callable[[Stack], None]], root: Path) -> Iterator[dict[str, Stack]]:
    """Start one stack per env (``builders[env]`` prepares and starts it), yield them, stop them all."""
    started: dict[str, Stack] = {}
    try:
        for env, build in builders.items():
            stack = Stack(env, root / env, Sink())
            started[env] = stack
            (root / env).mkdir(parents=True)
            build(stack)
        yield started
    finally:
        for stack in started.values():
            stack.stop()
            stack.sink.close()
