"""The real Alloy (scripts/bootstrap's trimmed v1.18.0 build) started on a rendered config, on loopback.

``running_alloy`` starts ``alloy run`` with the rendered workload's flags (keelson.programs), waits
until Alloy answers ready or exits, and always stops it. ``gateway_on_loopback`` points a rendered
gateway config's listeners and exporters at 127.0.0.1; each rewrite insists that the text it
replaces is there, so a change of the chart fails here instead of silently reaching the network.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keelson import programs

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

READY_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} once in the rendered config, found {text.count(old)}"
    return text.replace(old, new)


@dataclass(frozen=True)
class Loopback:
    """Where the test gateway listens and sends."""

    otlp_grpc: int
    otlp_http: int
    faro: int
    tempo: str  # host:port of the OTLP gRPC trace sink
    sink_url: str  # base URL of the remote-write and Loki push sink


def gateway_on_loopback(text: str, to: Loopback) -> str:
    text = replace_once(text, 'endpoint = "0.0.0.0:4317"', f'endpoint = "127.0.0.1:{to.otlp_grpc}"')
    text = replace_once(text, 'endpoint = "0.0.0.0:4318"', f'endpoint = "127.0.0.1:{to.otlp_http}"')
    if "faro.receiver" in text:
        text = replace_once(text, 'listen_address       = "0.0.0.0"', 'listen_address       = "127.0.0.1"')
        text = replace_once(text, "listen_port          = 12347", f"listen_port          = {to.faro}")
    text = replace_once(text, 'endpoint = "keelson-tempo:4317"', f'endpoint = "{to.tempo}"')
    text = replace_once(text, '"http://keelson-mimir:8080/api/v1/push"', f'"{to.sink_url}/api/v1/push"')
    text = replace_once(
        text, '"http://keelson-loki:3100/loki/api/v1/push"', f'"{to.sink_url}/loki/api/v1/push"'
    )
    # Synthetic probes of the env's public hosts: aimed at the sink instead (no traffic leaves the host).
    return re.sub(r'(?m)^(\s*address = )"https?://[^"]*"$', rf'\1"{to.sink_url}/probe"', text)


@dataclass
class Alloy:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_alloy(
    prj: Project,
    objects: Sequence[Object],
    config: str,
    text: str,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    wait_ready: bool = True,
) -> Iterator[Alloy]:
    """``alloy run`` on ``text`` as the rendered ``config`` workload starts it; stopped on exit."""
    port = free_port()
    config_file = workdir / "config.alloy"
    config_file.write_text(text, encoding="utf-8")
    command = programs.alloy_run_command(
        prj, objects, config, config_file=config_file, storage=workdir / "storage", listen=f"127.0.0.1:{port}"
    )
    log = workdir / "alloy.log"
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env or {}, cwd=workdir
        )
    alloy = Alloy(process, f"http://127.0.0.1:{port}", log)
    try:
        if wait_ready:
            deadline = time.monotonic() + READY_TIMEOUT
            while not _ready(alloy.url):
                assert process.poll() is None, f"alloy exited with {process.returncode}:\n{alloy.output()}"
                assert time.monotonic() < deadline, (
                    f"alloy not ready in {READY_TIMEOUT:.0f}s:\n{alloy.output()}"
                )
                time.sleep(0.5)
        yield alloy
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def exit_of(alloy: Alloy, timeout: float = READY_TIMEOUT) -> int:
    """The exit status of an Alloy that is expected to stop by itself (a config it refuses)."""
    try:
        return alloy.process.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"alloy still running after {timeout:.0f}s:\n{alloy.output()}") from None
