"""scripts/pins.txt and the cache keys of scripts/bootstrap: what each profile installs, and that a
build's key changes exactly when something it depends on changes."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from typing import TYPE_CHECKING

import goenv
import pins
import pytest
from support import REPO

if TYPE_CHECKING:
    from pathlib import Path

GO_SHAPING = {
    "GOVERSION": "go1.26.8",
    "GOOS": "linux",
    "GOARCH": "amd64",
    "GOAMD64": "v1",
    "GOFLAGS": "-buildvcs=false",
    "CGO_ENABLED": "0",
}


def real_pins() -> list[pins.Pin]:
    return pins.parse(REPO / "scripts" / "pins.txt")


def _names(selection: list[pins.Pin], kinds: set[str]) -> set[str]:
    return {name for pin in selection if pin.kind in kinds for name in pin.names}


def test_main_profile_is_what_the_release_runs() -> None:
    """`invoke release` calls helm, ct, kubeconform, amtool and promtool (grep `tool(` in keelson/),
    kubectl when it deploys, rolls back or checks a cluster's prerequisites, and cosign when it signs
    what it pushes (--cosign-key); the main profile builds those and no server, scanner or
    control-plane program."""
    main = pins.selected(real_pins(), "main")
    assert _names(main, {"go", "gosrc", "venv"}) == {
        "helm",
        "ct",
        "kubeconform",
        "amtool",
        "promtool",
        "kubectl",
        "cosign",
    }
    assert _names(main, {"pypi"}) >= {"pyhelm3", "yamllint", "yamale", "kubernetes-validate"}
    assert not _names(main, {"pypi"}) & {"pytest", "mypy", "ruff"}


def test_test_profile_adds_what_the_tests_run() -> None:
    every = real_pins()
    test_only = _names(pins.selected(every, "test"), {"go", "gosrc", "venv"}) - _names(
        pins.selected(every, "main"), {"go", "gosrc", "venv"}
    )
    control_plane = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
    servers = {"prometheus", "alertmanager", "registry"}
    scanners = {"checkov", "kube-score", "kube-linter"}
    assert test_only >= control_plane | servers | scanners | {"helm3"}


def test_control_plane_is_stamped_with_its_version() -> None:
    """Without the stamps the API server reports v0.0.0 and a chart's kubeVersion refuses it."""
    (servers,) = [pin for pin in real_pins() if "kube-apiserver" in pin.names]
    (kubectl,) = [pin for pin in real_pins() if "kubectl" in pin.names]
    assert servers.names == ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    for kubernetes in (servers, kubectl):
        assert kubernetes.spec == "k8s.io/kubernetes@v1.35.4"
        assert kubernetes.option("stagingrequire") == "v0.35.4"
        flags = kubernetes.all("ldflag")
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            assert f"-X={package}.gitVersion=v1.35.4" in flags
            assert f"-X={package}.gitMajor=1" in flags
            assert f"-X={package}.gitMinor=35" in flags
            assert f"-X={package}.gitTreeState=clean" in flags
    # One module copy, one set of flags: kubectl and the servers are the same build.
    assert kubectl.options == servers.options


def test_servers_share_the_pins_of_their_check_tools() -> None:
    by_name = {name: pin for pin in real_pins() for name in pin.names}
    assert by_name["prometheus"].version == by_name["promtool"].version
    assert by_name["prometheus"].all("replace") == by_name["promtool"].all("replace")
    assert by_name["alertmanager"].version == by_name["amtool"].version


def test_no_agpl_module_is_built() -> None:
    agpl = re.compile(r"github\.com/grafana/(loki|tempo|mimir|pyroscope|grafana)\b")
    for pin in real_pins():
        # refuse= names the AGPL modules a build must not link: the one place they may appear.
        built = " ".join(word for word in pin.text.split() if not word.startswith("refuse="))
        assert not agpl.search(built), f"{pin.name} builds an AGPL-3.0 module"


def _key(pin: pins.Pin, shaping: dict[str, str] = GO_SHAPING) -> str:
    return pins.cache_key(pin, REPO, shaping)


def test_cache_key_follows_each_input_of_a_build() -> None:
    every = {pin.name: pin for pin in real_pins()}
    helm = every["helm"]
    base = _key(helm)
    assert _key(dataclasses.replace(helm, spec="helm.sh/helm/v4/cmd/helm@v4.3.2")) != base
    assert _key(dataclasses.replace(helm, options=(("ldflag", "-s"),))) != base
    for setting in ("GOVERSION", "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS"):
        assert _key(helm, {**GO_SHAPING, setting: "changed"}) != base, setting
    promtool = every["promtool"]
    repinned = (
        ("module", "github.com/prometheus/prometheus"),
        ("replace", "github.com/hashicorp/nomad/api@v0.1.0"),
    )
    assert _key(dataclasses.replace(promtool, options=repinned)) != _key(promtool)


def test_cache_key_ignores_what_the_build_does_not_read() -> None:
    """Comments, spacing, line numbers, the section and other lines leave a key as it was."""
    helm = {pin.name: pin for pin in real_pins()}["helm"]
    moved = dataclasses.replace(
        helm, line=999, profile="test", text="go helm   helm.sh/helm/v4/cmd/helm@v4.3.1 # x"
    )
    assert _key(moved) == _key(helm)


