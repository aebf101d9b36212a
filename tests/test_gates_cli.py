"""Acceptance: an override that breaks a production rule fails `invoke check` and `invoke release`
for prod with the rule id in one clear line, and nothing is written to dist/.

`latest` is refused already by the charts' own validation and a password literal by the values
schema, whose messages name the same gate rule; a dropped PDB and a privileged container pass both
and the gates refuse them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from releasing import git_project, tree_hash
from support import invoke, one_error_line, write

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

OVERRIDES = [
    pytest.param("KEEL001", "app: {components: {backend: {image: {tag: latest}}}}\n", id="latest"),
    pytest.param("KEEL012", "app: {componentDefaults: {pdb: {enabled: false}}}\n", id="no-pdb"),
    pytest.param(
        "KEEL025", "app: {components: {frontend: {securityContext: {privileged: true}}}}\n", id="privileged"
    ),
    pytest.param(
        "KEEL040",
        "app: {components: {backend: {env: [{name: DB_PASSWORD, value: hunter2}]}}}\n",
        id="password",
    ),
]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A clean git copy of the project: release refuses prod from a dirty tree."""
    return git_project(tmp_path_factory.mktemp("gates-cli") / "project")


@pytest.mark.parametrize(("rule", "overlay"), OVERRIDES)
@pytest.mark.parametrize("command", [("check",), ("release",)])
def test_override_fails_prod_with_the_rule_id(
    project_copy: Project, tmp_path: Path, command: tuple[str, ...], rule: str, overlay: str
) -> None:
    root = project_copy.root
    (root / "dist").mkdir(exist_ok=True)
    before = tree_hash(root / "dist")
    file = write(tmp_path / "override.yaml", overlay)
    done = invoke(command[0], "--env", "prod", "--values", str(file), *command[1:], root=root, cwd=root)
    line = one_error_line(done, rule)
    assert "hunter2" not in done.stdout + done.stderr
    assert line
    assert tree_hash(root / "dist") == before
