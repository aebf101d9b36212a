"""Where things are: the project root, its folders, the environments and the pinned tools."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from keelson.errors import ToolError, ValuesError

ENVS: tuple[str, ...] = ("dev", "staging", "prod")
# Every Kubernetes version the rendered objects are checked against; the first is the oldest
# supported (Chart.yaml kubeVersion ">=1.30.0-0") and the one the charts are rendered for.
KUBE_VERSIONS: tuple[str, ...] = ("1.30.0", "1.35.0")
# APIs a cluster may or may not have. `check` renders with them present, so that every object the
# charts can emit (ServiceMonitor, PrometheusRule, HTTPRoute) gets schema-checked. Both spellings
# are given because templates may ask `.Capabilities.APIVersions.Has` for either.
OPTIONAL_APIS: tuple[str, ...] = (
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1/HTTPRoute",
)
TOOL_GOGC = "400"  # see Project.tool_env
# Tools that scripts/bootstrap installs into .venv rather than .tools (only for the error message).
PYTHON_TOOLS = frozenset({"yamllint", "yamale", "ruff", "mypy", "pytest", "invoke"})
# The Python tools of the test profile (requirements/test.lock); the Go ones are named in
# .tools/profile.json, which scripts/bootstrap writes from scripts/pins.txt.
PYTHON_TEST_TOOLS = frozenset({"ruff", "mypy", "pytest"})
RELEASE = "keelson"
NAMESPACE = "keelson"
UMBRELLA = "keelson"


def check_env(env: str) -> str:
    if env not in ENVS:
        raise ValuesError(f"--env: not an environment (allowed: {', '.join(ENVS)})")
    return env


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def charts_dir(self) -> Path:
        return self.root / "charts"

    @property
    def umbrella(self) -> Path:
        return self.charts_dir / UMBRELLA

    @property
    def values_dir(self) -> Path:
        return self.root / "values"

    @property
    def tools_bin(self) -> Path:
        return self.root / ".tools" / "bin"

    @property
    def venv_bin(self) -> Path:
        return self.root / ".venv" / "bin"

    @property
    def k8s_schemas(self) -> Path:
        return self.root / ".tools" / "k8s-schemas"

    @property
    def crd_schemas(self) -> Path:
        return self.root / "schemas" / "crds"

    @property
    def schema_sources(self) -> Path:
        """The sources of the charts' values.schema.json (keelson/schemagen.py)."""
        return self.root / "schemas" / "values"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    def env_file(self, env: str) -> Path:
        return self.values_dir / f"{check_env(env)}.yaml"

    def display(self, path: Path) -> str:
        """A path as a user would type it: relative to the root when inside it."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def _profile_record(self) -> dict[str, object]:
        """.tools/profile.json: the profile bootstrap installed and the profile of every tool."""
        try:
            record = json.loads((self.root / ".tools" / "profile.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def installed_profile(self) -> str | None:
        """``main`` or ``test``: what scripts/bootstrap last installed here; None before it ran."""
        profile = self._profile_record().get("profile")
        return profile if isinstance(profile, str) else None

    def tool_profile(self, name: str) -> str:
        """The bootstrap profile that installs ``name`` (``test`` needs ``scripts/bootstrap --test``)."""
        if name in PYTHON_TEST_TOOLS:
            return "test"
        tools = self._profile_record().get("tools")
        profile = tools.get(name) if isinstance(tools, dict) else None
        return profile if isinstance(profile, str) else "main"

    def tool(self, name: str) -> Path:
        """A pinned binary: .tools/bin first (Go programs), then .venv/bin (Python ones)."""
        for folder in (self.tools_bin, self.venv_bin):
            candidate = folder / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        where = ".venv/bin" if name in PYTHON_TOOLS else ".tools/bin"
        command = "scripts/bootstrap --test" if self.tool_profile(name) == "test" else "scripts/bootstrap"
        raise ToolError(f"{name} not found in {where}; run {command}")

    def path_env(self) -> str:
        """PATH with the pinned tools first, for tools that call others (ct calls helm, yamllint)."""
        return os.pathsep.join([str(self.tools_bin), str(self.venv_bin), os.environ.get("PATH", "")])

    def tool_env(self) -> dict[str, str]:
        """The environment the pinned tools run in: :meth:`path_env`, and Go's collector at
        ``GOGC=400`` unless the caller set GOGC. helm, kubeconform and promtool live for under a
        second and allocate tens of megabytes; at Go's default (100) they spend a fifth of their CPU
        collecting garbage they would free on exit anyway. 400 saves most of that (helm template:
        0.58 s -> 0.47 s of CPU, helm lint of every chart: 1.31 s -> 0.99 s) for about 30 MB more
        peak memory per process (66 MB -> 93 MB for helm template)."""
        return {**os.environ, "PATH": self.path_env(), "GOGC": os.environ.get("GOGC", TOOL_GOGC)}


def project(root: Path | None = None) -> Project:
    """The project at ``root``, else at $KEELSON_ROOT, else the checkout this package lives in."""
    if root is None:
        configured = os.environ.get("KEELSON_ROOT")
        root = Path(configured) if configured else Path(__file__).resolve().parent.parent
    return Project(root.resolve())
