"""The Go environment every build runs in: checksums verified whatever the caller's settings say.

The caller's environment (or `go env -w`) may turn checksum verification off for some or all
modules, or allow plain-HTTP fetches; bootstrap refuses to build then, rather than quietly
overriding a setting someone made on purpose. It then pins the variables that decide what gets
built and verified, so the same pins give the same binaries on every machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Go settings that weaken or skip checksum verification (GONOSUMCHECK and GONOVERIFY are old
# spellings some guides still give), and why each is refused. GOPRIVATE implies GONOSUMDB.
REFUSED: dict[str, str] = {
    "GONOSUMDB": "it skips the checksum database for the modules it lists",
    "GONOSUMCHECK": "it skips checksum verification",
    "GONOVERIFY": "it skips checksum verification",
    "GOPRIVATE": "it skips the checksum database for the modules it lists",
    "GOINSECURE": "it allows fetching modules without TLS and unverified",
}


class GoEnvError(Exception):
    """A Go setting bootstrap will not build under; the message is one line for the user."""


def _go_env() -> dict[str, str]:
    done = subprocess.run(["go", "env", "-json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GoEnvError(f"`go env` failed: {done.stderr.strip().splitlines()[-1:]}")
    settings: dict[str, str] = json.loads(done.stdout)
    return settings


def refusal(environ: dict[str, str], settings: dict[str, str]) -> str | None:
    """Why bootstrap must not build under these settings, or None. ``environ`` is the caller's
    environment, ``settings`` what `go env` reports (the environment over `go env -w` files)."""
    for name, reason in REFUSED.items():
        source = "the environment" if environ.get(name) else "`go env -w`"
        if environ.get(name) or settings.get(name):
            return f"{name} is set (in {source}): {reason}; unset it to build the pinned tools"
    sumdb = environ.get("GOSUMDB") or settings.get("GOSUMDB", "")
    if sumdb == "off":
        return "GOSUMDB=off turns checksum verification off; unset it to build the pinned tools"
    flags = f"{environ.get('GOFLAGS', '')} {settings.get('GOFLAGS', '')}"
    if any(flag.lstrip("-").startswith("insecure") for flag in flags.split()):
        return "GOFLAGS contains -insecure, which fetches modules unverified; remove it to build the tools"
    return None


def machine_proxy() -> str:
    """GOPROXY as this machine's Go installation and `go env -w` set it, not the caller's shell."""
    clean = {key: value for key, value in os.environ.items() if key != "GOPROXY"}
    done = subprocess.run(["go", "env", "GOPROXY"], capture_output=True, text=True, env=clean, check=True)
    return done.stdout.strip() or "https://proxy.golang.org,direct"


def build_environment() -> tuple[dict[str, str], dict[str, str]]:
    """(the environment to run go in, the settings that shape the output and key the cache).

    Raises GoEnvError when the caller's settings would weaken verification."""
    settings = _go_env()
    reason = refusal(dict(os.environ), settings)
    if reason:
        raise GoEnvError(reason)
    pinned = {
        # -buildvcs=false: module copies have no VCS metadata to stamp (the machine sets it too).
        "GOFLAGS": "-buildvcs=false",
        "GOSUMDB": "sum.golang.org",
        "GOPROXY": machine_proxy(),
        "GOWORK": "off",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    run_env = {key: value for key, value in os.environ.items() if key not in REFUSED}
    run_env.update(pinned)
    shaping = {
        "GOVERSION": settings.get("GOVERSION", ""),
        "GOOS": settings.get("GOOS", ""),
        "GOARCH": settings.get("GOARCH", ""),
        "GOAMD64": settings.get("GOAMD64", ""),
        "GOFLAGS": pinned["GOFLAGS"],
        "CGO_ENABLED": pinned["CGO_ENABLED"],
    }
    return run_env, shaping


if __name__ == "__main__":
    # scripts/bootstrap runs this first, so a refused setting stops it before anything is installed.
    try:
        build_environment()
    except GoEnvError as error:
        print(f"bootstrap: error: {error}", file=sys.stderr)
        sys.exit(1)
