"""The real programs accept the rendered configs, per environment (tests/programs_support.py says how).

scripts/bootstrap always builds the programs (scripts/pins.txt, kind ``gosrc``), so a missing one
is a failure that says to run it, never a skip. Each check is also shown rejecting a spoiled config,
so a check that passes everything would fail here.

- Alloy v1.18.0 (the chart's version): Alloy's own ``alloy fmt`` (parser and printer), then every
  component must be one v1.18.0 registers and every reference must resolve. ``alloy validate``
  needs the full binary, which the proxy cannot supply (it refuses ~50 dependency versions).

Tempo's config is judged by its model (keelson/configmodels, tests/test_configmodels.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import programs_support as programs
import pytest
from support import FIXTURE_PROJECT

from keelson.errors import ToolError
from keelson.project import project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

ENVS = ("dev", "staging", "prod")


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("config", ["alloy-agent", "alloy-gateway"])
def test_alloy_accepts_the_rendered_config(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, env: str, config: str
) -> None:
    verdict = programs.check_alloy(repo, rendered(env), config, tmp_path)
    assert verdict.ok, str(verdict)


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (
            (
                "targets    = discovery.relabel.pod_logs.output",
                "targets    = discovery.relabel.pod_logs.output,",
            ),
            "",
        ),
        (('loki.source.kubernetes "pods" {', 'loki.source.kubernets "pods" {'), "loki.source.kubernets"),
        (("forward_to = [loki.write.loki.receiver]", "forward_to = [loki.write.lokii.receiver]"), '"lokii"'),
        (('role = "pod"', 'role = "pod'), ""),
    ],
)
def test_alloy_rejects_a_spoiled_config(
    rendered: Callable[[str], list[Object]], repo: Project, tmp_path: Path, spoil: tuple[str, str], said: str
) -> None:
    objects = rendered("prod")
    text = programs.config_text(objects, "alloy-agent")
    assert spoil[0] in text
    verdict = programs.check_alloy(
        repo, objects, "alloy-agent", tmp_path, text.replace(spoil[0], spoil[1], 1)
    )
    assert not verdict.ok, str(verdict)
    assert said in verdict.output


def test_alloy_component_list_is_the_pinned_release(repo: Project) -> None:
    all_go = (repo.root / ".tools" / "share" / "alloy-fmt" / "all.go").read_text(encoding="utf-8")
    components = programs.registered_components(all_go)
    assert {
        "loki.source.kubernetes",
        "otelcol.receiver.otlp",
        "faro.receiver",
        "prometheus.remote_write",
    } <= (components)
    assert len(components) > 100


def test_a_missing_program_fails_and_says_to_run_bootstrap(
    rendered: Callable[[str], list[Object]], tmp_path: Path
) -> None:
    """Not a skip: bootstrap always builds the programs, so their absence is a broken checkout."""
    bare = project(FIXTURE_PROJECT)  # a project without .tools
    with pytest.raises(ToolError, match=r"alloy-fmt not found in \.tools/bin; run scripts/bootstrap"):
        programs.check_alloy(bare, rendered("dev"), "alloy-agent", tmp_path)
