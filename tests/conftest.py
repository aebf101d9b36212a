"""Shared fixtures: the real project, a throwaway copy of the fixture project, and rendered objects.

``rendered(env)`` renders the real umbrella once per environment and test session (per xdist
worker), with the optional APIs present, and returns the objects; ``find_object`` picks one by kind
and name (also importable: ``from support import find_object``). The chart contract tests use both.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import pytest
from support import FIXTURE_PROJECT, REPO, copy_project, find_object

from keelson import values
from keelson.project import OPTIONAL_APIS, Project, project
from keelson.render import render

# The local control plane: the `cluster` and `namespace` fixtures and the `cluster` mark.
pytest_plugins = ("cluster_plugin",)

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.models import Object


@cache
def _render_env(env: str) -> list[Object]:
    prj = project(REPO)
    return render(values.load(env, (), prj).user, prj=prj, api_versions=OPTIONAL_APIS)


@pytest.fixture(scope="session")
def repo() -> Project:
    return project(REPO)


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], list[Object]]:
    """``rendered("prod")``: the real umbrella rendered for prod (cached for the session)."""
    return _render_env


@pytest.fixture(name="find_object", scope="session")
def find_object_fixture() -> Callable[[list[Object], str, str], Object]:
    return find_object


@pytest.fixture(scope="session")
def fixture_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """tests/fixtures/project copied out of the tree (rendering builds files inside the charts)."""
    return copy_project(FIXTURE_PROJECT, tmp_path_factory.mktemp("fixture") / "project")
