"""Every committed values schema is a valid JSON schema: checked here, so that `check` need not.

valuesschema checks a schema against its metaschema only when validating with it fails; a schema
that is wrong but never fails (a misspelt keyword value that validation does not read) is caught here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import FIXTURE_PROJECT, REPO

from keelson import valuesschema
from keelson.errors import SchemaError

SCHEMAS = sorted(
    [*REPO.glob("charts/*/values.schema.json"), *FIXTURE_PROJECT.glob("charts/*/values.schema.json")]
)


def test_there_are_schemas_to_check() -> None:
    assert len(SCHEMAS) >= 8


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda path: str(Path(path).relative_to(REPO)))
def test_each_schema_passes_its_metaschema(path: Path) -> None:
    valuesschema.check_schema(path, json.loads(path.read_text(encoding="utf-8")))


def test_a_schema_that_fails_its_metaschema_is_named(tmp_path: Path) -> None:
    path = tmp_path / "values.schema.json"
    with pytest.raises(
        SchemaError, match=r"values\.schema\.json: properties/x/minimum: not a valid JSON schema"
    ):
        valuesschema.check_schema(path, {"properties": {"x": {"minimum": "three"}}})
