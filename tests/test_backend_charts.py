"""The storage backends build on keelson-common: every env renders as before the move (commit
20563fb) but for the drifts fixed on purpose, and tempo, mimir and pyroscope copy little of loki.

The share of copied lines is measured as the acceptance of issue 13 states it: of the lines of a
chart's templates/*.yaml and *.tpl (stripped of indentation) that carry content, those whose text
also occurs among loki's. A line carries content unless it is blank, a comment (YAML, or a template
comment of one or more lines), a bare ``{{- end }}`` / ``{{- else }}`` (in any spacing and trim
style) or the document separator ``---``: those are syntax every template file repeats (mimir's
helpers close dozens of blocks), and counting them would measure nesting, not copying.
``python tests/test_backend_charts.py [REF]`` prints the shares, with and without those lines, of
this checkout or of the charts at git REF.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from support import REPO, write

from keelson import against, diff, render, values
from keelson.errors import RenderError
from keelson.project import ENVS, Project

# The render of every env before the backends moved their shared templates to keelson-common, and
# the commit where that move was complete (issue 13): the refactor's claim is between the two, so
# later changes to the charts never touch this test.
BEFORE = "20563fb"
AFTER = "e0b7283"
COPIES = ("tempo", "mimir", "pyroscope")
# Acceptance of issue 13: at most this share of a backend's template lines repeats loki's.
MAX_COPIED_SHARE = 0.15
_COMMENT_START = re.compile(r"^\{\{-?\s*/\*")
_SYNTAX_ONLY = re.compile(r"^(\{\{-?\s*(end|else)\s*-?\}\}|---)$")

# The one drift fixed on purpose (CHANGELOG "Fixed"): loki and tempo avoided double scraping by
# leaving http off their headless Service, mimir and pyroscope by a ServiceMonitor rule. Now every
# headless Service is labelled component "headless" and every ServiceMonitor leaves those out.
HEADLESS_LABEL = 'metadata.labels["app.kubernetes.io/component"]'
NOT_HEADLESS = [{"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["headless"]}]
INTENDED = {
    **{f"v1/Service/keelson/keelson-{b}-headless": (HEADLESS_LABEL, "headless") for b in ("loki", "tempo")},
    **{
        f"monitoring.coreos.com/v1/ServiceMonitor/keelson/keelson-{b}": (
            "spec.selector.matchExpressions",
            NOT_HEADLESS,
        )
        for b in ("loki", "tempo")
    },
}


def template_lines(charts: Path, chart: str, *, syntax: bool = False) -> list[str]:
    """The non-blank lines of the chart's templates/*.yaml and *.tpl, stripped, without template
    comments ({{/* ... */}}, one or more lines), YAML comments and - unless ``syntax`` - the lines
    that are only an end, an else or a document separator."""
    found: list[str] = []
    for path in sorted((charts / chart / "templates").iterdir()):
        if path.suffix not in (".yaml", ".tpl"):
            continue
        in_comment = False
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if in_comment:
                in_comment = "*/" not in line
                continue
            if _COMMENT_START.match(line):
                in_comment = "*/" not in line
                continue
            if line and not line.startswith("#") and (syntax or not _SYNTAX_ONLY.match(line)):
                found.append(line)
    return found


def copied_share(charts: Path, chart: str, *, syntax: bool = False) -> tuple[int, int]:
    """(lines of ``chart`` whose text also occurs in loki's templates, all its lines)."""
    loki = set(template_lines(charts, "loki", syntax=syntax))
    lines = template_lines(charts, chart, syntax=syntax)
    return sum(line in loki for line in lines), len(lines)


def test_copied_share_counts_what_repeats_loki(tmp_path: Path) -> None:
    for chart, text in {
        "loki": "{{/*\na comment\n*/}}\nkind: Service\n  spec:\n# why\n{{- end }}\n---\n",
        "tempo": "{{- /* one line */}}\nkind: Service\nspec:\n\nports:\n# why\n{{ end -}}\n---\n",
    }.items():
        (tmp_path / chart / "templates").mkdir(parents=True)
        (tmp_path / chart / "templates" / "service.yaml").write_text(text)
        (tmp_path / chart / "templates" / "NOTES.txt").write_text("kind: Service\n")
    assert template_lines(tmp_path, "tempo") == ["kind: Service", "spec:", "ports:"]
    assert copied_share(tmp_path, "tempo") == (2, 3)
    assert template_lines(tmp_path, "tempo", syntax=True) == [
        "kind: Service",
        "spec:",
        "ports:",
        "{{ end -}}",
        "---",
    ]
    assert copied_share(tmp_path, "tempo", syntax=True) == (3, 5)


@pytest.mark.parametrize("chart", COPIES)
def test_backend_templates_repeat_little_of_loki(chart: str) -> None:
    copied, total = copied_share(REPO / "charts", chart)
    print(f"{chart}: {copied} of {total} template lines repeat loki's ({copied / total:.1%})")
    assert copied / total <= MAX_COPIED_SHARE


def _changes(report: diff.DiffReport) -> dict[str, list[tuple[str, str, Any]]]:
    return {
        item.ref.key: [(change.path, change.change, change.new) for change in item.changes]
        for item in report.changed
    }


@pytest.mark.parametrize("env", ENVS)
def test_render_is_unchanged_but_for_the_listed_fixes(repo: Project, env: str) -> None:
    before = against.render_ref(BEFORE, env, repo)
    after = against.render_ref(AFTER, env, repo)
    report = diff.compare(before.objects, after.objects, old=before.label, new=after.label)
    assert report.added == []
    assert report.removed == []
    changes = _changes(report)
    assert changes == {key: [(path, "added", new)] for key, (path, new) in INTENDED.items()}
    assert report.unchanged > 0


def test_a_backend_fails_once_with_every_broken_rule(repo: Project, tmp_path: Path) -> None:
    overlay = write(tmp_path / "o.yaml", "loki:\n  replicas: 2\n  replicationFactor: 3\n  retention: 25h\n")
    user = values.load("prod", [overlay], repo).user
    with pytest.raises(RenderError) as caught:
        render.render(user, prj=repo)
    message = str(caught.value)
    # The umbrella judges every chart at once (keelson.validate), the subchart's own call stays quiet.
    assert "(keelson/templates/validate.yaml:" in message
    assert message.endswith(
        "invalid values (2): "
        "loki.replicationFactor: must be at most loki.replicas (2), every write needs that many replicas; "
        "loki.retention: must be whole days (a multiple of 24h, the index period), such as 168h or 7d"
    )
    assert "\n" not in message


def _print_shares(ref: str | None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        charts = REPO / "charts"
        if ref:
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", ref, "charts"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
            charts = Path(scratch) / "charts"
        for name in COPIES:
            where = f"{ref or 'this checkout'}: {name}"
            literal, all_lines = copied_share(charts, name, syntax=True)
            sys.stdout.write(
                f"{where}, end/else/--- counted: {literal} of {all_lines} ({literal / all_lines:.1%})\n"
            )
            done, of = copied_share(charts, name)
            sys.stdout.write(f"{where}: {done} of {of} lines repeat loki's ({done / of:.1%})\n")


if __name__ == "__main__":
    _print_shares(sys.argv[1] if len(sys.argv) > 1 else None)
