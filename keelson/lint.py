"""Lint: helm lint --strict (the umbrella per environment, every chart alone), yamllint, ct lint.

Each tool's report is cut into findings of one line each. "ct lint" is what chart-testing's
``ct lint --config ct.yaml --all`` checks beyond the other two, done here from ct.yaml's settings:
each Chart.yaml against the Yamale schema, and each Chart.yaml and values.yaml against ct's
yamllint rules. ct itself would run helm lint a second time and rebuild every chart's
dependencies; ``run(..., real_ct=True)`` (``invoke lint --ct``) still runs it, to cross-check.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keelson import values
from keelson.charts import all_charts
from keelson.errors import KeelsonError
from keelson.memo import Memo, files_digest, program
from keelson.models import Finding, StageResult
from keelson.project import ENVS, KUBE_VERSIONS, Project, project
from keelson.render import charts_lock, prepare_dependencies, sources_digest
from keelson.stages import Stages
from keelson.yamlio import load_mapping

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

_LEVEL = re.compile(r"^\[(ERROR|WARNING)\] ?(.*)")
_CT_CHART = re.compile(r'^Linting chart ".* path: \\"([^"\\]+)\\"\)"')
_YAMLLINT_FILE = re.compile(r"^(\S.*\.ya?ml)$")
_YAMLLINT_ITEM = re.compile(r"^\s+(\d+):(\d+)\s+(error|warning)\s+(.*?)\s*$")
_YAMALE = re.compile(r"^Error validating data '([^']+)'")
_CT_FAILED = re.compile(r'^ ✖︎ .* path: "([^"]+)"\) > (.*)$')
_PARSABLE = re.compile(r"^(?P<where>.+?:\d+:\d+): \[(?:error|warning)\] (?P<what>.*)$")
# ct.yaml settings ct lint honours that need a network or a git remote: refused rather than skipped.
_OFFLINE_ONLY = {
    "validate-maintainers": "maintainers are checked against GitHub accounts",
    "check-version-increment": "versions are compared with a remote branch; the release refuses a "
    "changed chart whose version is already published",
}


def _run(prj: Project, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, cwd=prj.root, env=prj.tool_env(), check=False
    )


def _one_line(lines: list[str]) -> str:
    return " ".join(" ".join(lines).split())


def parse_helm_lint(output: str, where: str, subject: str) -> list[Finding]:
    """``[ERROR]``/``[WARNING]`` entries (with --strict, warnings fail too); an entry runs to a blank line."""
    findings: list[Finding] = []
    current: list[str] | None = None
    for line in [*output.splitlines(), ""]:
        match = _LEVEL.match(line)
        if match or not line.strip() or line.startswith(("Error:", "==>", "[INFO]")):
            if current:
                findings.append(Finding(where, subject, _one_line(current)))
            current = [match.group(2)] if match else None
        elif current is not None:
            current.append(line)
    return findings


def parse_ct_lint(output: str) -> list[Finding]:
    """ct's report: yamllint blocks, Yamale errors, helm lint entries, and failed charts."""
    findings: list[Finding] = []
    chart, yaml_file, yamale_file = "charts", "", ""
    explained: set[str] = set()
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if match := _CT_CHART.match(line):
            chart, yaml_file, yamale_file = match.group(1), "", ""
        elif match := _YAMLLINT_FILE.match(line):
            yaml_file = match.group(1)
        elif (match := _YAMLLINT_ITEM.match(line)) and yaml_file:
            row, col, _level, message = match.groups()
            findings.append(Finding("ct lint", f"{yaml_file}:{row}:{col}", _one_line([message])))
            explained.add(chart)
        elif match := _YAMALE.match(line):
            yamale_file = match.group(1)
        elif line.startswith("\t") and yamale_file:
            findings.append(Finding("ct lint", f"{chart}/Chart.yaml", line.strip()))
            explained.add(chart)
        elif line.startswith("[Errno"):
            findings.append(Finding("ct lint", chart, line.strip()))
            explained.add(chart)
        elif _LEVEL.match(line):
            # helm lint's entry may run over several lines (a schema error lists its causes).
            entry = parse_helm_lint("\n".join(lines[index:]), "ct lint", chart)[:1]
            findings += entry
            explained.update([chart] if entry else [])
        elif (match := _CT_FAILED.match(line)) and match.group(1) not in explained:
            # A chart failed for a reason not shown above: keep ct's own summary line.
            findings.append(Finding("ct lint", match.group(1), match.group(2)))
    return findings


