"""`invoke diff` as a user runs it: env against env, against a commit, a release and the cluster."""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING

import yaml
from releasing import (
    commit,
    git,
    git_project,
    published_project,
)
from support import REPO, copy_project, invoke, one_error_line

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    import pytest

    from keelson.project import Project

NOISE = ("helm.sh/chart", "app.kubernetes.io/version")
ORDER_NOISE = re.compile(r"\b(env|ports|containers|initContainers|volumes|volumeMounts)\[\d+\]")


def within(prj: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """``invoke ARGS`` inside the project copy ``prj``."""
    return invoke(*args, cwd=prj.root, root=prj.root)


def block(output: str, header: str) -> list[str]:
    """The indented change lines under one ``~ Kind ns/name`` header."""
    lines = output.splitlines()
    start = lines.index(header)
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        body.append(line.strip())
    return body


def test_prod_against_staging_shows_replicas_resources_and_hosts_only() -> None:
    done = invoke("diff", "--env", "prod", "--against", "staging")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    backend = block(out, "~ Deployment keelson/keelson-app-backend (apps/v1)")
    assert "spec.replicas: 1 → 3" in backend
    assert 'spec.template.spec.containers[backend].resources.requests.cpu: "50m" → "200m"' in backend
    assert 'spec.template.spec.containers[backend].resources.requests.memory: "128Mi" → "512Mi"' in backend
    frontend = block(out, "~ Deployment keelson/keelson-app-frontend (apps/v1)")
    assert "spec.replicas: 1 → 2" in frontend
    ingress = block(out, "~ Ingress keelson/keelson-app (networking.k8s.io/v1)")
    assert any('"app-staging.example.com" → "app.example.com"' in line for line in ingress)
    assert any('"api-staging.example.com" → "api.example.com"' in line for line in ingress)
    for noise in NOISE:
        assert noise not in out
    assert not ORDER_NOISE.search(out), ORDER_NOISE.search(out)
    assert "\x1b[" not in out, "no colour when stdout is not a terminal"
    assert out.splitlines()[-1].startswith("prod vs staging: ")


def test_json_and_exit_code() -> None:
    done = invoke("diff", "--env", "prod", "--against", "staging", "--json", "--exit-code")
    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert data["differs"] is True
    backend = next(
        i for i in data["changed"] if i["kind"] == "Deployment" and i["name"] == "keelson-app-backend"
    )
    assert {"path": "spec.replicas", "change": "changed", "old": 1, "new": 3} in backend["changes"]
    same = invoke("diff", "--env", "prod", "--against", "prod", "--exit-code")
    assert same.returncode == 0, same.stdout + same.stderr
    assert ": 0 changed, 0 added, 0 removed, " in same.stdout.splitlines()[-1]


def test_against_the_previous_commit(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    prod = prj.values_dir / "prod.yaml"
    text = prod.read_text()
    assert "      replicas: 3\n" in text
    prod.write_text(text.replace("      replicas: 3\n", "      replicas: 5\n", 1))
    commit(prj.root, "backend: 5 replicas")
    done = within(prj, "diff", "--env", "prod", "--against", "HEAD~1", "--exit-code")
    assert done.returncode == 2, done.stdout + done.stderr
    assert block(done.stdout, BACKEND) == ["spec.replicas: 3 → 5"]
    assert done.stdout.splitlines()[-1].startswith("prod vs git HEAD~1 (")
    assert len(git(prj.root, "worktree", "list").splitlines()) == 1, "the temporary worktree is gone"
    assert git(prj.root, "status", "--porcelain") == ""


SECRET_TEMPLATE = """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-diff-test
  namespace: {{ .Release.Namespace }}
type: Opaque
data:
  password: {{ printf "hunter2-%s" .Values.global.env | b64enc }}
stringData:
  token: {{ printf "tok-%s-value" .Values.global.env | quote }}
"""


def test_secret_values_never_appear(tmp_path: Path) -> None:
    prj = copy_project(REPO, tmp_path / "project")
    (prj.umbrella / "templates" / "secret-diff-test.yaml").write_text(SECRET_TEMPLATE)
    for args in ((), ("--json",)):
        done = within(prj, "diff", "--env", "prod", "--against", "staging", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        shown = done.stdout + done.stderr
        for value in ("hunter2", "tok-prod", "tok-staging"):
            assert value not in shown
        for env in ("prod", "staging"):
            assert base64.b64encode(f"hunter2-{env}".encode()).decode() not in shown
        assert "<redacted: 12 bytes, hmac " in shown
    assert "data.password" in within(prj, "diff", "--env", "prod", "--against", "dev").stdout


# --against cluster runs on the real API server: tests/test_operator_cluster.py.


def test_against_the_last_release_and_a_published_version(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    version = yaml.safe_load((prj.umbrella / "Chart.yaml").read_text())["version"]
    for against in ("last", version):
        done = invoke(
            "diff", "--env", "prod", "--against", against, "--exit-code", cwd=prj.root, root=prj.root
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert ": 0 changed, 0 added, 0 removed, " in done.stdout
    # The last release keeps the values it was released with: a values change shows against it.
    prod = prj.values_dir / "prod.yaml"
    prod.write_text(prod.read_text().replace("      replicas: 3\n", "      replicas: 6\n", 1))
    done = within(prj, "diff", "--env", "prod", "--against", "last")
    assert done.returncode == 0, done.stdout + done.stderr
    assert BACKEND in done.stdout
    assert block(done.stdout, BACKEND) == ["spec.replicas: 3 → 6"]
    # A published version renders with today's values: only the charts' own changes show.
    (prj.umbrella / "templates" / "configmap-probe.yaml").write_text(PROBE)
    done = within(prj, "diff", "--env", "prod", "--against", f"version:{version}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "+ ConfigMap keelson/keelson-probe (v1)" in done.stdout
    assert BACKEND not in done.stdout


PROBE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-probe\ndata: {}\n"
BACKEND = "~ Deployment keelson/keelson-app-backend (apps/v1)"


def test_against_something_unknown_is_one_line() -> None:
    done = invoke("diff", "--env", "prod", "--against", "no-such-thing")
    one_error_line(done, '--against "no-such-thing": not an environment')
    one_error_line(invoke("diff", "--env", "prod"), "--against is required")
