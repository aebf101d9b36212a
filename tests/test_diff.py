"""keelson.diff on hand-made objects: what is noise, what is a change, and that no secret leaks."""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from keelson import diff

Object = dict[str, Any]


def deployment(**changes: Any) -> Object:
    obj: Object = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "keelson",
            "labels": {
                "app.kubernetes.io/name": "web",
                "helm.sh/chart": "app-0.1.0",
                "app.kubernetes.io/version": "1",
            },
        },
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": "web", "helm.sh/chart": "app-0.1.0"},
                    "annotations": {"checksum/config": "aaa", "prometheus.io/scrape": "true"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "docker.io/keelson/web:v1.0.0",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [
                                {"name": "http", "containerPort": 8080},
                                {"name": "metrics", "containerPort": 9090},
                            ],
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        },
                        {"name": "sidecar", "image": "docker.io/keelson/sidecar:v1.0.0"},
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}],
                },
            },
        },
    }
    for path, value in changes.items():
        node: Any = obj
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[keys[-1]] = value
    return obj


def secret(data: dict[str, str] | None = None, string_data: dict[str, str] | None = None) -> Object:
    obj: Object = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "keelson"},
    }
    if data is not None:
        obj["data"] = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def test_identical_renders_do_not_differ() -> None:
    report = diff.compare([deployment()], [deployment()])
    assert not report.differs
    assert report.unchanged == 1


def test_chart_and_version_labels_are_noise_everywhere() -> None:
    new = deployment()
    new["metadata"]["labels"]["helm.sh/chart"] = "app-0.2.0"
    new["metadata"]["labels"]["app.kubernetes.io/version"] = "2"
    new["spec"]["template"]["metadata"]["labels"]["helm.sh/chart"] = "app-0.2.0"
    new["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] = "2"
    assert not diff.compare([deployment()], [new]).differs
    normalized = diff.normalize(new)
    assert "helm.sh/chart" not in normalized["metadata"]["labels"]
    assert "app.kubernetes.io/version" not in normalized["spec"]["template"]["metadata"]["labels"]
    assert normalized["metadata"]["labels"]["app.kubernetes.io/name"] == "web"


def test_other_label_changes_are_reported() -> None:
    new = deployment()
    new["metadata"]["labels"]["app.kubernetes.io/name"] = "www"
    report = diff.compare([deployment()], [new])
    assert [c.path for c in report.changed[0].changes] == ['metadata.labels["app.kubernetes.io/name"]']


def test_checksum_annotations_only_ignored_when_asked() -> None:
    new = deployment()
    new["spec"]["template"]["metadata"]["annotations"]["checksum/config"] = "bbb"
    report = diff.compare([deployment()], [new])
    assert [c.path for c in report.changed[0].changes] == [
        'spec.template.metadata.annotations["checksum/config"]'
    ]
    assert not diff.compare([deployment()], [new], ignore_checksums=True).differs


def test_set_like_lists_ignore_order() -> None:
    new = deployment()
    pod = new["spec"]["template"]["spec"]
    pod["containers"].reverse()
    pod["volumes"].reverse()
    web = next(c for c in pod["containers"] if c["name"] == "web")
    web["env"].reverse()
    web["ports"].reverse()
    assert not diff.compare([deployment()], [new]).differs
    normalized = diff.normalize(new)["spec"]["template"]["spec"]
    assert [c["name"] for c in normalized["containers"]] == ["sidecar", "web"]
    assert [v["name"] for v in normalized["volumes"]] == ["cache", "tmp"]


def test_an_inserted_env_var_is_one_addition_named_by_its_name() -> None:
    new = deployment()
    new["spec"]["template"]["spec"]["containers"][0]["env"].insert(0, {"name": "NEW", "value": "x"})
    (change,) = diff.compare([deployment()], [new]).changed[0].changes
    assert change.path == "spec.template.spec.containers[web].env[NEW]"
    assert change.change == "added"
    assert change.new == {"name": "NEW", "value": "x"}


def test_changes_carry_path_old_and_new() -> None:
    new = deployment(spec__replicas=3)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/keelson/web:v1.1.0"
    report = diff.compare([deployment()], [new], old="staging", new="prod")
    changes = {c.path: (c.old, c.new) for c in report.changed[0].changes}
    assert changes == {
        "spec.replicas": (1, 3),
        "spec.template.spec.containers[web].image": (
            "docker.io/keelson/web:v1.0.0",
            "docker.io/keelson/web:v1.1.0",
        ),
    }
    text = diff.text(report)
    assert "~ Deployment keelson/web (apps/v1)" in text
    assert "    spec.replicas: 1 → 3" in text
    assert text.splitlines()[-1] == "prod vs staging: 1 changed, 0 added, 0 removed, 0 unchanged"
    assert "\x1b[" not in text
    assert "\x1b[" in diff.text(report, color=True)


def test_objects_are_keyed_by_api_version_kind_namespace_and_name() -> None:
    moved = deployment()
    moved["apiVersion"] = "apps/v2"
    other_ns = deployment()
    other_ns["metadata"]["namespace"] = "other"
    report = diff.compare([deployment()], [moved, other_ns])
    assert [ref.key for ref in report.removed] == ["apps/v1/Deployment/keelson/web"]
    assert sorted(ref.key for ref in report.added) == [
        "apps/v1/Deployment/other/web",
        "apps/v2/Deployment/keelson/web",
    ]


def test_the_same_object_twice_is_refused() -> None:
    with pytest.raises(diff.DiffError, match="appears twice"):
        diff.compare([deployment(), deployment()], [])


def test_config_files_show_the_lines_that_changed() -> None:
    old: Object = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"f": "a: 1\nb: 2\nc: 3\n"},
    }
    new = copy.deepcopy(old)
    new["data"]["f"] = "a: 1\nb: 20\nc: 3\n"
    text = diff.text(diff.compare([old], [new]))
    assert "data.f: (text changed)" in text
    assert "      -b: 2" in text
    assert "      +b: 20" in text


