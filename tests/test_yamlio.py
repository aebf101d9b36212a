"""LibYAML and PyYAML's Python code give the same objects and the same text, on every env's render.

yamlio parses and dumps through LibYAML when it is installed; these tests hold it to what the
pure-Python path (the path before LibYAML) gives: the resolver tweaks (no timestamps, a bare ``=``
is a string), string keys, error lines, and byte-identical dumps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml

from keelson import render as rendering
from keelson import values, yamlio
from keelson.errors import ValuesError
from keelson.project import ENVS, OPTIONAL_APIS

if TYPE_CHECKING:
    from keelson.project import Project

needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without LibYAML")
PYTHON, LIBYAML = yamlio.LOADERS["python"], yamlio.LOADERS.get("libyaml")


@needs_libyaml
def test_the_fast_path_is_libyaml() -> None:
    assert yamlio.LOADER is LIBYAML
    assert yamlio.DUMPER.__name__ == "CSafeDumper"


@needs_libyaml
@pytest.mark.parametrize("env", ENVS)
def test_each_env_render_parses_and_dumps_the_same_both_ways(repo: Project, env: str) -> None:
    user = values.load(env, [], repo).user
    text = rendering.template_text(user, prj=repo, api_versions=OPTIONAL_APIS)
    fast = yamlio.parse_all(text, "render", loader=LIBYAML)
    slow = yamlio.parse_all(text, "render", loader=PYTHON)
    assert len(fast) > 50
    assert fast == slow
    assert yamlio.dump_all(fast) == yamlio.dump_all(slow, dumper=yaml.SafeDumper)
    # One object per call too, as `invoke template` writes them; LibYAML writes those it can.
    alike = [obj for obj in fast if yamlio.emits_alike([obj])]
    assert len(alike) > len(fast) / 2
    for obj in fast:
        assert yamlio.dump_all([obj]) == yamlio.dump_all([obj], dumper=yaml.SafeDumper)
    for obj in alike:
        assert yamlio.dump_all([obj], dumper=yamlio.DUMPER) == yamlio.dump_all([obj], dumper=yaml.SafeDumper)
    assert yamlio.dump_all(alike, dumper=yamlio.DUMPER) == yamlio.dump_all(alike, dumper=yaml.SafeDumper)


@needs_libyaml
def test_what_libyaml_would_fold_or_escape_otherwise_goes_to_python() -> None:
    for node in (["x" * 201], {"k": "caf\u00e9"}, {"tab": "a\tb"}, {"config": "a: 1\nb: 2\n"}):
        assert not yamlio.emits_alike(node)
    assert yamlio.emits_alike([{"kind": "Service", "spec": {"ports": [{"port": 80, "name": "http"}]}}])
    long_line = [{"data": {"config": "word " * 400}}]
    assert yamlio.dump_all(long_line) == yamlio.dump_all(long_line, dumper=yaml.SafeDumper)


@needs_libyaml
@pytest.mark.parametrize("env", ENVS)
def test_each_env_values_file_parses_the_same_both_ways(repo: Project, env: str) -> None:
    text = repo.env_file(env).read_text(encoding="utf-8")
    assert yamlio.parse(text, env, loader=LIBYAML) == yamlio.parse(text, env, loader=PYTHON)


@needs_libyaml
def test_the_resolver_tweaks_hold_on_both_paths() -> None:
    text = "day: 2024-01-01\nsign: =\n404: not found\ntrue: yes\nlist: [1, 2.5, null, on]\n"
    expected = {
        "day": "2024-01-01",
        "sign": "=",
        "404": "not found",
        "true": True,
        "list": [1, 2.5, None, True],
    }
    assert yamlio.parse(text, "x", loader=LIBYAML) == expected
    assert yamlio.parse(text, "x", loader=PYTHON) == expected


@needs_libyaml
@pytest.mark.parametrize(
    "broken", ["a: [1, 2\n", "a: b: c\n", "a:\n\tb: 1\n", "- a\nb: 1\n", "a: 'open\n", "a: *nowhere\n"]
)
def test_errors_read_the_same_on_both_paths(broken: str) -> None:
    messages = []
    for loader in (LIBYAML, PYTHON):
        with pytest.raises(ValuesError) as caught:
            yamlio.parse(broken, "f.yaml", loader=loader)
        messages.append(caught.value.message)
    assert messages[0] == messages[1]
    assert messages[0].startswith("f.yaml:")
