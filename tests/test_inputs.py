"""Inputs that cannot hurt: every hostile values file is refused by the real CLI with one line.

Each case runs ``invoke schema --env dev --values FILE`` on a copy of the project and asserts exit
status 1, a single ``error:`` line on stderr naming the file and the limit, no traceback, nothing
from the file's content in the output, and ``dist/`` untouched. The subprocess timeout (60 s) only
guards against a hang; the time itself is not asserted.
"""

from __future__ import annotations

import os
import random
import string
from typing import TYPE_CHECKING

import pytest
from support import REPO, copy_project, invoke, one_error_line, write

from keelson import yamlio
from keelson.errors import ValuesError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from keelson.project import Project

GUARD_SECONDS = 60


@pytest.fixture(scope="module")
def prj(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return copy_project(REPO, tmp_path_factory.mktemp("inputs") / "project")


def _token(seed: str, length: int = 36) -> str:
    """A GitHub-shaped token built at run time (no literal in the repository looks like one)."""
    rng = random.Random(seed)
    return "gh" + "p_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def _snapshot(root: Path) -> dict[str, bytes]:
    dist = root / "dist"
    return {str(p.relative_to(dist)): p.read_bytes() for p in dist.rglob("*") if p.is_file()}


def _refused(prj: Project, target: Path, *fragments: str, secrets: tuple[str, ...] = ()) -> str:
    before = _snapshot(prj.root)
    done = invoke("schema", "--env", "dev", "--values", str(target), cwd=prj.root, root=prj.root)
    line = one_error_line(done, prj.display(target), *fragments)
    for secret in secrets:
        assert secret not in done.stdout + done.stderr
    assert _snapshot(prj.root) == before
    return line


def fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "values.yaml")
    return tmp / "values.yaml"


def directory(tmp: Path) -> Path:
    (tmp / "values.yaml").mkdir()
    return tmp / "values.yaml"


def oversized(tmp: Path) -> Path:
    path = tmp / "values.yaml"
    with path.open("w", encoding="utf-8") as stream:
        stream.write("app:\n  components: {}\n")
        stream.write(("# padding\n" * 100_000) * 6)  # 6 MB of comments
    return path


def deep(tmp: Path) -> Path:
    return write(tmp / "values.yaml", "app: " + "[" * 100_000 + "]" * 100_000 + "\n")


def deep_block(tmp: Path) -> Path:
    lines = [f"{'  ' * level}k{level}:" for level in range(500)]
    return write(tmp / "values.yaml", "\n".join(lines) + " 1\n")


def alias_bomb(tmp: Path) -> Path:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{','.join(['*' + previous] * 9)}]")
    return write(tmp / "values.yaml", "\n".join(lines) + "\n")


def self_alias(tmp: Path) -> Path:
    return write(tmp / "values.yaml", "app: &loop\n  again: *loop\n")


def duplicate(tmp: Path) -> Path:
    return write(tmp / "values.yaml", "app:\n  ingress:\n    enabled: true\n  ingress:\n    enabled: false\n")


CASES: list[tuple[str, Callable[[Path], Path], tuple[str, ...]]] = [
    ("fifo", fifo, ("FIFO", "must be a regular file")),
    ("directory", directory, ("a directory", "must be a regular file")),
    ("over 1 MiB", oversized, ("over the limit of 1048576 bytes",)),
    ("100,000 nested lists", deep, (":1:", "nesting deeper than 64 levels")),
    ("500 nested mappings", deep_block, ("nesting deeper than 64 levels",)),
    ("alias bomb", alias_bomb, ("aliases expand to more than 10000 nodes",)),
    ("alias inside its anchor", self_alias, ("alias inside its own anchor",)),
    ("duplicate key", duplicate, (":4:3:", 'duplicate key "ingress" (first at line 2)', "Flux refuses")),
]


@pytest.mark.parametrize(("case", "make", "fragments"), CASES, ids=[case[0] for case in CASES])
def test_hostile_values_file_is_refused_with_one_line(
    prj: Project, tmp_path: Path, case: str, make: Callable[[Path], Path], fragments: tuple[str, ...]
) -> None:
    _refused(prj, make(tmp_path), *fragments)


def test_a_device_is_refused_without_reading_it(prj: Project) -> None:
    done = invoke("schema", "--env", "dev", "--values", "/dev/zero", cwd=prj.root, root=prj.root)
    one_error_line(done, "/dev/zero", "a character device", "must be a regular file")


def test_a_symlink_out_of_the_project_is_refused_unread(prj: Project, tmp_path: Path) -> None:
    key = _token("credentials")
    credentials = write(tmp_path / "credentials", f"[default]\naws_session_token = {key}\n")
    link = prj.root / "values" / "linked.yaml"
    link.symlink_to(credentials)
    try:
        _refused(prj, link, "symbolic link to a file outside the project", secrets=(key, "aws_session"))
    finally:
        link.unlink()


