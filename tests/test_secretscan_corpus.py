"""Recall of the secret detector on generated samples of every kind, and no false positive on the
project's own renders and values. The samples come from scripts/bench_secrets.py (seeded, built at
run time: the repository holds nothing secret-shaped), which prints the same figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from keelson import secretscan, values
from keelson.project import ENVS, project

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from keelson.models import Object

SAMPLES = 1000
MIN_RECALL = 0.99


def _bench() -> ModuleType:
    script = Path(__file__).resolve().parent.parent / "scripts" / "bench_secrets.py"
    spec = importlib.util.spec_from_file_location("bench_secrets", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


@pytest.mark.parametrize("kind", list(BENCH.KINDS))
def test_recall_per_kind_is_at_least_99_percent(kind: str) -> None:
    found, missed = BENCH.recall(kind, SAMPLES, seed=7)
    assert found / SAMPLES >= MIN_RECALL, f"{kind}: {found}/{SAMPLES} found, {len(missed)} missed"


def test_samples_differ_per_seed_so_recall_is_not_fitted_to_one_draw() -> None:
    for kind in BENCH.KINDS:
        found, _ = BENCH.recall(kind, 200, seed=11)
        assert found / 200 >= MIN_RECALL - 0.02, kind


def test_no_false_positive_on_generated_innocent_strings() -> None:
    assert BENCH.innocent_hits(SAMPLES * 5, seed=7) == {}


@pytest.mark.parametrize("env", ENVS)
def test_no_false_positive_on_the_projects_render_and_values(
    env: str, rendered: Callable[[str], list[Object]]
) -> None:
    merged = values.load(env, (), project()).merged
    found = [("values", path, hit.kind) for path, hit in secretscan.scan(merged)]
    for obj in rendered(env):
        name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        found += [(name, path, hit.kind) for path, hit in secretscan.scan(obj)]
    assert found == []
