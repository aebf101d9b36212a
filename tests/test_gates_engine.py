"""The rule engine: registration, environments, waivers, and the one-line failure of enforce()."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gates_helpers import hits, real, rules_hit, without_waivers
from gates_spoilers import BACKEND, FRONTEND, host_path, latest_tag, moving_tag, privileged

from keelson import gates
from keelson.errors import KeelsonError
from keelson.gates import engine


def test_rules_are_well_formed() -> None:
    ids = [item.id for item in gates.rules()]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    for item in gates.rules():
        assert re.fullmatch(r"KEEL\d{3}", item.id)
        assert item.title
        assert item.remediation
        assert "\n" not in item.remediation
        assert item.severity in ("error", "warning")
        assert item.envs
        assert set(item.envs) <= {"dev", "staging", "prod"}
    concerns = {item.concern for item in gates.rules()} - {"engine"}
    assert concerns == {
        "images",
        "availability",
        "security",
        "network",
        "secrets",
        "ingress",
        "labels",
        "apis",
    }


def test_rule_ids_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="KEEL001 is registered twice"):
        engine.rule("KEEL001", "again", remediation="none")(lambda ctx: ())


def test_modules_stay_small() -> None:
    for module in Path(engine.__file__).parent.glob("*.py"):
        assert len(module.read_text(encoding="utf-8").splitlines()) < 400, module.name


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(gates.GateError, match=r"not an environment \(allowed: ") as refused:
        gates.run("qa", [], {})
    assert "qa" not in str(refused.value)


def test_enforce_passes_the_real_prod_render() -> None:
    release = real("prod")
    report = gates.enforce("prod", release.objects, release.values)
    assert report.ok


def test_enforce_names_rule_and_object_in_one_line() -> None:
    release = real("prod")
    latest_tag(release)
    privileged(release)
    with pytest.raises(gates.GateError) as failure:
        gates.enforce("prod", release.objects, release.values)
    assert isinstance(failure.value, KeelsonError)
    message = failure.value.message
    assert "\n" not in message
    assert message.startswith(
        f"gates prod: KEEL001 Deployment keelson/{BACKEND}: "
        'container "backend": image tag "latest" is not pinned (remediation: set image.tag'
    )
    assert re.search(r"\(and 1 more\W+invoke gates --env prod lists them all\)$", message)


def test_warnings_do_not_fail() -> None:
    release = without_waivers(real("staging"))
    moving_tag(release)
    report = gates.enforce("staging", release.objects, release.values)
    assert f"Deployment/keelson/{BACKEND}" in {finding.object for finding in report.warnings}
    assert {finding.rule for finding in report.warnings} == {"KEEL002"}
    assert report.errors == []
    assert report.ok


def test_a_waiver_with_a_reason_moves_the_finding_aside() -> None:
    release = real("prod")
    host_path(release)
    release.values["gates"] = {
        "waive": [
            {
                "rule": "KEEL026",
                "object": f"Deployment/keelson/{BACKEND}",  # security rules take no glob (KEEL000)
                "reason": "reads the node's log files; the agent runs read-only",
            }
        ]
    }
    report = gates.enforce("prod", release.objects, release.values)
    assert report.findings == []
    assert [(finding.rule, finding.object, finding.waiver) for finding in report.waived] == [
        ("KEEL026", f"Deployment/keelson/{BACKEND}", "reads the node's log files; the agent runs read-only")
    ]


def test_a_waiver_covers_only_its_rule_and_objects() -> None:
    release = real("prod")
    host_path(release)
    privileged(release)
    release.values["gates"] = {
        "waive": [
            {"rule": "KEEL026", "object": f"Deployment/keelson/{FRONTEND}", "reason": "not the backend"}
        ]
    }
    report = release.run()
    assert {"KEEL025", "KEEL026"} <= rules_hit(report)
    # ... and says that it waived nothing.
    config = hits(report, "KEEL000")
    assert [(finding.severity, finding.message) for finding in config] == [
        ("warning", f"the waiver of KEEL026 for Deployment/keelson/{FRONTEND} covers no finding (remove it)")
    ]


@pytest.mark.parametrize(
    ("waiver", "message"),
    [
        (
            {"rule": "KEEL026", "object": "Deployment/keelson/x"},
            "the waiver of KEEL026 for Deployment/keelson/x has no reason",
        ),
        ({"rule": "KEEL026", "object": "Deployment/keelson/x", "reason": "  "}, "has no reason"),
        (
            {"rule": "KEEL999", "object": "Deployment/keelson/x", "reason": "why"},
            "rule 'KEEL999' is not a gate rule",
        ),
        ({"rule": "KEEL000", "object": "Values", "reason": "why"}, "rule 'KEEL000' is not a gate rule"),
        ({"rule": "KEEL026", "reason": "why"}, "object is missing"),
        ({"rule": "KEEL026", "object": "x", "reason": "why", "until": "2027"}, "unknown key(s) until"),
        ("KEEL026", "a waiver must be a mapping"),
    ],
)
def test_a_bad_waiver_is_itself_an_error(waiver: object, message: str) -> None:
    release = real("prod")
    release.values["gates"] = {"waive": [waiver]}
    report = release.run()
    found = hits(report, "KEEL000")
    assert len(found) == 1
    assert found[0].severity == "error"
    assert message in found[0].message
    assert found[0].path.startswith("gates.waive[0]")
    with pytest.raises(gates.GateError, match=r"^gates prod: KEEL000 Values: "):
        gates.enforce("prod", release.objects, release.values)


def test_a_waiver_cannot_cover_a_bad_waiver() -> None:
    release = real("prod")
    release.values["gates"] = {
        "waive": [
            {"rule": "KEEL026", "object": "*"},
            {"rule": "KEEL040", "object": "*", "reason": "everything"},
        ]
    }
    assert any(
        finding.rule == "KEEL000" and finding.severity == "error" for finding in release.run().findings
    )


def test_a_waiver_for_a_missing_object_is_reported() -> None:
    release = real("prod")
    release.values["gates"] = {
        "waive": [
            {
                "rule": "KEEL026",
                "object": "DaemonSet/keelson/keelson-node-agent",
                "reason": "the node agent reads /var/log",
            }
        ]
    }
    found = hits(release.run(), "KEEL000")
    assert [finding.message for finding in found] == [
        "the waiver of KEEL026 for DaemonSet/keelson/keelson-node-agent matches no rendered object"
    ]
    assert found[0].severity == "warning"


def test_a_waiver_of_a_rule_that_does_not_apply_to_the_env_is_silent() -> None:
    release = real("dev")
    release.values["gates"] = {
        "waive": [{"rule": "KEEL010", "object": "Deployment/keelson/x", "reason": "prod only"}]
    }
    assert release.run().findings == []


def test_gates_settings_are_not_scanned_for_secrets() -> None:
    release = real("prod")
    latest_tag(release)
    release.values["gates"] = {
        "waive": [
            {
                "rule": "KEEL001",
                "object": f"Deployment/keelson/{BACKEND}",
                "reason": "token rotation test image q8Zr2LmX9vTb4NcW7pKd1sYe",
            }
        ]
    }
    report = release.run()
    assert report.findings == []
    assert [finding.rule for finding in report.waived] == ["KEEL001"]


def test_findings_name_their_template_or_values_file() -> None:
    release = real("prod")
    latest_tag(release)
    release.values["app"]["components"]["backend"]["config"]["SMTP_PASSWORD"] = "correct-horse-battery"
    report = gates.run(
        "prod",
        release.objects,
        release.values,
        sources=release.sources,
        values_source=lambda path: "values/prod.yaml" if path[:1] == ("app",) else "?",
    )
    sources = {finding.rule: finding.source for finding in report.findings}
    assert sources == {"KEEL001": "charts/app/templates/deployment.yaml", "KEEL040": "values/prod.yaml"}
    paths = {finding.rule: finding.path for finding in report.findings}
    assert paths == {
        "KEEL001": "spec.template.spec.containers[0].image",
        "KEEL040": "app.components.backend.config.SMTP_PASSWORD",
    }