def test_a_symlink_inside_the_project_is_followed(prj: Project, tmp_path: Path) -> None:
    target = write(prj.root / "values" / "extra-target.yaml", "app:\n  ingress:\n    enabled: false\n")
    link = prj.root / "values" / "extra.yaml"
    link.symlink_to(target)
    try:
        assert yamlio.load_mapping(link, "values/extra.yaml", within=prj.root) == {
            "app": {"ingress": {"enabled": False}}
        }
    finally:
        link.unlink()
        target.unlink()


def test_a_file_holding_one_token_is_not_echoed(prj: Project, tmp_path: Path) -> None:
    token = _token("alone")
    token_file = write(tmp_path / "token.yaml", token + "\n")
    line = _refused(prj, token_file, "not a string (40 characters)", secrets=(token,))
    assert "top level must be a mapping" in line


def test_key_equals_secret_lines_are_not_echoed(prj: Project, tmp_path: Path) -> None:
    secrets = (_token("db", 20), _token("api", 30))
    text = f"DB_PASSWORD={secrets[0]}\nAPI_TOKEN={secrets[1]}\nLOG_LEVEL=info\n"
    _refused(prj, write(tmp_path / "env.yaml", text), "not a string (", secrets=(*secrets, "DB_PASSWORD"))


def test_a_credentials_file_inside_the_project_echoes_no_value(prj: Project, tmp_path: Path) -> None:
    """Keys of a file that is not values at all become 'unknown key' errors: keys only, never values."""
    secret = _token("inside")
    credentials = write(tmp_path / "creds.yaml", f"aws_secret_access_key: {secret}\n{_token('as-key')}: 1\n")
    done = invoke("schema", "--env", "dev", "--values", str(credentials), cwd=prj.root, root=prj.root)
    assert done.returncode == 1
    shown = done.stdout + done.stderr
    assert secret not in shown
    assert _token("as-key") not in shown  # a secret-shaped key is shown as <key of N characters>
    assert "<key of 40 characters>" in shown
    assert "Traceback" not in shown


def test_syntax_errors_never_quote_the_line(tmp_path: Path) -> None:
    secret = _token("syntax")
    path = write(tmp_path / "broken.yaml", f"token: {secret}\n  bad: [\n")
    with pytest.raises(ValuesError) as caught:
        yamlio.load_mapping(path, "broken.yaml")
    assert secret not in caught.value.message
    assert caught.value.message.startswith("broken.yaml:2:")


def test_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ValuesError, match=r"latin1.yaml: is not UTF-8 text \(byte 9 cannot be decoded\)"):
        yamlio.load_mapping(path, "latin1.yaml")


def test_limits_are_generous_for_real_files() -> None:
    """Anchors, merges and a few levels of nesting, as real values files use them, still load."""
    text = "base: &base\n  a: 1\n  b: [1, 2]\nfirst:\n  <<: *base\n  a: 2\nlist: [*base, *base]\n"
    assert yamlio.parse(text, "t.yaml") == {
        "base": {"a": 1, "b": [1, 2]},
        "first": {"a": 2, "b": [1, 2]},
        "list": [{"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}],
    }
    nested = "a:" + "".join(f"\n{'  ' * level}k:" for level in range(1, yamlio.MAX_DEPTH)) + " 1\n"
    assert yamlio.parse(nested, "t.yaml") is not None  # exactly the limit


# Values that break the real schemas, one keyword each: the one line names the key path and what
# is allowed, and nothing of the value ("zq", 987601) reaches the output.
SCHEMA_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "enum",
        "global:\n  capabilities:\n    httpRoute: zq-sometimes\n",
        ("global.capabilities.httpRoute: must be auto",),
    ),
    (
        "type",
        "app:\n  componentDefaults:\n    replicas: zq-lots\n",
        ("replicas: must be an integer (got a string)",),
    ),
    ("minimum", "app:\n  componentDefaults:\n    replicas: -987601\n", ("replicas: must be at least 0",)),
    (
        "pattern",
        "grafana:\n  ingress:\n    hosts: [zq.IP.1]\n",
        ("grafana.ingress.hosts[0]: must be a DNS host name",),
    ),
    (
        "minProperties",
        "app:\n  networkPolicy:\n    ingressFrom: [{namespaceLabels: {}, podLabels: {a: zq-pod}}]\n",
        ("ingressFrom[0].namespaceLabels: must name at least one label",),
    ),
    (
        "anyOf",
        "app:\n  httpRoute:\n    parentRefs: [{name: keelson, sectionName: ZQ_Listener}]\n",
        ("sectionName: must be",),
    ),
]


@pytest.mark.parametrize(("case", "text", "fragments"), SCHEMA_CASES, ids=[case[0] for case in SCHEMA_CASES])
def test_a_schema_error_names_the_path_and_the_rule_never_the_value(
    prj: Project, tmp_path: Path, case: str, text: str, fragments: tuple[str, ...]
) -> None:
    _refused(prj, write(tmp_path / "values.yaml", text), *fragments, secrets=("zq", "ZQ", "987601"))
