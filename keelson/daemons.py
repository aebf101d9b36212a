"""Background programs that outlive the command that started them, and stopping exactly those.

A daemon is started by a short-lived ``sh`` in a session of its own, so Ctrl-C on the terminal
does not reach it and the starting process (``invoke``, a pytest worker) has no child to reap.
Each one is recorded with its pid, its program and its start time (from ``/proc``): a stop signals
a pid only while it is still that program started at that time, never a later process that got
the same pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson.errors import ClusterError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

POLL_SECONDS = 0.2
STOP_SECONDS = 15.0
KILL_SECONDS = 5.0
LOG_LINES = 3

_LAUNCH = 'log=$1; shift; "$@" </dev/null >"$log" 2>&1 & echo $!'


@dataclass(frozen=True)
class Daemon:
    name: str
    pid: int
    program: str
    started: int  # clock ticks after boot, field 22 of /proc/<pid>/stat
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Daemon:
        return cls(
            str(data["name"]), int(data["pid"]), str(data["program"]), int(data["started"]), str(data["log"])
        )


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of a pid, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def _program(pid: int) -> str | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return argv[0].decode(errors="replace") if argv and argv[0] else None


def alive(daemon: Daemon) -> bool:
    """The recorded process still runs: same pid, same program, same start time, not a zombie."""
    stat = _stat(daemon.pid)
    if stat is None or stat[0] == "Z" or stat[1] != daemon.started:
        return False
    return _program(daemon.pid) == daemon.program


def last_lines(log: Path, count: int = LOG_LINES) -> str:
    """The last non-empty lines of a log, joined for a one-line error."""
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return "no log"
    lines = [line for line in lines if line]
    return " | ".join(lines[-count:]) if lines else "empty log"


def start(name: str, program: Path, args: Sequence[str], log: Path, cwd: Path) -> Daemon:
    log.parent.mkdir(parents=True, exist_ok=True)
    launched = subprocess.run(
        ["sh", "-c", _LAUNCH, "sh", str(log), str(program), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        start_new_session=True,
    )
    if launched.returncode != 0 or not launched.stdout.strip().isdigit():
        raise ClusterError(f"{name}: could not start {program}: {launched.stderr.strip() or 'no pid'}")
    pid = int(launched.stdout.strip())
    # The pid exists as soon as sh printed it; wait for it to have exec'd the program.
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        stat = _stat(pid)
        if stat is None or stat[0] == "Z":
            raise ClusterError(f"{name} exited at once ({log}): {last_lines(log)}")
        if _program(pid) == str(program):
            return Daemon(name, pid, str(program), stat[1], str(log))
        time.sleep(0.01)
    raise ClusterError(f"{name}: pid {pid} never became {program}")


def wait_until(daemon: Daemon, ready: Callable[[], bool], seconds: float, what: str = "ready") -> float:
    """Poll ``ready`` until it holds; fail naming the daemon and its last log lines. Returns seconds."""
    started = time.monotonic()
    deadline = started + seconds
    while True:
        if ready():
            return time.monotonic() - started
        if not alive(daemon):
            raise ClusterError(f"{daemon.name} exited ({daemon.log}): {last_lines(Path(daemon.log))}")
        if time.monotonic() > deadline:
            tail = last_lines(Path(daemon.log))
            raise ClusterError(f"{daemon.name} not {what} after {seconds:.0f}s ({daemon.log}): {tail}")
        time.sleep(POLL_SECONDS)


def _gone_within(daemon: Daemon, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(daemon):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def stop(daemon: Daemon) -> bool:
    """SIGTERM, then SIGKILL after a while; True if it was running. Leaves any other process alone."""
    try:
        # A pidfd names this very process: once it is open and the identity checked, a signal
        # through it cannot reach a newer process that reused the pid.
        handle = os.pidfd_open(daemon.pid)
    except ProcessLookupError:
        return False
    try:
        if not alive(daemon):
            return False
        signal.pidfd_send_signal(handle, signal.SIGTERM)
        if _gone_within(daemon, STOP_SECONDS):
            return True
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(handle, signal.SIGKILL)
        if not _gone_within(daemon, KILL_SECONDS):
            raise ClusterError(f"{daemon.name} (pid {daemon.pid}) did not stop, even after SIGKILL")
        return True
    finally:
        os.close(handle)