def helm_lint(
    prj: Project,
    envs: Sequence[str],
    memo: Memo | None = None,
    rendered_values: Mapping[str, dict[str, Any]] | None = None,
) -> list[Finding]:
    """The umbrella with each env's values (``rendered_values[env]``: the values, overlays
    included, that the caller has just rendered these charts with; else values/<env>.yaml), then
    every chart alone with its defaults (each is published on its own); a chart tree and values
    that linted clean before are not linted again."""
    memo = memo or Memo(prj)
    helm = str(prj.tool("helm"))
    lint_args = ["lint", "--strict", "--kube-version", KUBE_VERSIONS[0]]
    tool = program(prj.tool("helm"))
    findings: list[Finding] = []
    charts = all_charts(prj.charts_dir)
    prepare_dependencies(prj, charts=charts)
    # Per chart, its sources and its dependencies' (their archives in charts/ are built from them).
    trees = {chart.path: sources_digest(chart, tool) for chart in charts}
    with tempfile.TemporaryDirectory(prefix="keelson-lint-") as tmp, charts_lock(prj, exclusive=False):
        umbrella = trees[prj.umbrella.resolve()]
        for env in envs:
            values_file = Path(tmp) / f"{env}.json"
            given = rendered_values.get(env) if rendered_values else None
            user = given if given is not None else values.load(env, (), prj).user
            values_key = hashlib.sha256(json.dumps(user, sort_keys=True).encode()).hexdigest()
            subject = f"{prj.display(prj.umbrella)} ({env})"
            # A release's values were validated against these charts' schemas by this helm as it
            # rendered them a moment before (it lints after the render): its lint skips that, and
            # is remembered apart; a clean full lint of the same values (invoke lint) stands for it.
            full = (f"helm-{prj.umbrella.name}-{env}", [tool, *lint_args, umbrella, values_key])
            skip = ["--skip-schema-validation"] if given is not None else []
            remembered_as = (f"{full[0]}-rendered", [tool, *lint_args, *skip, umbrella, values_key])
            args = [helm, *lint_args, *skip, str(prj.umbrella), "--values", str(values_file)]
            findings += memo.lint(
                *(remembered_as if skip else full),
                functools.partial(_lint_env, prj, values_file, args, subject, user),
                stricter=full if skip else None,
            )
        alone = [
            (chart, f"helm-{chart.path.name}", [tool, *lint_args, trees[chart.path]]) for chart in charts
        ]
        # One helm process lints every chart not remembered clean (it lints each path on its own,
        # with the same flags); only when that run is not clean does each chart get a run of its
        # own, whose findings name it. A helm process costs about 0.2 s of CPU.
        pending = [
            str(chart.path) for chart, subject, inputs in alone if not memo.remembered(subject, inputs)
        ]
        all_clean = len(pending) > 1 and not _lint_one(prj, [helm, *lint_args, *pending], "")
        for chart, subject, inputs in alone:
            args = [helm, *lint_args, str(chart.path)]
            lint_alone = functools.partial(_lint_one, prj, args, prj.display(chart.path))
            findings += memo.lint(subject, inputs, (lambda: []) if all_clean else lint_alone)
    return findings


