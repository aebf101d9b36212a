"""One rule for output: no value from an input is printed by the gates (table, JSON, SARIF), the
schema check, the diff or the release record; a Secret inside a ``List`` is caught and masked.

Secret-shaped samples are built at run time from parts (nothing in the repository looks like one).
"""

from __future__ import annotations

import json
import random
import string
from typing import TYPE_CHECKING, Any

import pytest
from gates_helpers import hits, real, rendered_with
from releasing import git_project
from support import REPO, invoke, one_error_line, write

from keelson import diff, gates, valuesschema
from keelson import values as loading
from keelson.project import project
from keelson.record import RecordError, ReleaseRecord, write_record

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.models import Object

BASE64 = string.ascii_letters + string.digits + "+/"


def aws_pair(seed: str) -> tuple[str, str]:
    rng = random.Random(seed)
    key_id = "AK" + "IA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    return key_id, "".join(rng.choice(BASE64) for _ in range(40))


KEY_ID, SECRET_KEY = aws_pair("note")
NOTE_OVERLAY = f"""\
app:
  components:
    backend:
      config:
        NOTE: "id {KEY_ID} secret {SECRET_KEY}"
"""


def _shown(report: gates.GateReport) -> str:
    return gates.table(report) + json.dumps(gates.to_json(report)) + json.dumps(gates.to_sarif(report))


def test_an_aws_key_pair_in_an_innocent_key_fails_the_prod_gates_without_echo() -> None:
    report = rendered_with("prod", NOTE_OVERLAY).run()
    found = {(finding.subject.kind, finding.path) for finding in hits(report, "KEEL041")}
    assert ("Values", "app.components.backend.config.NOTE") in found
    assert ("ConfigMap", "data.NOTE") in found  # where the value lands in the render
    assert not report.ok
    shown = _shown(report)
    assert KEY_ID not in shown
    assert SECRET_KEY not in shown


def _list_with_secret(value: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "hidden", "namespace": "keelson"},
                "stringData": {"password": value},
            }
        ],
    }


def test_a_secret_inside_a_list_fails_keel042() -> None:
    release = real("prod")
    release.objects.append(_list_with_secret("hunter2-in-a-list"))
    found = hits(release.run(), "KEEL042")
    assert [(finding.object, finding.message) for finding in found] == [
        ("Secret/keelson/hidden", "carries stringData (password)")
    ]
    assert "hunter2-in-a-list" not in _shown(release.run())


def test_diff_never_prints_the_stringdata_of_a_secret_inside_a_list() -> None:
    report = diff.compare([_list_with_secret("hunter2-old")], [_list_with_secret("hunter2-new")])
    shown = diff.text(report) + json.dumps(diff.to_json(report))
    assert "hunter2" not in shown
    assert "<redacted: 11 bytes, hmac " in shown


def test_diff_redacts_secret_shaped_strings_of_any_object() -> None:
    def config(note: str) -> Object:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"NOTE": note, "app.env": f"LOG_LEVEL=info\nNOTE={note}\n", "LOG_LEVEL": "info"},
        }

    old, new = config("nothing to see"), config(KEY_ID)
    new["data"]["LOG_LEVEL"] = "debug"
    report = diff.compare([old], [new])
    shown = diff.text(report) + json.dumps(diff.to_json(report))
    assert KEY_ID not in shown
    assert '"info" → "debug"' in diff.text(report)  # ordinary values still show
    assert "+NOTE=<redacted: 20 bytes, hmac " in diff.text(report)


def _load_with(tmp_path: Path, text: str) -> list[str]:
    overlay = write(tmp_path / "overlay.yaml", text)
    return [str(finding) for finding in valuesschema.check(loading.load("prod", [overlay], project(REPO)))]


@pytest.mark.parametrize(
    "overlay",
    [
        "app:\n  componentDefaults:\n    replicas: {value}\n",  # a type error on a scalar
        "app:\n  {value}: 1\n",  # an unknown key
        "global:\n  env: {value}\n",  # an enum error
    ],
)
def test_schema_findings_never_show_a_secret_shaped_value(tmp_path: Path, overlay: str) -> None:
    findings = _load_with(tmp_path, overlay.format(value=KEY_ID))
    assert findings
    assert all(KEY_ID not in finding for finding in findings)


def test_schema_findings_still_show_short_innocent_values(tmp_path: Path) -> None:
    findings = _load_with(tmp_path, "global:\n  env: production\n")
    assert any('"production"' in finding for finding in findings), findings


def _record(user_values: dict[str, Any]) -> ReleaseRecord:
    return ReleaseRecord(
        env="prod",
        chart="keelson",
        version="1.0.0",
        charts=(),
        images=(),
        git_sha="0" * 40,
        git_dirty=False,
        commit_time="2026-01-01T00:00:00Z",
        values_digest="sha256:" + "0" * 64,
        values=user_values,
        objects=0,
        values_files=("values/prod.yaml",),
    )


def test_a_release_record_that_would_hold_a_secret_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "release.json"
    with pytest.raises(RecordError) as caught:
        write_record(_record({"app": {"components": {"backend": {"config": {"NOTE": KEY_ID}}}}}), target)
    assert caught.value.message.startswith(
        "release record of prod: values app.components.backend.config.NOTE: "
        "matches the aws-access-key-id format"
    )
    assert KEY_ID not in caught.value.message
    assert not target.exists()


def test_a_clean_record_keeps_the_values_files_and_digest(tmp_path: Path) -> None:
    target = tmp_path / "release.json"
    write_record(_record({"app": {"ingress": {"enabled": True}}}), target)
    data = json.loads(target.read_text())
    assert data["valuesFiles"] == ["values/prod.yaml"]
    assert data["valuesDigest"] == "sha256:" + "0" * 64


def test_invoke_package_refuses_a_record_with_a_secret_and_leaves_dist_unchanged(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    overlay = write(tmp_path / "note.yaml", NOTE_OVERLAY)
    done = invoke("package", "--env", "dev", "--values", str(overlay), cwd=prj.root, root=prj.root)
    one_error_line(done, "release record of dev: values app.components.backend.config.NOTE")
    assert KEY_ID not in done.stdout + done.stderr
    assert SECRET_KEY not in done.stdout + done.stderr
    assert not (prj.root / "dist" / "packages").exists()
