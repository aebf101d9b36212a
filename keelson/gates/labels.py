"""Labels: every object and pod says its environment, and the telemetry pipeline stamps `env`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from keelson.gates.engine import ENV_NAMES, Context, Hit, rule
from keelson.k8s import chart_of, labels_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from keelson.models import Object

ENV_LABEL = "app.kubernetes.io/environment"
# `env = "prod"` in the Alloy configuration (an attribute, a label map entry, or an external label).
_ENV_STAMP = re.compile(r"""(?m)["']?\benv["']?\s*=\s*"(?P<value>[^"]*)\"""")
ALLOY = "alloy"


@rule(
    "KEEL060",
    "Every object and pod template carries app.kubernetes.io/environment for the env",
    remediation="build metadata with common.metadata and pod labels with common.labels.standard "
    "(keelson-common)",
)
def environment_label(ctx: Context) -> Iterator[Hit]:
    wanted = ctx.env_name
    path = f'metadata.labels["{ENV_LABEL}"]'
    for obj in ctx.objects:
        have = labels_of(obj).get(ENV_LABEL)
        if have != wanted:
            yield Hit(
                ctx.ref(obj),
                f'label {ENV_LABEL} is {f"{have!r}" if have else "missing"} (want "{wanted}")',
                path,
            )
    for workload in ctx.workloads:
        have = workload.pod_labels.get(ENV_LABEL)
        if have != wanted:
            template = workload.pod_path.removesuffix(".spec") if workload.kind != "Pod" else ""
            if template:
                yield Hit(
                    workload.ref,
                    f"pod template label {ENV_LABEL} is "
                    f'{f"{have!r}" if have else "missing"} (want "{wanted}")',
                    f'{template}.metadata.labels["{ENV_LABEL}"]',
                )


def _is_alloy(obj: Object) -> bool:
    own = labels_of(obj)
    return chart_of(obj) == ALLOY or own.get("app.kubernetes.io/name") == ALLOY


@rule(
    "KEEL061",
    "The telemetry pipeline stamps every signal with env",
    remediation='render the Alloy config with env = "<global.env>" on every signal (charts/alloy, the '
    "telemetry contract)",
)
def telemetry_env(ctx: Context) -> Iterator[Hit]:
    if not any(_is_alloy(workload.obj) for workload in ctx.workloads):
        return  # no collector in this release: nothing ships telemetry
    configs = [obj for obj in ctx.of_kind("ConfigMap") if _is_alloy(obj)]
    stamped = False
    for config in configs:
        for key, text in (config.get("data") or {}).items():
            for match in _ENV_STAMP.finditer(str(text)):
                value = match.group("value")
                stamped = stamped or value == ctx.env
                if value in ENV_NAMES and value != ctx.env:  # "" copies an extracted field: not a stamp
                    yield Hit(ctx.ref(config), f'stamps env = "{value}", not "{ctx.env}"', f'data["{key}"]')
    if not stamped:
        subject = ctx.ref(configs[0]) if configs else next(w.ref for w in ctx.workloads if _is_alloy(w.obj))
        yield Hit(subject, f'the Alloy configuration never sets env = "{ctx.env}"', "data")
