"""Tasks that write the repository's own files: docs (the values reference) and bump (versions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.tasks import task

from keelson.errors import FindingsError, KeelsonError, UsageError
from keelson.models import Finding
from tasks.common import PRJ, fail, user_errors

if TYPE_CHECKING:
    from invoke.context import Context

# Each task imports the modules it runs when it runs (pyproject.toml says why).


@task(help={"check": "write nothing; fail naming every stale page of docs/values/ or undocumented value"})
@user_errors
def docs(c: Context, check: bool = False) -> None:
    """Write docs/values/<chart>.md, each chart's values reference, from its values.yaml `# --` comments."""
    from keelson import valuesdoc

    try:
        changed, extra = valuesdoc.stale(PRJ) if check else valuesdoc.write(PRJ)
    except FindingsError as exc:
        fail([finding for finding in exc.findings if isinstance(finding, Finding)])
        return
    if check:
        problems = [f"{PRJ.display(page.target)}: stale" for page in changed]
        problems += [f"{PRJ.display(path)}: names no chart" for path in extra]
        if problems:
            raise KeelsonError(
                f"{', '.join(problems)}: run {valuesdoc.COMMAND} (it writes docs/values/ from the "
                "values.yaml comments)"
            )
        print("docs: every page of docs/values/ is up to date")
        return
    for page in changed:
        print(f"wrote {PRJ.display(page.target)}")
    for path in extra:
        print(f"removed {PRJ.display(path)} (no such chart)")
    print(f"docs: {len(changed)} page(s) written, {len(extra)} removed")


@task(
    help={
        "chart": "the chart to bump (a folder name under charts/)",
        "part": "major, minor or patch; each chart that depends on it gets a patch bump",
    }
)
@user_errors
def bump(c: Context, chart: str = "", part: str = "") -> None:
    """Raise a chart's version, and every dependent's, with their dependency entries (Chart.yaml)."""
    from keelson import bump as bumping

    if not chart or not part:
        raise UsageError(f"--chart NAME and --part PART are required (parts: {', '.join(bumping.PARTS)})")
    for change in bumping.bump(PRJ, chart, part):
        entries = ", ".join(f"{name} {version}" for name, version in change.dependencies.items())
        detail = f" (dependencies: {entries})" if entries else ""
        print(f"{PRJ.display(change.path)}: {change.old} -> {change.new}{detail}")
