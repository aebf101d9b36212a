"""Sign the charts ``--oci`` pushes with cosign and a key file (``--cosign-key FILE``).

    key = cosign.signing_key(Path("release.key"))   # SigningError unless usable
    cosign.sign(prj, key, "registry.example.com/charts/keelson@sha256:...", plain_http=False)

The key's password comes from ``COSIGN_PASSWORD`` in the environment, which cosign reads itself:
Keelson never reads, prints or records the password or the key, only the key file's path. The
signature goes to the registry beside the chart (cosign's ``sha256-<digest>.sig`` tag), so
``cosign verify --key cosign.pub <ref>`` checks it there, and Artifact Hub shows an OCI chart with
one as signed with cosign. Nothing is uploaded to a transparency log (``--tlog-upload=false``): a
release signs with its own key, and offline; whoever verifies passes ``--insecure-ignore-tlog``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keelson.errors import KeelsonError

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

PASSWORD = "COSIGN_PASSWORD"
TIMEOUT = 300  # seconds for one signature: a push of a few kilobytes and a manifest


class SigningError(KeelsonError):
    """The charts cannot be signed (no usable key file, no password variable, cosign refused)."""


@dataclass(frozen=True)
class SigningKey:
    path: Path  # the encrypted private key cosign generate-key-pair wrote; only its path is kept


def signing_key(path: Path) -> SigningKey:
    """The key file ``path``, checked before anything is pushed; the password must be in the
    environment (empty is allowed: a key generated with an empty password)."""
    if not path.is_file():
        raise SigningError(
            f"--cosign-key {path}: not a file (the private key cosign generate-key-pair wrote)"
        )
    if not os.access(path, os.R_OK):
        raise SigningError(f"--cosign-key {path}: not readable")
    if PASSWORD not in os.environ:
        raise SigningError(
            f"--cosign-key {path}: {PASSWORD} is not set; export the key's password in it "
            "(an empty value for a key without one)"
        )
    return SigningKey(path)


def sign(prj: Project, key: SigningKey, reference: str, *, plain_http: bool) -> None:
    """Sign ``reference`` (``host/path/chart@sha256:...``, by digest so the tag cannot move under
    the signature) and push the signature beside it."""
    args = [str(prj.tool("cosign")), "sign", "--key", str(key.path), "--tlog-upload=false", "--yes"]
    if plain_http:  # the same registry helm pushed to with --plain-http
        args += ["--allow-http-registry", "--allow-insecure-registry"]
    try:
        done = subprocess.run(
            [*args, reference],
            stdin=subprocess.DEVNULL,  # never a password prompt: COSIGN_PASSWORD answers it
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SigningError(f"cosign sign {reference}: no answer within {TIMEOUT} s") from None
    if done.returncode != 0:
        raise SigningError(f"cosign sign {reference}: {_reason(done.stderr)}")


def _reason(stderr: str) -> str:
    """cosign's own error line (``Error: ...``); its other output is progress."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    return (errors or lines or ["failed without a message"])[0]
