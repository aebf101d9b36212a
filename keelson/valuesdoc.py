"""The values reference, docs/values/<chart>.md, generated from the comments of each values.yaml.

The comments follow helm-docs: ``# -- text`` on the line above a key documents it, and the comment
lines that follow it up to the key continue the text. A documented key whose value is a mapping
documents everything beneath it too (its children may add their own rows). Every value must be
documented: a key whose value is not a non-empty mapping (a scalar, a list, ``{}``) needs a
``# --`` comment of its own or on a parent key. A ``# --`` comment that is not directly above a
key (a blank line between, or indented unlike the key) documents nothing, so it is refused too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import SafeConstructor

from keelson.errors import FindingsError, ValuesError
from keelson.models import Finding
from keelson.yamlio import describe, load_mapping

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project

COMMAND = "invoke docs"
DOC_MARK = "# --"
INDEX = "README.md"
# A default longer than this goes below the table, as YAML, so the table stays readable.
LONG_DEFAULT = 100
# A key path segment is written as helm --set reads it: a dot inside a key is escaped.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Value:
    """One row of the reference: a documented key."""

    path: str
    type: str
    default: str  # the value as compact JSON, one line
    description: str
    line: int  # 1-based line of the key in values.yaml
    value: Any  # the default itself, for the YAML of a long one


@dataclass(frozen=True)
class Parsed:
    values: list[Value]
    findings: list[Finding]  # undocumented values and doc comments above no key


@dataclass(frozen=True)
class Page:
    chart: str
    target: Path  # docs/values/<chart>.md
    text: str


def segment(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else key.replace("\\", "\\\\").replace(".", "\\.")


def type_name(value: Any) -> str:
    """The value's YAML type as the reference names it (bool before int: a bool is an int)."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string"), (list, "list")):
        if isinstance(value, kind):
            return name
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def compact(value: Any) -> str:
    """A default on one line: JSON without spaces, keys in the file's order, never ASCII-escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _comment_block(lines: list[str], key_line: int, column: int) -> list[str]:
    """The comment lines directly above ``key_line`` at the key's own indentation, top first."""
    block: list[str] = []
    index = key_line - 1
    while index >= 0:
        text = lines[index]
        stripped = text.lstrip(" ")
        if not stripped.startswith("#") or len(text) - len(stripped) != column:
            break
        block.insert(0, stripped)
        index -= 1
    return block


def description(block: list[str]) -> str | None:
    """The text of the last ``# --`` comment in a block and the comment lines after it, or None."""
    starts = [index for index, text in enumerate(block) if text.startswith(DOC_MARK)]
    if not starts:
        return None
    first = block[starts[-1]]
    words = [first[len(DOC_MARK) :].strip()]
    words += [text[1:].strip() for text in block[starts[-1] + 1 :]]
    return " ".join(word for word in words if word)


