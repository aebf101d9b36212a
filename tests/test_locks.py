"""The hashed Python locks in requirements/ are current: every top-level pin of scripts/pins.txt and
every dependency pyproject.toml names is locked at the pinned version, and every package, transitive
ones included, carries hashes. When this fails, run scripts/lock-python."""

from __future__ import annotations

import re
import tomllib

import pins
import pytest
from support import REPO

LOCKS = REPO / "requirements"
REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every entry of a lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = (LOCKS / lock).read_text(encoding="utf-8")
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.split("\\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        name, _, version = head.partition("==")
        assert version, f"{lock}: {head!r} is not pinned with =="
        entries[normal(name)] = (
            version.split(";")[0].strip(),
            re.findall(r"--hash=sha256:([0-9a-f]{64})", block),
        )
    return entries


def pyproject_names(*extras: str) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {normal(match.group(0)) for item in requirements if (match := REQUIREMENT_NAME.match(item))}


PROFILE_LOCKS = {"main": ("main.lock", ("tools",)), "test": ("test.lock", ("tools", "test"))}


@pytest.mark.parametrize("profile", sorted(PROFILE_LOCKS))
def test_every_pypi_pin_of_the_profile_is_locked_at_its_version(profile: str) -> None:
    lock, _ = PROFILE_LOCKS[profile]
    entries = locked(lock)
    for pin in pins.selected(pins.parse(REPO / "scripts" / "pins.txt"), profile):
        if pin.kind == "pypi":
            assert normal(pin.name) in entries, (
                f"{pin.name} is pinned but not in {lock}: run scripts/lock-python"
            )
            assert entries[normal(pin.name)][0] == pin.version, (
                f"{pin.name}: {lock} is stale; run scripts/lock-python"
            )


@pytest.mark.parametrize("profile", sorted(PROFILE_LOCKS))
def test_every_pyproject_dependency_is_locked_and_pinned(profile: str) -> None:
    lock, extras = PROFILE_LOCKS[profile]
    pinned = {normal(pin.name) for pin in pins.parse(REPO / "scripts" / "pins.txt") if pin.kind == "pypi"}
    for name in pyproject_names(*extras):
        assert name in locked(lock), f"{name} (pyproject.toml) is not in {lock}: run scripts/lock-python"
        assert name in pinned, f"{name} (pyproject.toml) has no pypi line in scripts/pins.txt"


def test_the_main_lock_holds_no_test_tool() -> None:
    assert not set(locked("main.lock")) & {"pytest", "mypy", "ruff", "pytest-xdist"}


@pytest.mark.parametrize("lock", ["main.lock", "test.lock", "pip.lock", "checkov.lock"])
def test_every_locked_package_has_hashes(lock: str) -> None:
    entries = locked(lock)
    assert entries
    for name, (version, hashes) in entries.items():
        assert version, name
        assert hashes, f"{lock}: {name} has no --hash"


def test_main_lock_is_part_of_the_test_lock() -> None:
    """The test profile adds packages; it never installs another version of a main one."""
    test = locked("test.lock")
    for name, (version, _) in locked("main.lock").items():
        assert test[name][0] == version, name


def test_pip_and_the_build_backend_are_pinned() -> None:
    assert set(locked("pip.lock")) == {"pip", "setuptools"}
    backend = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    assert backend["build-backend"] == "setuptools.build_meta"


def test_checkov_lock_follows_its_venv_pin() -> None:
    (checkov,) = [pin for pin in pins.parse(REPO / "scripts" / "pins.txt") if pin.kind == "venv"]
    assert checkov.option("lock") == "requirements/checkov.lock"
    assert locked("checkov.lock")["checkov"][0] == checkov.version
