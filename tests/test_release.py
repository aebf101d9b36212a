"""`invoke release`: the whole pipeline into dist/repo, what consumers get, and failures that
leave dist/ exactly as it was."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from releasing import (
    commit,
    git,
    git_project,
    helm,
    helm_env,
    published_project,
    registry,
    serve,
    skip_target_stages,
    stub_lint,
    tree_hash,
    use_fake_helm,
)
from support import invoke, one_error_line, write

from keelson import release
from keelson.errors import KeelsonError
from keelson.models import Finding, StageResult

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from keelson.models import Object
    from keelson.project import Project

STAGE_LINE = re.compile(r"^(\S+)\s+(dev|staging|prod)\s+(ok|FAIL)\s+(\d+\.\d\d)s")


def within(prj: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke(*args, cwd=prj.root, root=prj.root)


def version_of(prj: Project, chart: str = "keelson") -> str:
    return str(yaml.safe_load((prj.charts_dir / chart / "Chart.yaml").read_text())["version"])


def test_release_prod_publishes_a_repository_that_consumers_use(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    done = within(prj, "release", "--env", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    stages = [match.group(1) for line in done.stdout.splitlines() if (match := STAGE_LINE.match(line))]
    expected = ["preflight", "values", "schema", "lint", "render", "kube", "gates", "diff"]
    expected += ["package", "publish", "write"]
    assert [stage for stage in stages if stage in expected] == expected
    assert all(" ok " in line for line in done.stdout.splitlines() if STAGE_LINE.match(line))
    assert "first release of prod" in done.stdout

    repo = prj.root / "dist" / "repo"
    index = yaml.safe_load((repo / "index.yaml").read_text())
    version = version_of(prj)
    umbrella = index["entries"]["keelson"][0]
    assert umbrella["version"] == version
    assert umbrella["urls"] == [f"keelson-{version}.tgz"]
    assert umbrella["digest"] == hashlib.sha256((repo / f"keelson-{version}.tgz").read_bytes()).hexdigest()
    record = json.loads((prj.root / "dist" / "releases" / "prod.json").read_text())
    assert record["git"]["sha"] == git(prj.root, "rev-parse", "HEAD").strip()
    assert record["charts"]["keelson"]["sha256"] == umbrella["digest"]

    env = helm_env(tmp_path / "helm")
    (tmp_path / "pulled").mkdir()
    with serve(repo) as url:
        added = helm(env, "repo", "add", "keelson", url)
        assert added.returncode == 0, added.stderr
        values = str(prj.values_dir / "prod.yaml")
        rendered = helm(env, "template", "keelson", "keelson/keelson", "--version", version, "-f", values)
        assert rendered.returncode == 0, rendered.stderr
        assert "name: keelson-app-backend" in rendered.stdout
        assert "replicas: 3" in rendered.stdout
        pulled = helm(
            env, "pull", "keelson/keelson", "--version", version, "--destination", str(tmp_path / "pulled")
        )
        assert pulled.returncode == 0, pulled.stderr
    archive = (tmp_path / "pulled" / f"keelson-{version}.tgz").read_bytes()
    assert hashlib.sha256(archive).hexdigest() == umbrella["digest"]

    index_bytes = (repo / "index.yaml").read_bytes()
    before = tree_hash(prj.root / "dist")
    again = within(prj, "release", "--env", "prod")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "adds nothing new; index unchanged" in again.stdout
    assert ": 0 changed, 0 added, 0 removed, " in again.stdout
    assert (repo / "index.yaml").read_bytes() == index_bytes
    assert tree_hash(prj.root / "dist") == before


def test_dry_run_json_writes_nothing(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    done = within(prj, "release", "--env", "dev", "--dry-run", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["dryRun"] is True
    assert report["firstRelease"] is True
    assert [stage["stage"] for stage in report["stages"]][-1] == "publish"
    assert {archive["action"] for archive in report["archives"]} == {"add"}
    assert report["record"] is None
    assert "  dry run: nothing written" in report["summary"]
    assert all(isinstance(stage["seconds"], float) for stage in report["stages"])
    assert not (prj.root / "dist").exists()


def test_a_bad_overlay_fails_at_the_fast_checks_before_lint_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = git_project(tmp_path / "project")

    def no_lint(*args: object, **kwargs: object) -> None:
        raise AssertionError("lint ran before the values were checked")

    monkeypatch.setattr("keelson.release.linting.run", no_lint)
    bad = write(tmp_path / "bad.yaml", "app:\n  components:\n    backend:\n      replicas: -1\n")
    report = release.run("dev", prj=prj, overlays=[bad])
    assert [stage.stage for stage in report.stages] == ["preflight", "values", "schema"]
    assert report.failed is not None
    assert report.failed.stage == "schema"


def test_prod_refuses_a_dirty_tree(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    prod = prj.values_dir / "prod.yaml"
    prod.write_text(prod.read_text() + "# not committed\n")
    done = within(prj, "release", "--env", "prod")
    one_error_line(done, "prod releases come from a clean git tree", "values/prod.yaml")
    assert not (prj.root / "dist").exists()


BACKEND = "Deployment/keelson/keelson-app-backend"
MOVING = "docker.io/keelson/backend:main"


def render_a_moving_tag(monkeypatch: pytest.MonkeyPatch, *, archive_too: bool = False) -> None:
    """The backend renders with a moving tag, as a chart whose schema let one through would: the
    prod values schema refuses moving tags, so only the gates stand between it and a release."""
    from keelson import helm, render  # noqa: PLC0415

    def moving(rendered: list[Object]) -> list[Object]:
        for obj in rendered:
            if obj["kind"] == "Deployment" and obj["metadata"]["name"] == BACKEND.rsplit("/", 1)[1]:
                obj["spec"]["template"]["spec"]["containers"][0]["image"] = MOVING
        return rendered

    real_render, real_archive = render.render, helm.render_archive
    monkeypatch.setattr(render, "render", lambda *args, **kwargs: moving(real_render(*args, **kwargs)))
    if archive_too:  # the packaged umbrella renders what the sources did
        monkeypatch.setattr(
            helm, "render_archive", lambda *args, **kwargs: moving(real_archive(*args, **kwargs))
        )


def test_prod_refuses_an_unpinned_image_by_gate_keel002(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = git_project(tmp_path / "project")
    stub_lint(monkeypatch)
    render_a_moving_tag(monkeypatch)
    report = release.run("prod", prj=prj)
    assert report.failed is not None
    assert report.failed.stage == "gates"
    assert "images" not in [stage.stage for stage in report.stages]
    lines = [str(finding) for finding in report.failed.findings]
    assert len(lines) == 1, lines
    assert lines[0].startswith("gates prod: KEEL002 Deployment keelson/keelson-app-backend: ")
    assert 'image tag "main" is not a semantic version' in lines[0]
    assert not (prj.root / "dist").exists()


def test_a_waived_unpinned_image_releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prj = git_project(tmp_path / "project")
    stub_lint(monkeypatch)
    render_a_moving_tag(monkeypatch, archive_too=True)
    waiver = f"gates:\n  waive:\n    - rule: KEEL002\n      object: {BACKEND}\n      reason: canary build\n"
    # outside the checkout: an untracked file would make the tree dirty, and prod refuse earlier
    overlay = write(tmp_path / "waiver.yaml", waiver)
    report = release.run("prod", prj=prj, overlays=[overlay], dry_run=True)
    assert report.ok, [str(finding) for finding in report.findings]
    gates = next(stage for stage in report.stages if stage.stage == "gates")
    assert gates.detail.endswith(", 1 waived")
    assert "images" not in [stage.stage for stage in report.stages]
    assert report.packaged is not None
    assert MOVING in report.packaged.record.images
    assert not (prj.root / "dist").exists()


def bump(prj: Project) -> None:
    """Change the app chart and bump it and the umbrella, so a release has something new."""
    app_version, umbrella_version = version_of(prj, "app"), version_of(prj)
    (prj.charts_dir / "app" / "values.yaml").write_text(
        (prj.charts_dir / "app" / "values.yaml").read_text() + "\n# changed for the next release\n"
    )
    major, minor, patch = (int(part) for part in app_version.split("."))
    app_next = f"{major}.{minor}.{patch + 1}"
    major, minor, patch = (int(part) for part in umbrella_version.split("."))
    umbrella_next = f"{major}.{minor}.{patch + 1}"
    app_chart = prj.charts_dir / "app" / "Chart.yaml"
    app_chart.write_text(
        app_chart.read_text().replace(f"version: {app_version}\n", f"version: {app_next}\n", 1)
    )
    umbrella = yaml.safe_load((prj.umbrella / "Chart.yaml").read_text())
    umbrella["version"] = umbrella_next
    for dep in umbrella["dependencies"]:
        if dep["name"] == "app":
            dep["version"] = app_next
    (prj.umbrella / "Chart.yaml").write_text(yaml.safe_dump(umbrella, sort_keys=False))
    commit(prj.root, "app: next version")


def fail_lint(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    failed = StageResult("helm lint", "prod", 0.1, (Finding("helm lint", "charts/app", "[ERROR] injected"),))
    monkeypatch.setattr("keelson.release.linting.run", lambda envs, prj, **options: [failed])
    return {}


def fail_values(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    stub_lint(monkeypatch)
    # outside the checkout: an untracked file would make the tree dirty, and prod refuse earlier
    bad = write(prj.root.parent / "bad.yaml", "app:\n  components:\n    backend:\n      replicas: -1\n")
    return {"overlays": [bad]}


def fail_archive(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    stub_lint(monkeypatch)
    from keelson import archive  # noqa: PLC0415

    real, count = archive.write, {"n": 0}

    def write_then_fail(*args: Any, **kwargs: Any) -> None:
        count["n"] += 1
        if count["n"] == 5:
            raise OSError("injected: no space left on device")
        real(*args, **kwargs)

    monkeypatch.setattr("keelson.package.archiving.write", write_then_fail)
    return {}


def fail_index(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    stub_lint(monkeypatch)

    def broken(index: dict[str, Any]) -> str:
        raise RuntimeError("injected: crash while writing the index")

    monkeypatch.setattr("keelson.publish.repository.dump_index", broken)
    return {}


def fail_oci(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    stub_lint(monkeypatch)
    return {"oci": "oci://127.0.0.1:9/nothing-listens-here", "plain_http": True}


def fail_deploy(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    stub_lint(monkeypatch)
    state = prj.root.parent / "helm-state"
    use_fake_helm(prj, state)
    skip_target_stages(monkeypatch, "prod")
    (state / "fail.json").write_text("true")
    return {"deploy": True}


def fail_write(monkeypatch: pytest.MonkeyPatch, prj: Project) -> dict[str, Any]:
    stub_lint(monkeypatch)
    import os  # noqa: PLC0415

    real, count = os.replace, {"n": 0}

    def replace_then_fail(src: Any, dst: Any) -> None:
        count["n"] += 1
        if count["n"] == 3:
            raise OSError("injected: I/O error")
        real(src, dst)

    monkeypatch.setattr("keelson.staging.os.replace", replace_then_fail)
    return {}


FAILURES = {
    "lint": (fail_lint, "lint"),
    "check": (fail_values, "schema"),
    "package": (fail_archive, "package"),
    "publish": (fail_index, None),
    "oci": (fail_oci, "publish"),
    "deploy": (fail_deploy, "deploy"),
}


@pytest.mark.parametrize("where", FAILURES)
def test_a_failure_at_any_stage_leaves_dist_byte_identical(
    where: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    bump(prj)
    inject, stage = FAILURES[where]
    options = inject(monkeypatch, prj)
    before = tree_hash(prj.root / "dist")
    assert before
    if stage is None:  # an unexpected crash: the exception goes through, dist/ stays as it was
        with pytest.raises((RuntimeError, OSError), match="injected"):
            release.run("prod", prj=prj, **options)
    else:
        report = release.run("prod", prj=prj, **options)
        assert report.failed is not None, report.summary()
        assert report.failed.stage == stage
        assert "dist/ is unchanged" in report.summary()[0]
    assert tree_hash(prj.root / "dist") == before
    assert not list((prj.root / "dist").glob(".staging-*"))


def test_a_failure_past_the_commit_point_is_completed_by_the_next_command(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    bump(prj)
    fail_write(monkeypatch, prj)
    report = release.run("prod", prj=prj)
    assert report.failed is not None
    assert report.failed.stage == "write"
    assert report.findings[0].message.endswith("the next release or publish completes it")
    assert report.summary()[0] == "release prod: stopped at write; the next run completes the write"
    monkeypatch.undo()
    stub_lint(monkeypatch)
    again = release.run("prod", prj=prj)  # finishes the journal first, then finds nothing new
    assert again.ok, again.summary()
    assert again.plan is not None
    assert again.plan.added == []
    assert not list((prj.root / "dist").glob(".staging-*"))
    record = json.loads((prj.root / "dist" / "releases" / "prod.json").read_text())
    assert record["charts"]["app"]["version"] == version_of(prj, "app")


def test_a_bad_overlay_fails_before_lint_runs(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    linted: list[object] = []

    def lint(envs: object, prj: object, **options: object) -> list[StageResult]:
        linted.append(envs)
        return []

    options = fail_values(monkeypatch, prj)
    monkeypatch.setattr("keelson.release.linting.run", lint)
    report = release.run("prod", prj=prj, **options)
    assert report.failed is not None
    assert report.failed.stage == "schema"
    assert linted == []
    assert [stage.stage for stage in report.stages] == ["preflight", "values", "schema"]


def test_the_next_release_adds_versions_and_keeps_the_old_ones(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    old_index = yaml.safe_load((prj.root / "dist" / "repo" / "index.yaml").read_text())
    old_app, old_umbrella = version_of(prj, "app"), version_of(prj)
    bump(prj)
    stub_lint(monkeypatch)
    report = release.run("prod", prj=prj)
    assert report.ok, report.summary()
    assert report.diff is not None
    assert report.diff.old.startswith("last prod release (keelson ")
    assert report.plan is not None
    added = [(decision.name, decision.version) for decision in report.plan.added]
    assert added == [("app", version_of(prj, "app")), ("keelson", version_of(prj))]
    index = yaml.safe_load((prj.root / "dist" / "repo" / "index.yaml").read_text())
    assert [e["version"] for e in index["entries"]["app"]] == [version_of(prj, "app"), old_app]
    assert [e["version"] for e in index["entries"]["keelson"]] == [version_of(prj), old_umbrella]
    for name, entries in old_index["entries"].items():
        for entry in entries:
            assert entry in index["entries"][name], "an earlier entry was dropped or changed"


def test_refused_version_names_the_chart(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    before = tree_hash(prj.root / "dist")
    values = prj.charts_dir / "loki" / "values.yaml"
    values.write_text(values.read_text() + "\n# changed, not bumped\n")
    commit(prj.root, "loki: change without a bump")
    stub_lint(monkeypatch)
    report = release.run("prod", prj=prj)
    assert report.failed is not None
    assert report.failed.stage == "package"
    assert report.findings[0].message.startswith("chart loki (charts/loki/Chart.yaml): version ")
    assert tree_hash(prj.root / "dist") == before


def test_a_republished_version_names_the_charts_file(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from keelson import publish  # noqa: PLC0415

    prj = published_project(tmp_path_factory, tmp_path / "project")
    packaged = publish.load_packages(prj.root / "dist" / "packages" / "prod", prj)
    sources = {archive.name: archive.source for archive in packaged.archives}
    assert sources["app"] == "charts/app/Chart.yaml"
    assert sources["keelson"] == "charts/keelson/Chart.yaml"


def test_oci_push_to_a_registry_on_loopback(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    version = version_of(prj)
    packaged = within(prj, "package", "--env", "prod")
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    with registry(tmp_path / "registry") as host:
        url = f"oci://{host}/charts"
        done = within(prj, "publish", "--env", "prod", "--oci", url, "--plain-http")
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(
            rf"pushed {re.escape(host)}/charts/keelson:{re.escape(version)} sha256:[0-9a-f]{{64}}",
            done.stdout,
        )
        env = helm_env(tmp_path / "helm")
        shown = helm(env, "show", "chart", f"{url}/keelson", "--version", version, "--plain-http")
        assert shown.returncode == 0, shown.stderr
        assert "name: keelson" in shown.stdout
        target = tmp_path / "pulled"
        target.mkdir()
        pulled = helm(
            env, "pull", f"{url}/keelson", "--version", version, "--plain-http", "--destination", str(target)
        )
        assert pulled.returncode == 0, pulled.stderr
    ours = prj.root / "dist" / "packages" / "prod" / f"keelson-{version}.tgz"
    assert (target / f"keelson-{version}.tgz").read_bytes() == ours.read_bytes()
    record = json.loads((prj.root / "dist" / "releases" / "prod.json").read_text())
    assert f"{host}/charts/keelson:{version}" in record["oci"]


def test_release_is_importable_as_an_api() -> None:
    assert release.STAGES.index("preflight") < release.STAGES.index("check") < release.STAGES.index("write")
    with pytest.raises(KeelsonError, match="not an environment"):
        release.run("qa")


def test_one_release_loads_the_values_once_and_reads_the_index_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's values go on to lint, package and record, and the index read for the diff
    against the last release is the one package and publish decide against."""
    from keelson import lint, repository, values  # noqa: PLC0415

    prj = published_project(tmp_path_factory, tmp_path / "project")
    values_loaded: list[str] = []
    index_read: list[Path] = []
    real_load, real_index = values.load, repository.load_index

    def load(env: str, *args: Any, **kwargs: Any) -> values.MergedValues:
        values_loaded.append(env)
        return real_load(env, *args, **kwargs)

    def load_index(repo_dir: Path) -> dict[str, Any]:
        index_read.append(repo_dir)
        return real_index(repo_dir)

    monkeypatch.setattr("keelson.values.load", load)
    monkeypatch.setattr("keelson.repository.load_index", load_index)
    # helm lint is real (it takes the values); yamllint and ct lint read no values
    monkeypatch.setattr(lint, "yamllint", lambda prj, memo=None: [])
    monkeypatch.setattr(lint, "ct_lint", lambda prj, memo=None: [])
    report = release.run("prod", prj=prj, dry_run=True)
    assert report.ok, [str(finding) for finding in report.findings]
    assert report.diff is not None  # against the last release, which the index names
    assert report.plan is not None
    assert [stage.stage for stage in report.stages if stage.stage in ("lint", "diff", "publish")] == [
        "lint",
        "diff",
        "publish",
    ]
    assert values_loaded == ["prod"]
    assert index_read == [prj.root / "dist" / "repo"]
