"""`invoke package`: byte-identical archives, the release record, the version check, signing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from typing import TYPE_CHECKING

import yaml
from releasing import (
    clone,
    commit,
    git,
    git_project,
    helm,
    helm_env,
    published_project,
    serve,
)
from support import invoke, one_error_line

from keelson.record import values_digest
from keelson.values import load

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from keelson.project import Project


def within(prj: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke(*args, cwd=prj.root, root=prj.root)


def digests(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.tgz"))}


def charts_of(prj: Project) -> dict[str, str]:
    """Chart name -> version, from every charts/*/Chart.yaml of the project."""
    found = {}
    for chart_yaml in prj.charts_dir.glob("*/Chart.yaml"):
        meta = yaml.safe_load(chart_yaml.read_text())
        found[meta["name"]] = str(meta["version"])
    return found


def test_package_twice_and_in_a_fresh_clone_gives_the_same_bytes(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    first = within(prj, "package", "--env", "prod")
    assert first.returncode == 0, first.stdout + first.stderr
    folder = prj.root / "dist" / "packages" / "prod"
    once = digests(folder)
    assert set(once) == {f"{name}-{version}.tgz" for name, version in charts_of(prj).items()}
    for name, digest in once.items():
        assert f"{name:<28} sha256:{digest}  new" in first.stdout
    second = within(prj, "package", "--env", "prod")
    assert second.returncode == 0, second.stdout + second.stderr
    assert digests(folder) == once
    fresh = clone(prj.root, tmp_path / "clone")
    third = within(fresh, "package", "--env", "prod")
    assert third.returncode == 0, third.stdout + third.stderr
    assert digests(fresh.root / "dist" / "packages" / "prod") == once


def test_archives_embed_the_published_dependency_bytes(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    assert within(prj, "package", "--env", "dev").returncode == 0
    folder = prj.root / "dist" / "packages" / "dev"
    commit_time = int(git(prj.root, "log", "-1", "--format=%ct").strip())
    umbrella = yaml.safe_load((prj.umbrella / "Chart.yaml").read_text())
    with tarfile.open(folder / f"keelson-{umbrella['version']}.tgz") as tar:
        names = tar.getnames()
        assert names == sorted(names)
        assert {member.mtime for member in tar.getmembers()} == {commit_time}
        for dep in umbrella["dependencies"]:
            inner = tar.extractfile(f"keelson/charts/{dep['name']}-{dep['version']}.tgz")
            assert inner is not None
            assert inner.read() == (folder / f"{dep['name']}-{dep['version']}.tgz").read_bytes()
        lock = tar.extractfile("keelson/Chart.lock")
        assert lock is not None
        assert "generated: " in lock.read().decode()
    grafana = charts_of(prj)["grafana"]
    with tarfile.open(folder / f"grafana-{grafana}.tgz") as tar:
        assert not [name for name in tar.getnames() if name.startswith("grafana/ci/")], ".helmignore: ci/"


def test_release_record(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    done = within(prj, "package", "--env", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    folder = prj.root / "dist" / "packages" / "prod"
    record = json.loads((folder / "release.json").read_text())
    assert record["env"] == "prod"
    assert record["chart"] == "keelson"
    assert record["git"] == {
        "sha": git(prj.root, "rev-parse", "HEAD").strip(),
        "dirty": False,
        "commitTime": "2026-01-01T00:00:00Z",
    }
    assert {name: item["version"] for name, item in record["charts"].items()} == charts_of(prj)
    for item in record["charts"].values():
        assert hashlib.sha256((folder / item["archive"]).read_bytes()).hexdigest() == item["sha256"]
    user = load("prod", (), prj).user
    assert record["values"] == user
    assert record["valuesDigest"] == values_digest(user)
    assert record["valuesDigest"].startswith("sha256:")
    assert any(image.startswith("docker.io/keelson/backend:") for image in record["images"])
    assert record["images"] == sorted(set(record["images"]))


def test_a_changed_chart_needs_a_higher_version(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    prj = published_project(tmp_path_factory, tmp_path / "project")
    before = {path.name: path.read_bytes() for path in (prj.root / "dist" / "packages" / "prod").iterdir()}
    values = prj.charts_dir / "app" / "values.yaml"
    values.write_text(values.read_text() + "\n# a change to the app chart\n")
    commit(prj.root, "app: change without a version bump")
    version = charts_of(prj)["app"]
    done = within(prj, "package", "--env", "prod")
    one_error_line(
        done,
        f"chart app (charts/app/Chart.yaml): version {version} is already published with different content",
        "bump version in charts/app/Chart.yaml",
    )
    after = {path.name: path.read_bytes() for path in (prj.root / "dist" / "packages" / "prod").iterdir()}
    assert after == before, "a refused package leaves dist/packages as it was"


def test_signed_archives_verify(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch"]
    key = "Keelson Test Signer <signer@keelson.invalid>"
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", key, "rsa2048", "sign", "never"], check=True)
    secring, pubring = tmp_path / "secring.gpg", tmp_path / "pubring.gpg"
    secring.write_bytes(
        subprocess.run([*gpg, "--export-secret-keys"], check=True, capture_output=True).stdout
    )
    pubring.write_bytes(subprocess.run([*gpg, "--export"], check=True, capture_output=True).stdout)
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)

    prj = git_project(tmp_path / "project")
    done = within(
        prj, "package", "--env", "dev", "--sign", "--key", "Keelson Test", "--keyring", str(secring)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    folder = prj.root / "dist" / "packages" / "dev"
    env = helm_env(tmp_path / "helm")
    for archive in sorted(folder.glob("*.tgz")):
        assert (folder / f"{archive.name}.prov").is_file()
        verified = helm(env, "verify", str(archive), "--keyring", str(pubring))
        assert verified.returncode == 0, verified.stderr
        assert "Signed by: Keelson Test Signer" in verified.stdout
    published = within(prj, "publish", "--env", "dev")
    assert published.returncode == 0, published.stdout + published.stderr
    repo = prj.root / "dist" / "repo"
    assert sorted(path.name for path in repo.glob("*.prov")) == sorted(
        f"{a.name}.prov" for a in folder.glob("*.tgz")
    )
    with serve(repo) as url:
        assert helm(env, "repo", "add", "keelson", url).returncode == 0
        pulled = helm(
            env,
            "pull",
            "keelson/keelson",
            "--verify",
            "--keyring",
            str(pubring),
            "--destination",
            str(tmp_path),
        )
        assert pulled.returncode == 0, pulled.stderr


def test_sign_options_go_together() -> None:
    one_error_line(invoke("package", "--env", "dev", "--sign"), "--sign needs --key NAME and --keyring PATH")
    one_error_line(
        invoke("package", "--env", "dev", "--key", "x"),
        "--key, --keyring and --passphrase-file go with --sign",
    )