def _lint_env(
    prj: Project, values_file: Path, args: list[str], subject: str, user: dict[str, Any]
) -> list[Finding]:
    values_file.write_text(json.dumps(user), encoding="utf-8")
    return _lint_one(prj, args, subject)


def _lint_one(prj: Project, args: list[str], subject: str) -> list[Finding]:
    return _expect_clean(_run(prj, args), subject)


def _expect_clean(done: subprocess.CompletedProcess[str], subject: str) -> list[Finding]:
    findings = parse_helm_lint(done.stdout + "\n" + done.stderr, "helm lint", subject)
    if done.returncode != 0 and not findings:
        findings = [Finding("helm lint", subject, _one_line((done.stderr or done.stdout).splitlines()[-1:]))]
    return findings


def yamllint(prj: Project, memo: Memo | None = None) -> list[Finding]:
    """The project's YAML, every chart's Chart.yaml and values.yaml included, under .yamllint.yaml."""
    targets = [
        *sorted(prj.charts_dir.glob("*/Chart.yaml")),
        *sorted(prj.charts_dir.glob("*/values.yaml")),
        prj.values_dir,
        prj.root / "examples",
        prj.root / "ct.yaml",
        prj.root / "ct",
        prj.root / ".yamllint.yaml",
    ]
    config = prj.root / ".yamllint.yaml"
    tool = prj.tool("yamllint")

    def lint() -> list[Finding]:
        args = [str(tool), "--strict", "-f", "parsable", "-c", str(config)]
        done = _run(prj, [*args, *(prj.display(t) for t in targets if t.exists())])
        findings = []
        for line in done.stdout.splitlines():
            location, _, rest = line.partition(": ")
            if rest:
                findings.append(Finding("yamllint", location, rest.strip()))
        if done.returncode != 0 and not findings:
            findings = [Finding("yamllint", "", _one_line(done.stderr.splitlines()[-1:]))]
        return findings

    inputs = [program(tool), "--strict", files_digest([config, *targets], prj.root)]
    return (memo or Memo(prj)).lint("yamllint", inputs, lint)


def ct_lint(prj: Project, memo: Memo | None = None) -> list[Finding]:
    """ct lint's own checks, per ct.yaml: the Chart.yaml schema (Yamale) and its yamllint rules.
    When ct's rules are the project's (ct/lintconf.yaml extends .yamllint.yaml and adds nothing),
    the yamllint stage has already linted those files with them, so they are not linted twice."""
    config = load_mapping(prj.root / "ct.yaml", "ct.yaml")
    schema = prj.root / str(config.get("chart-yaml-schema", "ct/chart_schema.yaml"))
    rules = prj.root / str(config.get("lint-conf", "ct/lintconf.yaml"))
    charts = sorted(path.parent for path in prj.charts_dir.glob("*/Chart.yaml"))
    files = [
        path for chart in charts for path in (chart / "Chart.yaml", chart / "values.yaml") if path.is_file()
    ]

    def lint() -> list[Finding]:
        findings = [
            Finding("ct lint", f"ct.yaml: {key}", f"true is not supported offline ({why}; allowed: false)")
            for key, why in _OFFLINE_ONLY.items()
            if config.get(key) is True
        ]
        if config.get("validate-chart-schema", True):
            findings += _chart_schema(prj, schema, charts)
        if config.get("validate-yaml", True) and not _same_rules(prj, rules, prj.root / ".yamllint.yaml"):
            findings += _ct_yamllint(prj, rules, files)
        return findings

    tools = [program(prj.tool("yamllint")), f"yamale {importlib.metadata.version('yamale')}"]
    read = files_digest([prj.root / "ct.yaml", schema, rules, prj.root / ".yamllint.yaml", *files], prj.root)
    return (memo or Memo(prj)).lint("ct-lint", [*tools, read], lint)


