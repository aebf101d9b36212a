"""Images: a tag or digest, never `latest`; pinned by semantic version or digest in prod."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keelson.gates.engine import WARNING, Context, Hit, rule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from keelson.k8s import Container, Workload

SEMVER = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    name: str  # [registry/]repository
    tag: str
    digest: str


def parse_image(image: str) -> ImageRef:
    """``registry:5000/repo:tag@sha256:...`` -> name, tag and digest (each may be empty)."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return ImageRef(rest[:colon], rest[colon + 1 :], digest)
    return ImageRef(rest, "", digest)


def _images(ctx: Context) -> Iterator[tuple[Workload, Container, str]]:
    for workload in ctx.workloads:
        for container in workload.containers():
            yield workload, container, str(container.spec.get("image") or "").strip()


def _who(container: Container) -> str:
    return f'{"init container" if container.init else "container"} "{container.name}"'


@rule(
    "KEEL001",
    "Images have a tag or a digest, never `latest`",
    envs=("staging", "prod"),
    remediation="set image.tag to a release such as v1.2.3 (or image.digest to sha256:...) in "
    "values/<env>.yaml",
)
def image_not_latest(ctx: Context) -> Iterator[Hit]:
    for workload, container, image in _images(ctx):
        path = f"{container.path}.image"
        parsed = parse_image(image)
        if not image:
            yield Hit(workload.ref, f"{_who(container)}: image is empty", path)
        elif parsed.digest:
            if not DIGEST.match(parsed.digest):
                yield Hit(
                    workload.ref,
                    f'{_who(container)}: image digest "{parsed.digest}" is not sha256:<64 hex>',
                    path,
                )
        elif not parsed.tag:
            yield Hit(
                workload.ref, f'{_who(container)}: image "{image}" has no tag, so it pulls "latest"', path
            )
        elif parsed.tag.lower() == "latest":
            yield Hit(workload.ref, f'{_who(container)}: image tag "latest" is not pinned', path)


@rule(
    "KEEL002",
    "Images are pinned by semantic-version tag or digest",
    envs=("staging", "prod"),
    severity_in={"staging": WARNING},
    remediation="pin image.tag to a semantic version (v1.2.3) or set image.digest; moving tags "
    "(staging, main, stable) let a restart change the code",
)
def image_pinned(ctx: Context) -> Iterator[Hit]:
    for workload, container, image in _images(ctx):
        parsed = parse_image(image)
        if parsed.digest or not parsed.tag or parsed.tag.lower() == "latest":
            continue  # pinned, or KEEL001's finding
        if not SEMVER.match(parsed.tag):
            yield Hit(
                workload.ref,
                f'{_who(container)}: image tag "{parsed.tag}" is not a semantic version',
                f"{container.path}.image",
            )


# Registries allowed when values set no `gates.allowedRegistries`: where every chart's image comes from.
DEFAULT_REGISTRIES = ("docker.io", "registry.k8s.io/kube-state-metrics")


def registry_of(name: str) -> str:
    """The registry of ``[registry/]repository``: the first part when it looks like a host, else docker.io."""
    first, slash, _ = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _allowed(ctx: Context) -> tuple[str, ...]:
    configured = ctx.settings.get("allowedRegistries")
    if isinstance(configured, list) and all(isinstance(item, str) for item in configured):
        return tuple(configured)
    return DEFAULT_REGISTRIES


@rule(
    "KEEL003",
    "Images come from an allowed registry",
    envs=("staging", "prod"),
    remediation="pull from a registry in gates.allowedRegistries (values), or add the registry (or "
    "registry/path) there after review; global.imageRegistry must be one of them",
)
def image_registry_allowed(ctx: Context) -> Iterator[Hit]:
    allowed = _allowed(ctx)
    for workload, container, image in _images(ctx):
        if not image:
            continue  # KEEL001's finding
        name = parse_image(image).name
        registry = registry_of(name)
        full = name if name.startswith(f"{registry}/") else f"{registry}/{name}"
        if not any(full == entry or full.startswith(f"{entry.rstrip('/')}/") for entry in allowed):
            yield Hit(
                workload.ref,
                f'{_who(container)}: registry "{registry}" is not in gates.allowedRegistries '
                f"({', '.join(allowed)})",
                f"{container.path}.image",
            )