SECRETS = ("hunter2-old", "hunter2-new", "tok-string-data", "s3cr3t-unchanged")


def test_secret_values_are_masked_before_the_diff() -> None:
    old = secret({"password": "hunter2-old", "same": "s3cr3t-unchanged"}, {"token": "tok-string-data"})
    new = secret({"password": "hunter2-new", "same": "s3cr3t-unchanged"}, {"token": "tok-string-data2"})
    report = diff.compare([old], [new])
    shown = diff.text(report, color=True) + json.dumps(diff.to_json(report))
    for value in (
        *SECRETS,
        base64.b64encode(b"hunter2-old").decode(),
        base64.b64encode(b"hunter2-new").decode(),
    ):
        assert value not in shown
    changes = {c.path: c for c in report.changed[0].changes}
    # A keyed hash: not the sha256 of the value, which a word list could confirm offline.
    assert re.fullmatch(r"<redacted: 11 bytes, hmac [0-9a-f]{12}>", changes["data.password"].new)
    assert hashlib.sha256(b"hunter2-new").hexdigest()[:12] not in changes["data.password"].new
    assert set(changes) == {"data.password", "stringData.token"}  # "same" redacts alike on both sides


def test_added_and_removed_secrets_show_no_values() -> None:
    report = diff.compare([secret({"a": "hunter2-old"})], [])
    assert "hunter2" not in diff.text(report) + json.dumps(diff.to_json(report))
    masked = diff.normalize(secret({"a": "hunter2-old"}, {"b": "tok-string-data"}))
    assert "hunter2" not in json.dumps(masked)
    assert "tok-string" not in json.dumps(masked)


def test_json_report_shape() -> None:
    report = diff.compare([deployment()], [deployment(spec__replicas=2)], old="a", new="b")
    data = diff.to_json(report)
    assert data["differs"] is True
    assert data["summary"] == {"changed": 1, "added": 0, "removed": 0, "unchanged": 0}
    (changed,) = data["changed"]
    assert changed["key"] == "apps/v1/Deployment/keelson/web"
    assert changed["changes"] == [{"path": "spec.replicas", "change": "changed", "old": 1, "new": 2}]


def test_benchmark_script_runs_and_prints_timings(capsys: pytest.CaptureFixture[str]) -> None:
    script = Path(__file__).resolve().parent.parent / "scripts" / "bench_diff.py"
    spec = importlib.util.spec_from_file_location("bench_diff", script)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--sizes", "40", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "10% changed" in out
    assert "every object changed" in out
    assert "40 changed" in out