def parse(text: str, source: str) -> Parsed:
    """Every documented key of a values.yaml, in file order, and what is not documented.

    ``source`` names the file in findings and in the ValuesError of YAML that does not parse."""
    lines = text.splitlines()
    values: list[Value] = []
    findings: list[Finding] = []
    used: set[int] = set()  # 0-based lines of the # -- comments that document a key
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ValuesError(describe(exc, source)) from exc
    constructor = SafeConstructor()

    def walk(node: yaml.MappingNode, parent: str, covered: bool) -> None:
        for key_node, value_node in node.value:
            key = str(constructor.construct_object(key_node, deep=True))
            path = f"{parent}.{segment(key)}" if parent else segment(key)
            mark = key_node.start_mark
            block = _comment_block(lines, mark.line, mark.column)
            doc = description(block)
            if doc is not None:
                marks = [i for i, line in enumerate(block) if line.startswith(DOC_MARK)]
                used.add(mark.line - len(block) + marks[-1])
                value = constructor.construct_object(value_node, deep=True)
                values.append(Value(path, type_name(value), compact(value), doc, mark.line + 1, value))
            if isinstance(value_node, yaml.MappingNode) and value_node.value:
                walk(value_node, path, covered or doc is not None)
            elif doc is None and not covered:
                findings.append(
                    Finding(
                        f"{source}:{mark.line + 1}",
                        path,
                        f'has no "{DOC_MARK}" comment (add "{DOC_MARK} what it does" above it or above a '
                        "parent key)",
                    )
                )

    if isinstance(root, yaml.MappingNode):
        walk(root, "", False)
    elif root is not None and not (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null")):
        findings.append(Finding(source, "(top level)", "must be a mapping of values"))
    for index in _doc_comment_lines(lines, root) - used:
        findings.append(
            Finding(
                f"{source}:{index + 1}",
                "(comment)",
                f'this "{DOC_MARK}" comment documents no key (it goes on the line directly above the key, '
                "at the key's indentation)",
            )
        )
    findings.sort(key=lambda found: int(found.where.rsplit(":", 1)[1]) if ":" in found.where else 0)
    return Parsed(values, findings)


def _doc_comment_lines(lines: list[str], root: yaml.Node | None) -> set[int]:
    """0-based lines that start a ``# --`` comment, except inside block scalars (text values)."""
    inside: set[int] = set()

    def scalars(node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode) and node.style in {"|", ">"}:
            inside.update(range(node.start_mark.line, node.end_mark.line + 1))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                scalars(key)
                scalars(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                scalars(item)

    if root is not None:
        scalars(root)
    return {i for i, line in enumerate(lines) if line.lstrip(" ").startswith(DOC_MARK)} - inside


def _code(text: str) -> str:
    """A Markdown code span for a table cell: a fence longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded.replace('|', chr(92) + '|')}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def anchor(heading: str) -> str:
    """The link anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _default_cell(value: Value) -> str:
    if len(value.default) <= LONG_DEFAULT:
        return _code(value.default)
    return f"[{value.type}, below](#{anchor(value.path)})"


def _long_defaults(values: list[Value]) -> list[str]:
    out: list[str] = []
    for value in values:
        if len(value.default) > LONG_DEFAULT:
            text = yaml.safe_dump(value.value, sort_keys=False, allow_unicode=True, width=100)
            out += ["", f"### {_code(value.path)}", "", "```yaml", text.rstrip("\n"), "```"]
    return ["", "## Long defaults", *out] if out else []


def render(chart: str, chart_description: str, source: str, values: list[Value]) -> str:
    """The Markdown page of one chart: a heading, where it comes from, and one table row per key."""
    out = [
        f"# Values of the `{chart}` chart",
        "",
        f"Generated by `{COMMAND}` from the `{DOC_MARK}` comments of "
        f"[{source}](../../{source}): edit those, not this file.",
        "",
    ]
    if chart_description:
        out += [chart_description, ""]
    if not values:
        out.append("This chart has no values of its own.")
        return "\n".join(out) + "\n"
    out += ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    out += [
        f"| {_code(value.path)} | {value.type} | {_default_cell(value)} | {_cell(value.description)} |"
        for value in values
    ]
    out += _long_defaults(values)
    return "\n".join(out) + "\n"


def render_index(charts: list[tuple[str, str]]) -> str:
    out = [
        "# Values reference",
        "",
        f"One page per chart, generated by `{COMMAND}` from the `{DOC_MARK}` comments of its values.yaml "
        f"(`{COMMAND} --check` fails when a page is stale or a value is undocumented).",
        "",
    ]
    out += [f"- [{chart}]({chart}.md)" + (f": {_cell(text)}" if text else "") for chart, text in charts]
    return "\n".join(out) + "\n"


def docs_dir(prj: Project) -> Path:
    return prj.root / "docs" / "values"


def generate(prj: Project) -> list[Page]:
    """Every chart's page and the index, in chart order; FindingsError for every undocumented value."""
    pages: list[Page] = []
    findings: list[Finding] = []
    charts: list[tuple[str, str]] = []
    for values_file in sorted(prj.charts_dir.glob("*/values.yaml")):
        chart_dir = values_file.parent
        chart_yaml = chart_dir / "Chart.yaml"
        meta = load_mapping(chart_yaml, prj.display(chart_yaml))
        chart = str(meta.get("name") or chart_dir.name)
        about = " ".join(str(meta.get("description") or "").split())
        source = prj.display(values_file)
        parsed = parse(values_file.read_text(encoding="utf-8"), source)
        findings += parsed.findings
        charts.append((chart, about))
        pages.append(Page(chart, docs_dir(prj) / f"{chart}.md", render(chart, about, source, parsed.values)))
    if findings:
        raise FindingsError(findings)
    pages.append(Page("", docs_dir(prj) / INDEX, render_index(charts)))
    return pages


def stale(prj: Project) -> tuple[list[Page], list[Path]]:
    """The pages whose committed file differs or is missing, and the pages of no chart."""
    pages = generate(prj)
    changed = [
        page
        for page in pages
        if not page.target.is_file() or page.target.read_text(encoding="utf-8") != page.text
    ]
    wanted = {page.target.name for page in pages}
    folder = docs_dir(prj)
    extra = sorted(path for path in folder.glob("*.md") if path.name not in wanted) if folder.is_dir() else []
    return changed, extra


def write(prj: Project) -> tuple[list[Page], list[Path]]:
    """Write every stale page and remove the pages of charts that are gone; both lists."""
    changed, extra = stale(prj)
    docs_dir(prj).mkdir(parents=True, exist_ok=True)
    for page in changed:
        page.target.write_text(page.text, encoding="utf-8")
    for path in extra:
        path.unlink()
    return changed, extra
