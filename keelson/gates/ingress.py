"""Ingress: TLS on every host, certificates from the environment's cert-manager issuer."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping

from keelson.gates.engine import Context, Hit, rule
from keelson.gates.k8s import annotations_of

ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"


def _covered(host: str, tls: list[Mapping[str, object]]) -> bool:
    for entry in tls:
        hosts = entry.get("hosts")
        if (
            entry.get("secretName")
            and isinstance(hosts, list)
            and any(
                host == str(pattern)
                or (
                    str(pattern).startswith("*.")
                    and fnmatch.fnmatchcase(host, str(pattern))
                    and host.count(".") == str(pattern).count(".")
                )
                for pattern in hosts
            )
        ):
            return True
    return False


@rule(
    "KEEL050",
    "Every Ingress host is served over TLS",
    envs=("staging", "prod"),
    remediation="set ingress.tls.enabled: true (one Secret for every host) in values/<env>.yaml",
)
def tls_everywhere(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.of_kind("Ingress"):
        spec = ingress.get("spec") or {}
        tls = [entry for entry in spec.get("tls") or [] if isinstance(entry, Mapping)]
        for index, entry in enumerate(spec.get("rules") or []):
            host = str((entry or {}).get("host") or "")
            if not host:
                yield Hit(
                    ctx.ref(ingress),
                    "a rule without a host answers every name over plain HTTP",
                    f"spec.rules[{index}]",
                )
            elif not _covered(host, tls):
                yield Hit(
                    ctx.ref(ingress),
                    f'host "{host}" has no TLS entry with a secretName',
                    f"spec.rules[{index}].host",
                )


@rule(
    "KEEL051",
    "Ingress certificates come from the environment's cert-manager ClusterIssuer",
    envs=("staging", "prod"),
    remediation="set ingress.clusterIssuer to the env's issuer (letsencrypt-staging / letsencrypt-prod, "
    "or gates.clusterIssuers.<env>)",
)
def issuer_matches_env(ctx: Context) -> Iterator[Hit]:
    wanted = ctx.issuer()
    path = f'metadata.annotations["{ISSUER_ANNOTATION}"]'
    for ingress in ctx.of_kind("Ingress"):
        issuer = annotations_of(ingress).get(ISSUER_ANNOTATION)
        if not issuer:
            yield Hit(ctx.ref(ingress), f"no {ISSUER_ANNOTATION} annotation (want {wanted})", path)
        elif str(issuer) != wanted:
            yield Hit(
                ctx.ref(ingress),
                f'{ISSUER_ANNOTATION} is "{issuer}", not the {ctx.env} issuer "{wanted}"',
                path,
            )
