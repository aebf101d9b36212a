"""The JSON-schema check: one finding per problem, naming file, key path, what is wrong and allowed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support import FIXTURE_PROJECT, copy_project, write

from keelson import values, valuesschema
from keelson.errors import SchemaError

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project


def findings(prj: Project, tmp_path: Path, overlay: str, env: str = "dev") -> list[str]:
    file = write(tmp_path / "over.yaml", overlay)
    return [str(finding) for finding in valuesschema.check(values.load(env, [file], prj))]


def test_clean_values_have_no_findings(fixture_project: Project) -> None:
    for env in ("dev", "staging", "prod"):
        assert valuesschema.check(values.load(env, [], fixture_project)) == []


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("web:\n  replicas: -1\n", "web.replicas: must be at least 0"),
        ("web:\n  replicas: lots\n", "web.replicas: must be an integer (got a string)"),
        ("web:\n  mode: c\n", "web.mode: must be one of a, b"),
        ("web:\n  cpu: lots\n", "web.cpu: must be a Kubernetes quantity such as 500m, 1, 256Mi"),
        (
            "web:\n  hosts: [{host: app example.com}]\n",
            "web.hosts[0].host: must be a DNS host name such as app.example.com",
        ),
        ("web:\n  port: HTTP\n", "web.port: must be a port number (1-65535) or a port name"),
        ("web:\n  port: 70000\n", "web.port: must be a port number (1-65535) or a port name"),
        ("web:\n  image: {repository: null}\n", "web.image.repository: required key is missing"),
        (
            "web:\n  config: {DB_PASSWORD: x}\n",
            "web.config.DB_PASSWORD: must not name a secret",
        ),
        ("web:\n  monitoring: maybe\n", "web.monitoring: monitoring is true or false"),
        (
            "web:\n  annotations: {cert-manager.io/cluster-issuer: 1}\n",
            'web.annotations["cert-manager.io/cluster-issuer"]: must be a string (got an integer)',
        ),
    ],
)
def test_message_shapes(fixture_project: Project, tmp_path: Path, overlay: str, expected: str) -> None:
    assert findings(fixture_project, tmp_path, overlay) == [f"{tmp_path / 'over.yaml'}: {expected}"]


def test_unknown_key_is_named_in_the_path_with_the_allowed_keys(
    fixture_project: Project, tmp_path: Path
) -> None:
    [finding] = findings(fixture_project, tmp_path, "web:\n  replcas: 3\n")
    assert finding.startswith(
        f"{tmp_path / 'over.yaml'}: web.replcas: unknown key; did you mean replicas? (allowed: "
    )
    assert (
        "annotations, config, cpu, enabled, env, failMe, global, hosts, image, lib, mode, monitoring, port"
        in finding
    )


def test_secret_literal_is_refused_without_echoing_the_secret(
    fixture_project: Project, tmp_path: Path
) -> None:
    [finding] = findings(fixture_project, tmp_path, "web:\n  env: [{name: DB_PASSWORD, value: hunter2}]\n")
    assert (
        finding
        == f"{tmp_path / 'over.yaml'}: web.env[0]: a secret-looking variable must not carry a literal value"
    )
    assert "hunter2" not in finding


def test_if_then_rule_applies_in_prod_only(fixture_project: Project, tmp_path: Path) -> None:
    overlay = "web:\n  image: {tag: latest}\n"
    assert findings(fixture_project, tmp_path, overlay, env="dev") == []
    assert findings(fixture_project, tmp_path, overlay, env="prod") == [
        f"{tmp_path / 'over.yaml'}: web.image.tag: must be a version in prod, not latest"
    ]


def test_a_bad_global_is_reported_once_where_the_user_sets_it(
    fixture_project: Project, tmp_path: Path
) -> None:
    # The umbrella and the web chart both check global.env (web sees it as web.global.env).
    assert findings(fixture_project, tmp_path, "global:\n  env: qa\n") == [
        f"{tmp_path / 'over.yaml'}: global.env: must be one of dev, staging, prod"
    ]


def test_all_findings_sorted_by_path_with_their_files(fixture_project: Project, tmp_path: Path) -> None:
    result = findings(fixture_project, tmp_path, "web:\n  replicas: -1\n  mode: c\nnote: 1\n")
    over = tmp_path / "over.yaml"
    assert result == [
        f"{over}: note: must be a string (got an integer)",
        f"{over}: web.mode: must be one of a, b",
        f"{over}: web.replicas: must be at least 0",
    ]


def test_error_in_a_chart_default_names_the_chart_file(tmp_path: Path) -> None:
    prj = copy_project(FIXTURE_PROJECT, tmp_path / "project")
    defaults = prj.charts_dir / "web" / "values.yaml"
    defaults.write_text(defaults.read_text().replace("mode: a", "mode: c"))
    assert [str(f) for f in valuesschema.check(values.load("prod", [], prj))] == [
        "charts/web/values.yaml: web.mode: must be one of a, b"
    ]


def test_disabled_subchart_is_not_checked_against_its_schema(
    fixture_project: Project, tmp_path: Path
) -> None:
    # extra has no schema of its own; the umbrella only asks for a mapping. Enabling it is clean.
    assert findings(fixture_project, tmp_path, "extra:\n  enabled: true\n  anything: 1\n") == []


def test_first_finding_becomes_the_error_line(fixture_project: Project, tmp_path: Path) -> None:
    file = write(tmp_path / "over.yaml", "web:\n  replicas: -1\n  mode: c\n")
    found = valuesschema.check(values.load("dev", [file], fixture_project))
    error = SchemaError.from_findings(found, "listed above")
    assert str(error) == f"{file}: web.mode: must be one of a, b (and 1 more, listed above)"


def test_a_broken_schema_is_one_clear_error(tmp_path: Path) -> None:
    prj = copy_project(FIXTURE_PROJECT, tmp_path / "project")
    (prj.charts_dir / "web" / "values.schema.json").write_text('{"type": "nope"}')
    with pytest.raises(
        SchemaError, match=r"charts/web/values\.schema\.json: type: not a valid JSON schema: "
    ):
        valuesschema.check(values.load("dev", [], prj))


def test_a_message_that_starts_with_its_key_does_not_repeat_it() -> None:
    path = ("anonymous", "enabled")
    strip = valuesschema._without_key
    assert strip("anonymous.enabled must be false in prod", path) == "must be false in prod"
    assert strip("storage.backend: prod needs s3", ("storage", "backend")) == "prod needs s3"
    assert strip("enabled must be false", path) == "must be false"
    assert strip("must be a DNS label", path) == "must be a DNS label"
    assert strip("anonymousness is unrelated", path) == "anonymousness is unrelated"
    assert strip("enabled is true or false", path) == "enabled is true or false"
