"""What a program model is: the model of its config file, the cross-field rules it enforces, where
its config lives in the render and which reference the model was taken from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.configmodels.schema import Problem, get

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.configmodels.schema import Block


@dataclass(frozen=True)
class Workload:
    """What the rules need to know about the pods that run the config."""

    replicas: int


@dataclass(frozen=True)
class Program:
    name: str  # "Loki 3.7": the program and the pinned minor version the model describes
    chart: str  # chart (and `app.kubernetes.io/name`) whose StatefulSet runs it
    configmap: str  # ConfigMap name after the release prefix: "loki" -> keelson-loki
    key: str  # the config file's key in that ConfigMap
    model: Block
    rules: tuple[Callable[[Any, Workload], list[Problem]], ...]
    source: str  # the configuration reference the model follows


def replicas_rule(
    program: str, backend_path: tuple[str, ...], local_backends: tuple[str, ...]
) -> Callable[[Any, Workload], list[Problem]]:
    """A rule: a backend on local disk (``filesystem``/``local``) holds the only copy of the data on
    one pod's volume, so more than one replica would split the data between pods."""

    def rule(config: Any, workload: Workload) -> list[Problem]:
        backend = get(config, *backend_path)
        if backend in local_backends and workload.replicas > 1:
            return [
                Problem(
                    backend_path,
                    f"{program} on {backend} storage needs exactly one replica (the StatefulSet has "
                    f"{workload.replicas}): use object storage (s3) for more",
                )
            ]
        return []

    return rule


def replication_rule(path: tuple[str, ...], ring: str) -> Callable[[Any, Workload], list[Problem]]:
    """A rule: a ring cannot keep more copies than there are replicas (writes would fail)."""

    def rule(config: Any, workload: Workload) -> list[Problem]:
        factor = get(config, *path)
        if isinstance(factor, int) and not isinstance(factor, bool) and factor > workload.replicas:
            return [
                Problem(
                    path,
                    f"the {ring} keeps more copies than there are replicas ({workload.replicas}): "
                    "expected at most the replica count",
                )
            ]
        return []

    return rule
