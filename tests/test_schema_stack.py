"""Issue 3, acceptance: schema errors name the key for the stack's values too, through the CLI.

`invoke check --env E --values overlay.yaml` as a user runs it: exit 1, one error line on stderr
that names the file and the key path, the rest listed on stdout, nothing written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from stack_support import BACKENDS
from support import invoke, one_error_line, write

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("backend", BACKENDS)
def test_more_replicas_on_filesystem_storage(tmp_path: Path, backend: str) -> None:
    # Pyroscope's metastore wants an odd number of replicas (2 fails on that first), so 3 there.
    replicas = 3 if backend == "pyroscope" else 2
    file = write(tmp_path / "overlay.yaml", f"{backend}:\n  replicas: {replicas}\n")
    done = invoke("check", "--env", "dev", "--values", str(file))
    line = one_error_line(done, f"error: {file}: {backend}.replicas: ")
    assert "filesystem" in line
    assert str(replicas) in line.split(f"{backend}.replicas: ", 1)[1]
    assert "s3" in line  # what is allowed instead


def test_s3_in_prod_without_an_existing_secret(tmp_path: Path) -> None:
    file = write(tmp_path / "overlay.yaml", 'global:\n  storage:\n    s3:\n      existingSecret: ""\n')
    done = invoke("check", "--env", "prod", "--values", str(file))
    # One finding, blamed on the overlay that emptied the global value, not one per backend chart.
    line = one_error_line(done, f"{file}: global.storage.s3.existingSecret: is required")
    assert "AWS_ACCESS_KEY_ID" in line
    assert "charts/loki/values.yaml" not in line + done.stdout


def test_one_backend_on_s3_without_a_secret_in_dev(tmp_path: Path) -> None:
    overlay = "loki:\n  storage:\n    backend: s3\n    s3:\n      bucket: keelson-dev-loki\n"
    done = invoke("check", "--env", "dev", "--values", str(write(tmp_path / "overlay.yaml", overlay)))
    one_error_line(done, "loki.storage.s3.")
    assert "loki.storage.s3.existingSecret: " in done.stdout + done.stderr


def test_unknown_env(tmp_path: Path) -> None:
    file = write(tmp_path / "overlay.yaml", "global:\n  env: qa\n")
    done = invoke("check", "--env", "prod", "--values", str(file))
    line = one_error_line(done, f"error: {file}: global.env: must be one of dev, staging, prod")
    assert "qa" not in line
