"""Issue 14 item 7: the values reference, docs/values/<chart>.md, from the `# --` comments
(keelson/valuesdoc.py, `invoke docs` and `invoke docs --check`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support import REPO, invoke, one_error_line, write

from keelson import valuesdoc
from keelson.errors import FindingsError
from keelson.project import project

if TYPE_CHECKING:
    from pathlib import Path

VALUES = """\
# A section comment, not a doc comment: it documents nothing.
image:
  # -- Repository of the image.
  repository: demo/app
  # -- Tag of the image; production wants a
  # semantic version.
  #
  # Never `latest` | other moving tags.
  tag: v1.0.0
# -- Ports the pod listens on.
ports: [8080, 9090]
# -- Extra settings, each a name and a value.
extra:
  - name: A
    value: "1"
# -- Scheduling, documented as a whole.
scheduling:
  nodeSelector: {}
  tolerations: []
  # -- Spread across zones (documented beneath a documented parent too).
  spread: true
# -- Empty means none.
proxy: null
# -- Settings whose keys have dots.
labels:
  app.kubernetes.io/part-of: demo
"""


def rows(page: str) -> list[list[str]]:
    """The table rows of a page, each as its four cells (header and rule left out)."""
    found = []
    for text in page.splitlines()[2:]:
        if text.startswith("| ") and not text.startswith(("| Key ", "|---")):
            found.append([cell.strip() for cell in text[2:-2].split(" | ")])
    return found


def test_parse_reads_each_documented_key_with_its_type_default_and_text() -> None:
    parsed = valuesdoc.parse(VALUES, "values.yaml")

    assert parsed.findings == []
    by_path = {value.path: value for value in parsed.values}
    assert list(by_path) == [
        "image.repository",
        "image.tag",
        "ports",
        "extra",
        "scheduling",
        "scheduling.spread",
        "proxy",
        "labels",
    ]
    tag = by_path["image.tag"]
    # The continuation lines join the first; an empty `#` line adds nothing.
    assert (
        tag.description
        == "Tag of the image; production wants a semantic version. Never `latest` | other moving tags."
    )
    assert (tag.type, tag.default, tag.line) == ("string", '"v1.0.0"', 9)
    assert (by_path["ports"].type, by_path["ports"].default) == ("list", "[8080,9090]")
    assert (by_path["extra"].type, by_path["extra"].default) == ("list", '[{"name":"A","value":"1"}]')
    assert by_path["scheduling"].default == '{"nodeSelector":{},"tolerations":[],"spread":true}'
    assert (by_path["scheduling.spread"].type, by_path["scheduling.spread"].default) == ("bool", "true")
    assert (by_path["proxy"].type, by_path["proxy"].default) == ("null", "null")
    assert by_path["labels"].default == '{"app.kubernetes.io/part-of":"demo"}'


def test_a_value_without_a_doc_comment_is_a_finding_naming_its_line_and_path() -> None:
    text = """\
# -- Documented.
a: 1
section:
  # A plain comment is not a doc comment.
  b: 2
  nested:
    c: [x]
# -- Blank line between the comment and the key.

d: true
list:
  - name: x
    # -- Inside a list item: the list is one value, documented above its key.
    e: 1
