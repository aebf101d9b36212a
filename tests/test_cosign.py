"""`publish --oci ... --cosign-key FILE`: every pushed chart is signed with cosign, and `cosign
verify` checks the signature against the real registry on loopback (issue 14, item 7).

Each test makes a throwaway key pair with `cosign generate-key-pair`; its password is drawn at
random per test and only ever lives in this process's environment (COSIGN_PASSWORD)."""

from __future__ import annotations

import secrets
import subprocess
from typing import TYPE_CHECKING, cast

import pytest
from releasing import git_project, registry
from support import REPO, invoke, one_error_line

from keelson import cosign as cosign_module
from keelson import helm, publish
from keelson.package import Archive, PackageResult
from keelson.project import project

if TYPE_CHECKING:
    from pathlib import Path

    from keelson.project import Project
    from keelson.record import ReleaseRecord

COSIGN = REPO / ".tools" / "bin" / "cosign"
CHARTS = (
    "keelson",
    "keelson-common",
    "app",
    "loki",
    "tempo",
    "mimir",
    "pyroscope",
    "grafana",
    "alloy",
    "kube-state-metrics",
)


def within(prj: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke(*args, cwd=prj.root, root=prj.root)


def cosign(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COSIGN), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def key_pair(folder: Path) -> tuple[Path, Path]:
    """cosign.key (encrypted with COSIGN_PASSWORD) and cosign.pub in ``folder``."""
    folder.mkdir(parents=True)
    made = cosign("generate-key-pair", cwd=folder)
    assert made.returncode == 0, made.stderr
    return folder / "cosign.key", folder / "cosign.pub"


def signed_pushes(stdout: str) -> dict[str, str]:
    """chart -> digest of each `pushed <host>/charts/<chart>:<version> <digest> signed with cosign`."""
    return {
        words[1].rsplit("/", 1)[1].split(":")[0]: words[2]
        for words in (line.split() for line in stdout.splitlines())
        if words[:1] == ["pushed"] and words[3:] == ["signed", "with", "cosign"]
    }


def verify(public_key: Path, reference: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cosign(
        "verify", "--key", str(public_key), "--insecure-ignore-tlog=true",
        "--allow-http-registry", "--allow-insecure-registry", reference, cwd=cwd,
    )  # fmt: skip


def test_every_pushed_chart_is_signed_and_verifies_only_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = secrets.token_urlsafe(24)
    monkeypatch.setenv("COSIGN_PASSWORD", password)
    private, public = key_pair(tmp_path / "key")
    _, other_public = key_pair(tmp_path / "other")
    prj = git_project(tmp_path / "project")
    packaged = within(prj, "package", "--env", "prod")
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    with registry(tmp_path / "registry") as host:
        url = f"oci://{host}/charts"
        wrong_password = secrets.token_urlsafe(24)
        monkeypatch.setenv("COSIGN_PASSWORD", wrong_password)
        refused = within(
            prj, "publish", "--env", "prod", "--oci", url, "--plain-http", "--cosign-key", str(private)
        )
        line = one_error_line(refused, f"cosign sign {host}/charts/", "@sha256:")
        assert "decrypt" in line  # cosign says why: the password does not open the key
        assert wrong_password not in refused.stdout + refused.stderr
        assert not (prj.root / "dist" / "releases" / "prod.json").exists()  # nothing was written
        monkeypatch.setenv("COSIGN_PASSWORD", password)
        done = within(
            prj, "publish", "--env", "prod", "--oci", url, "--plain-http", "--cosign-key", str(private)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        pushed = signed_pushes(done.stdout)
        assert set(pushed) == set(CHARTS)
        assert done.stdout.count("pushed ") == len(CHARTS)
        for chart, digest in pushed.items():
            reference = f"{host}/charts/{chart}@{digest}"
            good = verify(public, reference, tmp_path)
            assert good.returncode == 0, f"{chart}: {good.stderr}"
            assert digest in good.stdout  # the signed payload names exactly this manifest
            wrong = verify(other_public, reference, tmp_path)
            assert wrong.returncode != 0, f"{chart} verified with another key"
            assert "no matching signatures" in wrong.stderr
        # A release goes through the same push; helm writes a new manifest (its creation time), so
        # the tags move to new digests, and each of those is signed.
        released = within(
            prj, "release", "--env", "prod", "--oci", url, "--plain-http", "--cosign-key", str(private)
        )
        assert released.returncode == 0, released.stdout + released.stderr
        repushed = signed_pushes(released.stdout)
        assert set(repushed) == set(CHARTS)
        for chart, digest in repushed.items():
            assert verify(public, f"{host}/charts/{chart}@{digest}", tmp_path).returncode == 0, chart
    written = [path for path in (prj.root / "dist").rglob("*") if path.is_file()]
    for text in [
        done.stdout,
        done.stderr,
        released.stdout,
        released.stderr,
        *(path.read_bytes().decode(errors="replace") for path in written),
    ]:
        assert password not in text
        assert "ENCRYPTED SIGSTORE PRIVATE KEY" not in text


def test_cosign_key_goes_with_oci(tmp_path: Path) -> None:
    prj = git_project(tmp_path / "project")
    done = within(prj, "publish", "--env", "prod", "--cosign-key", str(tmp_path / "cosign.key"))
    one_error_line(done, "--cosign-key goes with --oci")


def test_a_missing_key_file_or_password_stops_before_any_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prj = git_project(tmp_path / "project")
    url = "oci://127.0.0.1:9/charts"  # nothing listens: a push would fail with another message
    monkeypatch.setenv("COSIGN_PASSWORD", "")
    missing = tmp_path / "nothing.key"
    done = within(prj, "publish", "--env", "prod", "--oci", url, "--cosign-key", str(missing))
    one_error_line(done, f"--cosign-key {missing}: not a file")
    key = tmp_path / "cosign.key"
    key.write_text("not read by this test\n", encoding="utf-8")
    monkeypatch.delenv("COSIGN_PASSWORD")
    done = within(prj, "release", "--env", "prod", "--oci", url, "--cosign-key", str(key))
    line = one_error_line(done, f"--cosign-key {key}: COSIGN_PASSWORD is not set")
    assert "not read by this test" not in line


def test_a_signing_failure_names_what_was_pushed_and_signed_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stubbed at the module boundary (helm push, cosign sign): a real registry cannot be made to
    refuse the second signature of one key cheaply, and what is under test is the message."""
    names = ("keelson-common", "app", "loki")
    archives = tuple(
        Archive(name, "1.2.3", f"{name}-1.2.3.tgz", "", "", f"charts/{name}/Chart.yaml", {}) for name in names
    )
    packaged = PackageResult("prod", tmp_path, archives, cast("ReleaseRecord", None), ())
    digest = "sha256:" + "0" * 64

    def pushed(what: str, action: object, error: type[Exception]) -> bytes:
        chart = what.split()[2].removesuffix("-1.2.3.tgz")
        return f"Pushed: registry.test/charts/{chart}:1.2.3\nDigest: {digest}\n".encode()

    def sign(prj: Project, key: cosign_module.SigningKey, reference: str, *, plain_http: bool) -> None:
        if "/loki@" in reference:
            raise cosign_module.SigningError(f"cosign sign {reference}: the registry refused the signature")

    monkeypatch.setattr(helm, "call", pushed)
    monkeypatch.setattr(cosign_module, "sign", sign)

    with pytest.raises(publish.PublishError) as caught:
        publish.push_oci(
            project(REPO),
            packaged,
            "oci://registry.test/charts",
            cosign_key=cosign_module.SigningKey(tmp_path / "cosign.key"),
        )

    assert caught.value.message == (
        f"cosign sign registry.test/charts/loki@{digest}: the registry refused the signature; "
        "loki 1.2.3 was pushed unsigned; pushed and signed before it: keelson-common 1.2.3, app 1.2.3"
    )
