"""APIs: nothing the supported Kubernetes versions (1.30 to 1.35) have deprecated or removed.

The table lists the built-in API versions deprecated or removed up to the newest supported
release, from the Kubernetes deprecation guide and release notes; alpha versions of built-in
groups are refused in general (no cluster serves them by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keelson.gates.engine import Context, Hit, rule
from keelson.project import KUBE_VERSIONS

if TYPE_CHECKING:
    from collections.abc import Iterator

NEWEST = tuple(int(part) for part in KUBE_VERSIONS[-1].split(".")[:2])


@dataclass(frozen=True)
class Gone:
    api_version: str
    kinds: tuple[str, ...]  # () = every kind of that version
    deprecated: str  # minor release, "1.29"
    removed: str  # "" = still served
    use: str


GONE: tuple[Gone, ...] = (
    Gone("extensions/v1beta1", (), "1.8", "1.22", "apps/v1, networking.k8s.io/v1"),
    Gone("apps/v1beta1", (), "1.9", "1.16", "apps/v1"),
    Gone("apps/v1beta2", (), "1.9", "1.16", "apps/v1"),
    Gone("networking.k8s.io/v1beta1", ("Ingress", "IngressClass"), "1.19", "1.22", "networking.k8s.io/v1"),
    Gone("networking.k8s.io/v1beta1", ("IPAddress", "ServiceCIDR"), "1.33", "", "networking.k8s.io/v1"),
    Gone("rbac.authorization.k8s.io/v1beta1", (), "1.17", "1.22", "rbac.authorization.k8s.io/v1"),
    Gone(
        "admissionregistration.k8s.io/v1beta1",
        ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
        "1.16",
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    Gone(
        "admissionregistration.k8s.io/v1beta1",
        ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"),
        "1.30",
        "",
        "admissionregistration.k8s.io/v1",
    ),
    Gone("apiextensions.k8s.io/v1beta1", (), "1.16", "1.22", "apiextensions.k8s.io/v1"),
    Gone("apiregistration.k8s.io/v1beta1", (), "1.19", "1.22", "apiregistration.k8s.io/v1"),
    Gone("certificates.k8s.io/v1beta1", (), "1.19", "1.22", "certificates.k8s.io/v1"),
    Gone("coordination.k8s.io/v1beta1", ("Lease",), "1.19", "1.22", "coordination.k8s.io/v1"),
    Gone("scheduling.k8s.io/v1beta1", (), "1.14", "1.22", "scheduling.k8s.io/v1"),
    Gone("batch/v1beta1", ("CronJob",), "1.21", "1.25", "batch/v1"),
    Gone("discovery.k8s.io/v1beta1", (), "1.21", "1.25", "discovery.k8s.io/v1"),
    Gone("events.k8s.io/v1beta1", (), "1.19", "1.25", "events.k8s.io/v1"),
    Gone("autoscaling/v2beta1", (), "1.22", "1.25", "autoscaling/v2"),
    Gone("autoscaling/v2beta2", (), "1.23", "1.26", "autoscaling/v2"),
    Gone("policy/v1beta1", ("PodDisruptionBudget",), "1.21", "1.25", "policy/v1"),
    Gone(
        "policy/v1beta1", ("PodSecurityPolicy",), "1.21", "1.25", "Pod Security Admission (namespace labels)"
    ),
    Gone("node.k8s.io/v1beta1", (), "1.20", "1.25", "node.k8s.io/v1"),
    Gone("storage.k8s.io/v1beta1", ("CSIStorageCapacity",), "1.24", "1.27", "storage.k8s.io/v1"),
    Gone(
        "storage.k8s.io/v1beta1",
        ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"),
        "1.19",
        "1.22",
        "storage.k8s.io/v1",
    ),
    Gone("storage.k8s.io/v1beta1", ("VolumeAttributesClass",), "1.34", "", "storage.k8s.io/v1"),
    Gone("flowcontrol.apiserver.k8s.io/v1beta1", (), "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1"),
    Gone("flowcontrol.apiserver.k8s.io/v1beta2", (), "1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
    Gone("flowcontrol.apiserver.k8s.io/v1beta3", (), "1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
    Gone("resource.k8s.io/v1beta1", (), "1.34", "", "resource.k8s.io/v1"),
    Gone("resource.k8s.io/v1beta2", (), "1.34", "", "resource.k8s.io/v1"),
    Gone("v1", ("Endpoints",), "1.33", "", "discovery.k8s.io/v1 EndpointSlice"),
)
# Groups that Kubernetes itself serves (no dot, or ending in .k8s.io); CRD groups are not judged here.
_BUILT_IN = re.compile(r"^(([a-z0-9]+|[a-z0-9.-]+\.k8s\.io)/)?v\d+alpha\d+$")


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def lookup(api_version: str, kind: str) -> Gone | None:
    """The table entry for ``api_version``/``kind`` that is deprecated by the newest supported release."""
    for entry in GONE:
        if (
            entry.api_version == api_version
            and (not entry.kinds or kind in entry.kinds)
            and _minor(entry.deprecated) <= NEWEST
        ):
            return entry
    return None


@rule(
    "KEEL070",
    "No API version deprecated or removed in the supported Kubernetes versions",
    remediation=f"render the object with the stable API version that Kubernetes {KUBE_VERSIONS[0]} to "
    f"{KUBE_VERSIONS[-1]} serve",
)
def supported_apis(ctx: Context) -> Iterator[Hit]:
    for obj in ctx.objects:
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        entry = lookup(api_version, kind)
        if entry is not None:
            if entry.removed and _minor(entry.removed) <= NEWEST:
                status = f"removed in Kubernetes {entry.removed}"
            else:
                status = f"deprecated since Kubernetes {entry.deprecated}"
            yield Hit(ctx.ref(obj), f"{api_version} {kind} is {status}; use {entry.use}", "apiVersion")
        elif _BUILT_IN.match(api_version):
            yield Hit(
                ctx.ref(obj),
                f"{api_version} is an alpha API that clusters do not serve by default",
                "apiVersion",
            )
