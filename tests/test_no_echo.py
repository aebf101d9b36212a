"""One rule for output: no value from an input is printed by the gates (table, JSON, SARIF), the
schema check, the diff or the release record; a Secret inside a ``List`` is caught and masked.

Secret-shaped samples are built at run time from parts (nothing in the repository looks like one).
"""

from __future__ import annotations

import json
import random
import re
import string
from typing import TYPE_CHECKING, Any

import pytest
from gates_helpers import hits, real, rendered_with
from releasing import git_project
from support import FIXTURE_PROJECT, REPO, copy_project, invoke, one_error_line, write

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


def test_schema_findings_never_show_even_a_short_innocent_value(tmp_path: Path) -> None:
    assert _load_with(tmp_path, "global:\n  env: production\n") == [
        f"{tmp_path / 'overlay.yaml'}: global.env: must be one of dev, staging, prod"
    ]


# One schema keyword each: (keyword, its schema, a value breaking it, the message). Every value
# carries "zq" so the test can tell that nothing of it reached the output.
KEYWORD_CASES: list[tuple[str, dict[str, Any], Any, str]] = [
    ("type", {"type": "integer"}, "zq-type", "must be an integer (got a string)"),
    ("enum", {"enum": ["a", True]}, "zq-enum", "must be one of a, true"),
    ("const", {"const": "fixed"}, "zq-const", "must be fixed"),
    ("pattern", {"type": "string", "pattern": "^[a-y]+$"}, "zqpattern", "must match ^[a-y]+$"),
    ("minimum", {"minimum": 0}, -987601, "must be at least 0"),
    ("maximum", {"maximum": 10}, 987602, "must be at most 10"),
    ("exclusiveMinimum", {"exclusiveMinimum": 0}, -987603, "must be greater than 0"),
    ("exclusiveMaximum", {"exclusiveMaximum": 10}, 987604, "must be less than 10"),
    ("multipleOf", {"multipleOf": 2}, 987605, "must be a multiple of 2"),
    ("minLength", {"minLength": 40}, "zq-minLength", "must be at least 40 characters long"),
    ("maxLength", {"maxLength": 3}, "zq-maxLength", "must be at most 3 characters long"),
    ("minItems", {"minItems": 3}, ["zq-minItems"], "must list at least 3 items"),
    ("maxItems", {"maxItems": 1}, ["zq-maxItems-a", "zq-maxItems-b"], "must list at most 1 items"),
    ("uniqueItems", {"uniqueItems": True}, ["zq-unique", "zq-unique"], "must not list an item twice"),
    ("minProperties", {"minProperties": 3}, {"k": "zq-minProperties"}, "must have at least 3 keys"),
    ("maxProperties", {"maxProperties": 1}, {"a": "zq-max-a", "b": "zq-max-b"}, "must have at most 1 keys"),
    ("not", {"not": {"type": "string"}}, "zq-not", "is not allowed here"),
    (
        "anyOf",
        {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
        "zq-anyOf",
        "breaks the schema's anyOf rule",
    ),
    (
        "oneOf",
        {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        "zq-oneOf",
        "breaks the schema's oneOf rule",
    ),
    ("contains", {"contains": {"const": 1}}, ["zq-contains"], "breaks the schema's contains rule"),
    ("errorMessage (must ...)", {"enum": ["x"], "errorMessage": "must be x"}, "zq-must", "must be x"),
    (
        "errorMessage (other)",
        {"enum": ["x"], "errorMessage": "only x is allowed"},
        "zq-other",
        "only x is allowed",
    ),
]


@pytest.fixture(scope="module")
def keyword_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture project with ``web.probe.<case>`` held to each case's schema."""
    prj = copy_project(FIXTURE_PROJECT, tmp_path_factory.mktemp("keywords") / "project")
    schema_file = prj.charts_dir / "web" / "values.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    cases = {f"case{index}": case_schema for index, (_, case_schema, _, _) in enumerate(KEYWORD_CASES)}
    cases["formatted"] = {"type": "string", "format": "ipv4"}
    schema["properties"]["probe"] = {"type": "object", "properties": cases}
    schema_file.write_text(json.dumps(schema), encoding="utf-8")
    return prj.root


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [(index, value, message) for index, (_, _, value, message) in enumerate(KEYWORD_CASES)],
    ids=[case[0] for case in KEYWORD_CASES],
)
def test_each_schema_keyword_names_what_is_allowed_and_never_the_value(
    keyword_project: Path, tmp_path: Path, index: int, value: Any, message: str
) -> None:
    overlay = write(tmp_path / "overlay.yaml", json.dumps({"web": {"probe": {f"case{index}": value}}}))
    found = valuesschema.check(loading.load("dev", [overlay], project(keyword_project)))
    assert [str(finding) for finding in found] == [f"{overlay}: web.probe.case{index}: {message}"]
    shown = str(found[0])
    assert "zq" not in shown
    assert not re.search(r"98760[0-9]", shown)


def test_format_is_an_annotation_as_in_helm(keyword_project: Path, tmp_path: Path) -> None:
    """Helm 4 does not assert ``format`` (a value breaking one installs), so the check does not either."""
    overlay = write(tmp_path / "overlay.yaml", "web:\n  probe:\n    formatted: zq-not-an-address\n")
    assert valuesschema.check(loading.load("dev", [overlay], project(keyword_project))) == []


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