def test_editing_one_line_rebuilds_that_build_only(tmp_path: Path) -> None:
    text = (REPO / "scripts" / "pins.txt").read_text(encoding="utf-8")
    before = {pin.name: _key(pin) for pin in real_pins()}
    edited = tmp_path / "pins.txt"
    edited.write_text(
        "# a new comment\n" + text.replace("kubeconform@v0.7.0", "kubeconform@v0.7.1"), encoding="utf-8"
    )
    after = {pin.name: pins.cache_key(pin, REPO, GO_SHAPING) for pin in pins.parse(edited)}
    assert {name for name in before if before[name] != after[name]} == {"kubeconform"}


def test_main_folder_content_is_part_of_the_key(tmp_path: Path) -> None:
    """A gosrc line's main= folder is read from the repository: editing a file there rebuilds."""
    folder = tmp_path / "cmdsrc"
    folder.mkdir()
    (folder / "main.go").write_text("package main\n\nfunc main() {}\n", encoding="utf-8")
    pin = pins.Pin(
        "gosrc", ("demo",), "example.com/demo@v1.0.0", "./cmd/demo", (("main", "cmdsrc"),), "test", 1, ""
    )
    first = pins.cache_key(pin, tmp_path, GO_SHAPING)
    assert pins.cache_key(pin, tmp_path, GO_SHAPING) == first
    (folder / "main.go").write_text("package main\n\nfunc main() { println() }\n", encoding="utf-8")
    assert pins.cache_key(pin, tmp_path, GO_SHAPING) != first


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[extras]", r"^pins\.txt:1: section '\[extras\]' is not one of \[main\], \[test\]$"),
        ("npm x 1.0", r"^pins\.txt:1: kind 'npm' is not one of go, gosrc, pypi, venv$"),
        (
            "go x example.com/x@v1 tag=y",
            r"^pins\.txt:1: go option 'tag' is unknown \(allowed: keep, ldflag, ",
        ),
        ("go x example.com/x", r"^pins\.txt:1: 'example\.com/x' needs an @version$"),
        (
            "go a,b example.com/x@v1",
            r"^pins\.txt:1: several binaries need a gosrc package pattern with \{\}$",
        ),
        ("go x example.com/x@v1\ngo x example.com/y@v1", r"^pins\.txt:2: x is pinned twice$"),
    ],
)
def test_a_wrong_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "pins.txt"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(pins.PinsError, match=message):
        pins.parse(path)


def test_continuation_lines_join() -> None:
    path_text = "[test]\ngo x example.com/x@v1 \\\n   module=example.com/x \\\n   keep=data\n"
    lines = pins._logical_lines(path_text)
    assert lines == [(1, "[test]"), (2, "go x example.com/x@v1 module=example.com/x keep=data")]


@pytest.mark.parametrize(
    ("environ", "settings", "refused"),
    [
        ({"GOSUMDB": "off"}, {}, "GOSUMDB=off"),
        ({}, {"GOSUMDB": "off"}, "GOSUMDB=off"),
        ({"GONOSUMDB": "example.com"}, {}, "GONOSUMDB is set (in the environment)"),
        ({}, {"GONOSUMDB": "example.com"}, "GONOSUMDB is set (in `go env -w`)"),
        ({"GONOSUMCHECK": "1"}, {}, "GONOSUMCHECK is set"),
        ({"GONOVERIFY": "1"}, {}, "GONOVERIFY is set"),
        ({"GOINSECURE": "example.com"}, {}, "GOINSECURE is set"),
        ({"GOPRIVATE": "example.com"}, {}, "GOPRIVATE is set"),
        ({"GOFLAGS": "-mod=mod -insecure"}, {}, "GOFLAGS contains -insecure"),
    ],
)
def test_settings_that_skip_verification_are_refused(
    environ: dict[str, str], settings: dict[str, str], refused: str
) -> None:
    reason = goenv.refusal(environ, settings)
    assert reason is not None
    assert reason.startswith(refused)
    assert "\n" not in reason


def test_the_machine_settings_are_accepted() -> None:
    """GOFLAGS=-buildvcs=false (this machine's `go env -w`) and the default checksum database."""
    assert goenv.refusal({}, {"GOFLAGS": "-buildvcs=false", "GOSUMDB": "sum.golang.org"}) is None


@pytest.mark.parametrize(
    ("name", "value"), [("GOSUMDB", "off"), ("GONOSUMDB", "*"), ("GOFLAGS", "-insecure")]
)
def test_bootstrap_refuses_before_installing_anything(tmp_path: Path, name: str, value: str) -> None:
    """The real script, in a copy with nothing installed: one line, exit 1, no .venv made."""
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    for script in ("bootstrap", "goenv.py"):
        (copy / "scripts" / script).write_bytes((REPO / "scripts" / script).read_bytes())
    (copy / "scripts" / "bootstrap").chmod(0o755)
    done = subprocess.run(
        [str(copy / "scripts" / "bootstrap")],
        env={**{k: v for k, v in os.environ.items() if k not in goenv.REFUSED}, name: value},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"bootstrap: error: {name}")
    assert not (copy / ".venv").exists()
