"""Mimir's Alertmanager runs prod's rendered fallback config and delivers through files of Secrets.

The pinned Mimir (``.tools/bin/mimir``, built by scripts/bootstrap) starts as ``-target=alertmanager``
with the config Mimir's ConfigMap holds for prod; the Secret mounts become files under a temporary
folder whose URLs point at a local HTTP sink. Alerts posted to it show that the Watchdog reaches the
heartbeat webhook (``url_file``), a critical reaches Slack (``api_url_file``) and inhibits its
warning, and that the same config uploaded through Mimir's API is refused (files are allowed only in
the operator's fallback config). Skips without the binary.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from support import find_object

from keelson.errors import ToolError
from keelson.project import project

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from keelson.models import Object

SECRETS = "/etc/mimir/secrets"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Sink(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, json.loads(body or b"{}")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Sink)
    _Sink.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Sink.received
    server.shutdown()


def _request(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def test_prod_alertmanager_delivers_through_secret_files(
    rendered: Callable[[str], list[Object]],
    sink: tuple[str, list[tuple[str, dict[str, Any]]]],
    tmp_path: Path,
) -> None:
    try:
        mimir = project().tool("mimir")
    except ToolError as exc:
        pytest.skip(f"mimir is not installed ({exc.message})")
    base, received = sink
    for name in ("slack", "heartbeat"):
        (tmp_path / "secrets" / name).mkdir(parents=True)
        (tmp_path / "secrets" / name / "url").write_text(f"{base}/{name}", encoding="utf-8")
    text = find_object(rendered("prod"), "ConfigMap", "keelson-mimir-alertmanager")["data"][
        "alertmanager.yaml"
    ]
    config = tmp_path / "alertmanager.yaml"
    # Only the secret folder and the first wait change: the routing is prod's.
    config.write_text(
        text.replace(SECRETS, str(tmp_path / "secrets")).replace("group_wait: 30s", "group_wait: 1s"),
        encoding="utf-8",
    )
    http_port = _free_port()
    command = [
        str(mimir),
        "-target=alertmanager",
        "-auth.multitenancy-enabled=false",
        f"-server.http-listen-port={http_port}",
        f"-server.grpc-listen-port={_free_port()}",
        f"-memberlist.bind-port={_free_port()}",
        f"-alertmanager.storage.path={tmp_path / 'data'}",
        "-alertmanager-storage.backend=filesystem",
        f"-alertmanager-storage.filesystem.dir={tmp_path / 'store'}",
        f"-alertmanager.configs.fallback={config}",
        f"-alertmanager.web.external-url=http://127.0.0.1:{http_port}/alertmanager",
        "-alertmanager.sharding-ring.store=inmemory",
        "-alertmanager.sharding-ring.replication-factor=1",
        "-alertmanager.sharding-ring.instance-addr=127.0.0.1",
    ]
    log = (tmp_path / "mimir.log").open("w")
    # Run from tmp_path: Mimir writes its query activity log (metrics-activity.log) into the cwd.
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    root = f"http://127.0.0.1:{http_port}"
    try:
        assert _wait(lambda: _ready(f"{root}/ready"), 60), (tmp_path / "mimir.log").read_text()
        alerts = [
            {"labels": {"alertname": "Watchdog", "severity": "none", "env": "prod"}},
            {
                "labels": {
                    "alertname": "KubeContainerMemoryHigh",
                    "severity": "critical",
                    "env": "prod",
                    "pod": "p",
                }
            },
            {
                "labels": {
                    "alertname": "KubeContainerMemoryHigh",
                    "severity": "warning",
                    "env": "prod",
                    "pod": "p",
                }
            },
        ]
        status, body = _request(
            f"{root}/alertmanager/api/v2/alerts",
            json.dumps(alerts).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        assert _wait(lambda: {path for path, _ in received} >= {"/heartbeat", "/slack"}, 30), received
        time.sleep(3)  # the warning's group has flushed by now: it must have been inhibited
        heartbeat = [payload for path, payload in received if path == "/heartbeat"]
        assert heartbeat[0]["receiver"] == "heartbeat"
        assert heartbeat[0]["commonLabels"]["alertname"] == "Watchdog"
        slack = [payload for path, payload in received if path == "/slack"]
        titles = [attachment["title"] for payload in slack for attachment in payload["attachments"]]
        assert titles == ["[FIRING] KubeContainerMemoryHigh (prod, critical)"]
        # The same config through the tenant API: Mimir refuses receiver files there.
        upload = "alertmanager_config: |\n" + "".join(
            f"  {line}\n" for line in config.read_text().splitlines()
        )
        status, body = _request(f"{root}/api/v1/alerts", upload.encode(), {"X-Scope-OrgID": "anonymous"})
        assert status == 400
        assert "url_file is not allowed" in body
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