def _same_rules(prj: Project, ct_rules: Path, project_rules: Path) -> bool:
    """ct's yamllint configuration is only ``extends: <the project's>``. yamllint reads a path in
    ``extends`` (one with a ``/``) from the working directory: the repository root, for ct too."""
    try:
        data = load_mapping(ct_rules, prj.display(ct_rules))
    except KeelsonError:
        return False  # the run of yamllint itself reports what is wrong with the file
    extends = data.get("extends")
    return (
        set(data) == {"extends"}
        and isinstance(extends, str)
        and "/" in extends
        and (prj.root / extends).resolve() == project_rules.resolve()
    )


def _chart_schema(prj: Project, schema_file: Path, charts: Sequence[Path]) -> list[Finding]:
    import yamale  # noqa: PLC0415 (only lint needs it)

    schema = yamale.make_schema(str(schema_file))
    findings = []
    for chart in charts:
        try:
            yamale.validate(schema, yamale.make_data(str(chart / "Chart.yaml")))
        except yamale.YamaleError as exc:
            subject = f"{prj.display(chart)}/Chart.yaml"
            findings += [
                Finding("ct lint", subject, error) for result in exc.results for error in result.errors
            ]
        except ValueError as exc:  # not YAML at all
            findings.append(Finding("ct lint", f"{prj.display(chart)}/Chart.yaml", _one_line([str(exc)])))
    return findings


def _ct_yamllint(prj: Project, config: Path, files: Sequence[Path]) -> list[Finding]:
    args = [str(prj.tool("yamllint")), "-f", "parsable", "-c", str(config)]
    done = _run(prj, [*args, *(prj.display(path) for path in files)])
    findings = [
        Finding("ct lint", match.group("where"), match.group("what").strip())
        for line in done.stdout.splitlines()
        if (match := _PARSABLE.match(line))
    ]
    if done.returncode != 0 and not findings:
        findings = [Finding("ct lint", "", _one_line(done.stderr.splitlines()[-1:]))]
    return findings


def real_ct_lint(prj: Project) -> list[Finding]:
    """chart-testing itself (``ct lint --config ct.yaml --all``), to cross-check :func:`ct_lint`."""
    ct = str(prj.tool("ct"))
    prj.tool("yamllint")
    prj.tool("yamale")  # ct calls both from PATH; say so clearly if they are missing
    with charts_lock(prj, exclusive=True):
        done = _run(prj, [ct, "lint", "--config", "ct.yaml", "--all"])
    output = done.stdout + "\n" + done.stderr
    findings = parse_ct_lint(output)
    if done.returncode != 0 and not findings:
        findings = [
            Finding("ct lint", "", _one_line([line for line in output.splitlines() if line.strip()][-1:]))
        ]
    return findings


def run(
    envs: Sequence[str] = ENVS,
    prj: Project | None = None,
    *,
    real_ct: bool = False,
    rendered_values: Mapping[str, dict[str, Any]] | None = None,
) -> list[StageResult]:
    """Every linter in turn; each result holds its findings (none means clean). ``rendered_values``:
    per env, the values a release checked and rendered (so lint sees its overlays, nothing loads
    them again, and helm, which validated them against the schemas as it rendered, does not again).
    A linter whose inputs are unchanged since it found nothing is not run again (keelson.memo)."""
    prj = prj or project()
    steps: list[tuple[str, Callable[[Memo], list[Finding]]]] = [
        ("helm lint", lambda memo: helm_lint(prj, envs, memo, rendered_values)),
        ("yamllint", lambda memo: yamllint(prj, memo)),
        ("ct lint", lambda memo: ct_lint(prj, memo)),
    ]
    if real_ct:
        steps.append(("ct", lambda memo: real_ct_lint(prj)))
    stages = Stages("all" if tuple(envs) == ENVS else ",".join(envs))
    for name, step in steps:
        with stages.run(name) as stage:
            memo = Memo(prj)
            stage.findings += step(memo)
            stage.detail.append(memo.summary())
    return stages.results
