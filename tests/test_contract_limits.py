"""The cardinality guard, read from the render: Mimir's per-tenant series limits and Loki's stream
limits, per environment, field by field (README "Cardinality").

The telemetry contract keeps job_run_id, started_at and ended_at as metric labels, so every run
makes new series; these limits are what stops one runaway pipeline from filling the ingesters.
The limits are also keys the config models know and type-check (tests/test_configmodels.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import yaml

from keelson import configmodels
from keelson.configmodels import loki, mimir

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.configmodels.program import Program
    from keelson.models import Object

MIMIR_LIMITS: dict[str, dict[str, Any]] = {
    "dev": {
        "max_global_series_per_user": 50000,
        "max_global_series_per_metric": 10000,
        "ingestion_rate": 10000,
        "ingestion_burst_size": 200000,
        "max_label_names_per_series": 30,
    },
    "staging": {
        "max_global_series_per_user": 300000,
        "max_global_series_per_metric": 30000,
        "ingestion_rate": 50000,
        "ingestion_burst_size": 500000,
        "max_label_names_per_series": 30,
    },
    "prod": {
        "max_global_series_per_user": 1500000,
        "max_global_series_per_metric": 100000,
        "ingestion_rate": 150000,
        "ingestion_burst_size": 1500000,
        "max_label_names_per_series": 30,
    },
}

LOKI_LIMITS: dict[str, dict[str, Any]] = {
    "dev": {
        "max_global_streams_per_user": 1000,
        "max_streams_per_user": 1000,
        "ingestion_rate_mb": 4,
        "ingestion_burst_size_mb": 6,
        "per_stream_rate_limit": "3MB",
        "max_label_names_per_series": 15,
    },
    "staging": {
        "max_global_streams_per_user": 5000,
        "max_streams_per_user": 5000,
        "ingestion_rate_mb": 8,
        "ingestion_burst_size_mb": 12,
        "per_stream_rate_limit": "3MB",
        "max_label_names_per_series": 15,
    },
    "prod": {
        "max_global_streams_per_user": 25000,
        "max_streams_per_user": 25000,
        "ingestion_rate_mb": 16,
        "ingestion_burst_size_mb": 32,
        "per_stream_rate_limit": "5MB",
        "max_label_names_per_series": 15,
    },
}


def _config(objects: list[Object], program: Program) -> dict[str, Any]:
    found = configmodels.rendered_config(objects, program)
    assert found is not None
    document = yaml.safe_load(found[1])
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_mimir_series_limits_per_env(rendered: Callable[[str], list[Object]], env: str) -> None:
    limits = _config(rendered(env), mimir.PROGRAM)["limits"]
    for key, expected in MIMIR_LIMITS[env].items():
        assert limits[key] == expected, key
    # Retention sits in the same block; it is the only other key there.
    assert set(limits) == {*MIMIR_LIMITS[env], "compactor_blocks_retention_period"}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_loki_stream_limits_per_env(rendered: Callable[[str], list[Object]], env: str) -> None:
    limits = _config(rendered(env), loki.PROGRAM)["limits_config"]
    for key, expected in LOKI_LIMITS[env].items():
        assert limits[key] == expected, key
    assert set(limits) == {*LOKI_LIMITS[env], "retention_period"}


def test_prod_limits_are_above_dev() -> None:
    """Sized, not copied: every prod limit is larger than dev's, and no limit is switched off (0)."""
    for table in (MIMIR_LIMITS, LOKI_LIMITS):
        for key, dev in table["dev"].items():
            if isinstance(dev, int) and key != "max_label_names_per_series":
                assert table["prod"][key] > dev > 0, key


def test_the_models_know_and_type_the_limit_keys() -> None:
    for program, block, keys in (
        (mimir.PROGRAM, "limits", MIMIR_LIMITS["prod"]),
        (loki.PROGRAM, "limits_config", LOKI_LIMITS["prod"]),
    ):
        known = program.model.fields[block]
        assert isinstance(known, type(program.model))
        for key in keys:
            assert key in known.fields, (program.name, key)
            assert known.fields[key].check("not-a-limit", (block, key)) != [], (program.name, key)
