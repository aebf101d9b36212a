"""Cross-checks: checkov, kube-score and kube-linter find nothing on the prod render but the listed skips.

The scanners are pinned tools of the test profile (scripts/bootstrap --test puts them in
.tools/bin); without one, its test fails with the line that says so. The skips live in
gates/scanner-skips.yaml, one reason per check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import scanners_support as scanners
from gates_helpers import real

from keelson.errors import ToolError, ValuesError
from keelson.project import project
from keelson.yamlio import dump_all

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def prod_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole prod render (every chart the umbrella enables, optional APIs included) in one file."""
    path = tmp_path_factory.mktemp("scan") / "prod.yaml"
    path.write_text(dump_all(real("prod").objects), encoding="utf-8")
    return path


def _scan(scanner: str, manifest: Path) -> scanners.ScanResult:
    try:
        project().tool(scanner)
    except ToolError as exc:
        pytest.fail(exc.message)  # "<scanner> not found in .tools/bin; run scripts/bootstrap --test"
    return scanners.scan(scanner, manifest)


@pytest.mark.parametrize("scanner", scanners.SCANNERS)
def test_prod_render_passes_the_scanner(scanner: str, prod_manifest: Path) -> None:
    result = _scan(scanner, prod_manifest)
    assert [str(failure) for failure in result.failures] == []
    if scanner != "kube-linter":  # kube-linter reports failures only
        assert result.passed > 0, "the scanner checked nothing: is the manifest empty?"


@pytest.mark.parametrize(
    ("scanner", "break_it", "check"),
    [
        ("checkov", "privileged", "CKV_K8S_16"),
        ("kube-score", "no_limits", "container-resources"),
        ("kube-linter", "privileged", "privileged-container"),
    ],
)
def test_scanner_catches_a_spoiled_render(scanner: str, break_it: str, check: str, tmp_path: Path) -> None:
    """The scanner runs for real: a broken render fails it, so a silent scanner cannot pass the test above."""
    release = real("prod")
    container = release.container("keelson-app-backend")
    if break_it == "privileged":
        container["securityContext"]["privileged"] = True
    else:
        del container["resources"]["limits"]
    manifest = tmp_path / "spoiled.yaml"
    manifest.write_text(dump_all(release.objects), encoding="utf-8")
    result = _scan(scanner, manifest)
    assert check in {failure.check for failure in result.failures}


def test_every_skip_has_a_reason() -> None:
    skips = scanners.load_skips()
    assert set(skips) <= set(scanners.SCANNERS)
    for entries in skips.values():
        for skip in entries:
            assert skip.check
            assert len(skip.reason) >= 40, f"{skip.check}: say why it is skipped"


def test_skip_file_is_checked(tmp_path: Path) -> None:
    (tmp_path / "gates").mkdir()
    bad = tmp_path / "gates" / "scanner-skips.yaml"
    prj = type(project())(tmp_path)
    for text, error in [
        ("checkov:\n  - check: CKV_K8S_1\n", "each skip has a check and a reason"),
        ("checkov:\n  - {check: CKV_K8S_1, reason: ''}\n", "must not be empty"),
        ("checkov:\n  - {check: CKV_K8S_1, reason: why, objects: []}\n", "objects must be a non-empty list"),
        ("checkov:\n  - {check: CKV_K8S_1, reason: why, objects: [keelson-app]}\n", "Kind/namespace/name"),
        ("checkov:\n  - {check: C1, reason: a}\n  - {check: C1, reason: b}\n", "C1 is listed twice"),
        ("trivy: []\n", "trivy: not a scanner"),
    ]:
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValuesError, match=error):
            scanners.load_skips(prj)


def test_a_skip_with_objects_forgives_only_those() -> None:
    skip = scanners.Skip("CKV_K8S_38", "the agent calls the API", ("DaemonSet/*/*-alloy-agent",))
    agent = scanners.Failure("checkov", "CKV_K8S_38", "DaemonSet/keelson/keelson-alloy-agent", "token")
    app = scanners.Failure("checkov", "CKV_K8S_38", "Deployment/keelson/keelson-app-backend", "token")
    other = scanners.Failure("checkov", "CKV_K8S_16", "DaemonSet/keelson/keelson-alloy-agent", "privileged")
    assert [skip.covers(failure) for failure in (agent, app, other)] == [True, False, False]
