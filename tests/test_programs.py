"""The real programs accept the rendered configs, per environment (keelson/programs.py says how).

scripts/bootstrap always builds the programs (scripts/pins.txt, kind ``gosrc``), so a missing one
is a failure that says to run it, never a skip. Each check is also shown rejecting a spoiled config,
so a check that passes everything would fail here.

- Alloy: tests/test_alloy.py runs the real program (``alloy validate`` and ``alloy run``).
- Tempo 2.10: no build (the proxy serves no 2.x release); every key must be in the key list of
  tests/fixtures/programs/tempo-config-keys.txt, taken from Tempo's config reference. Weaker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support import REPO

from keelson import programs

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object

ENVS = ("dev", "staging", "prod")
TEMPO_KEYS = programs.load_key_list(
    (REPO / "tests" / "fixtures" / "programs" / "tempo-config-keys.txt").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("env", ENVS)
def test_tempo_config_keys_are_in_the_reference(rendered: Callable[[str], list[Object]], env: str) -> None:
    config = programs.config_text(rendered(env), "tempo")
    assert programs.unknown_keys(config, TEMPO_KEYS) == []


def test_tempo_key_check_rejects_unknown_keys(rendered: Callable[[str], list[Object]]) -> None:
    config = programs.config_text(rendered("prod"), "tempo")
    spoiled = config.replace("block_retention:", "block_retension:").replace("bucket:", "buckett:")
    assert programs.unknown_keys(spoiled, TEMPO_KEYS) == [
        "compactor.compaction.block_retension",
        "storage.trace.s3.buckett",
    ]


def test_key_paths_and_patterns() -> None:
    document = "a:\n  b: 1\n  list:\n  - {c: 1, d: 2}\n  scalars: [1, 2]\n  open: {x: 1}\n"
    assert programs.unknown_keys(document, ["a.b", "a.list[].c", "a.list[].d", "a.scalars", "a.open.*"]) == []
    assert programs.unknown_keys(document, ["a.*"]) == []
    assert programs.unknown_keys(document, ["a.b"]) == ["a.list[].c", "a.list[].d", "a.scalars", "a.open.x"]