"""
    parsed = valuesdoc.parse(text, "charts/demo/values.yaml")

    assert [value.path for value in parsed.values] == ["a"]
    found = [(item.where, item.subject) for item in parsed.findings]
    assert found == [
        ("charts/demo/values.yaml:5", "section.b"),
        ("charts/demo/values.yaml:7", "section.nested.c"),
        ("charts/demo/values.yaml:8", "(comment)"),
        ("charts/demo/values.yaml:10", "d"),
        ("charts/demo/values.yaml:11", "list"),
        ("charts/demo/values.yaml:13", "(comment)"),
    ]
    assert 'has no "# --" comment' in parsed.findings[0].message


def test_a_doc_comment_at_another_indentation_documents_nothing() -> None:
    text = "section:\n# -- Too far left.\n  key: 1\n"
    parsed = valuesdoc.parse(text, "v.yaml")

    assert [(item.where, item.subject) for item in parsed.findings] == [
        ("v.yaml:2", "(comment)"),
        ("v.yaml:3", "section.key"),
    ]


def test_a_doc_mark_inside_a_text_value_is_not_a_comment() -> None:
    text = "# -- A config file.\nconfig: |\n  # -- not YAML here, the file's own comment\n  x = 1\n"
    parsed = valuesdoc.parse(text, "v.yaml")

    assert parsed.findings == []
    assert [value.path for value in parsed.values] == ["config"]


def test_a_key_with_a_dot_is_written_as_helm_set_reads_it() -> None:
    parsed = valuesdoc.parse('labels:\n  # -- Part of.\n  "app.kubernetes.io/part-of": x\n', "v.yaml")

    assert [value.path for value in parsed.values] == ["labels.app\\.kubernetes\\.io/part-of"]


def demo_project(tmp_path: Path, values: str = VALUES) -> Path:
    chart = tmp_path / "charts" / "demo"
    chart.mkdir(parents=True)
    write(chart / "Chart.yaml", "apiVersion: v2\nname: demo\ndescription: A demo  chart.\nversion: 1.2.3\n")
    write(chart / "values.yaml", values)
    return tmp_path


def test_the_page_of_a_chart_has_one_row_per_documented_key_field_by_field(tmp_path: Path) -> None:
    pages = valuesdoc.generate(project(demo_project(tmp_path)))

    assert [page.target.relative_to(tmp_path).as_posix() for page in pages] == [
        "docs/values/demo.md",
        "docs/values/README.md",
    ]
    page = pages[0].text
    assert page.splitlines()[0] == "# Values of the `demo` chart"
    assert "[charts/demo/values.yaml](../../charts/demo/values.yaml)" in page
    assert "\nA demo chart.\n" in page
    table = rows(page)
    assert table[0] == ["`image.repository`", "string", '`"demo/app"`', "Repository of the image."]
    assert table[1] == [
        "`image.tag`",
        "string",
        '`"v1.0.0"`',
        "Tag of the image; production wants a semantic version. Never `latest` \\| other moving tags.",
    ]
    assert table[2] == ["`ports`", "list", "`[8080,9090]`", "Ports the pod listens on."]
    assert table[4][:3] == ["`scheduling`", "object", '`{"nodeSelector":{},"tolerations":[],"spread":true}`']
    assert table[7] == [
        "`labels`",
        "object",
        '`{"app.kubernetes.io/part-of":"demo"}`',
        "Settings whose keys have dots.",
    ]
    assert len(table) == 8
    assert "- [demo](demo.md): A demo chart." in pages[1].text


def test_a_long_default_goes_below_the_table_as_yaml(tmp_path: Path) -> None:
    long_list = "".join(f"  - host-{index}.example.org\n" for index in range(8))
    pages = valuesdoc.generate(project(demo_project(tmp_path, f"# -- Hosts.\nhosts:\n{long_list}")))

    page = pages[0].text
    assert rows(page) == [["`hosts`", "list", "[list, below](#hosts)", "Hosts."]]
    assert "## Long defaults\n\n### `hosts`\n\n```yaml\n- host-0.example.org\n" in page


def test_generate_refuses_an_undocumented_value(tmp_path: Path) -> None:
    with pytest.raises(FindingsError) as caught:
        valuesdoc.generate(project(demo_project(tmp_path, "# -- A.\na: 1\nb: 2\n")))

    assert caught.value.message.startswith('charts/demo/values.yaml:3: b: has no "# --" comment')


def test_docs_check_names_the_stale_page_and_writes_nothing(tmp_path: Path) -> None:
    root = demo_project(tmp_path)
    page = tmp_path / "docs" / "values" / "demo.md"

    missing = invoke("docs", "--check", root=root)
    one_error_line(missing, "docs/values/demo.md: stale", "docs/values/README.md: stale", "run invoke docs")
    assert not (tmp_path / "docs").exists()

    written = invoke("docs", root=root)
    assert written.returncode == 0, written.stderr
    assert "wrote docs/values/demo.md" in written.stdout
    current = invoke("docs", "--check", root=root)
    assert current.returncode == 0, current.stderr

    write(tmp_path / "charts" / "demo" / "values.yaml", VALUES.replace("Repository of", "Name of"))
    before = page.read_text(encoding="utf-8")
    stale = invoke("docs", "--check", root=root)
    line = one_error_line(stale, "docs/values/demo.md: stale")
    assert "README.md" not in line
    assert page.read_text(encoding="utf-8") == before


def test_docs_check_fails_on_an_undocumented_value_listing_each(tmp_path: Path) -> None:
    root = demo_project(tmp_path, "# -- A.\na: 1\nb: 2\nc: 3\n")

    done = invoke("docs", "--check", root=root)

    one_error_line(done, "charts/demo/values.yaml:3: b: has no", "(and 1 more")
    assert "charts/demo/values.yaml:4: c: has no" in done.stdout
    assert not (tmp_path / "docs").exists()


def test_docs_removes_the_page_of_a_chart_that_is_gone(tmp_path: Path) -> None:
    root = demo_project(tmp_path)
    assert invoke("docs", root=root).returncode == 0
    write(tmp_path / "docs" / "values" / "gone.md", "# old\n")

    one_error_line(invoke("docs", "--check", root=root), "docs/values/gone.md: names no chart")
    assert invoke("docs", root=root).returncode == 0
    assert not (tmp_path / "docs" / "values" / "gone.md").exists()


def test_the_committed_values_reference_is_current() -> None:
    changed, extra = valuesdoc.stale(project(REPO))
    stale = [f"{page.target.relative_to(REPO)} is stale" for page in changed]
    stale += [f"{path.relative_to(REPO)} names no chart" for path in extra]
    if stale:
        pytest.fail("\n".join(stale) + f": run {valuesdoc.COMMAND}", pytrace=False)


def test_every_chart_has_a_page() -> None:
    charts = sorted(path.parent.name for path in (REPO / "charts").glob("*/values.yaml"))
    pages = sorted(path.stem for path in (REPO / "docs" / "values").glob("*.md") if path.name != "README.md")
    assert pages == charts


def test_docs_names_the_values_file_whose_yaml_does_not_parse(tmp_path: Path) -> None:
    root = demo_project(tmp_path, "# -- A.\na: [1, 2\n")

    line = one_error_line(invoke("docs", root=root), "charts/demo/values.yaml:", "invalid YAML")

    assert "YAML input" not in line
    assert not (tmp_path / "docs").exists()


def test_docs_refuses_a_chart_yaml_whose_top_level_is_a_list(tmp_path: Path) -> None:
    root = demo_project(tmp_path)
    write(tmp_path / "charts" / "demo" / "Chart.yaml", "- name: demo\n")

    one_error_line(
        invoke("docs", root=root), "charts/demo/Chart.yaml: the top level must be a mapping", "not a list"
    )
    assert not (tmp_path / "docs").exists()
