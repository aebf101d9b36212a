"""Ingress and HTTPRoute: TLS on every Ingress host, certificates from the environment's
cert-manager issuer, hosts that are DNS names claimed once, and no raw configuration snippets.

An HTTPRoute carries no TLS (its Gateway's listener does), so only the host rules (KEEL053, KEEL054)
read HTTPRoutes."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from keelson.gates.engine import Context, Hit, rule
from keelson.k8s import annotations_of, gateway_parents

if TYPE_CHECKING:
    from keelson.models import Object

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


def _ingress_rules(ctx: Context) -> Iterator[tuple[Object, int, str, Mapping[str, Any]]]:
    for ingress in ctx.of_kind("Ingress"):
        for index, entry in enumerate((ingress.get("spec") or {}).get("rules") or []):
            if isinstance(entry, Mapping):
                yield ingress, index, str(entry.get("host") or ""), entry


def _hosts(ctx: Context) -> Iterator[tuple[Object, str, str]]:
    """``(object, host, path of the host)``: every Ingress rule's host and HTTPRoute hostname."""
    for ingress, index, host, _ in _ingress_rules(ctx):
        yield ingress, host, f"spec.rules[{index}].host"
    for route in ctx.of_kind("HTTPRoute"):
        for index, host in enumerate((route.get("spec") or {}).get("hostnames") or []):
            yield route, str(host or ""), f"spec.hostnames[{index}]"


@rule(
    "KEEL052",
    "Ingresses carry no configuration snippets",
    envs=("staging", "prod"),
    remediation="remove the *-snippet annotation: a snippet injects raw controller configuration "
    "(server-snippet, configuration-snippet); use the controller's typed annotations instead",
)
def no_snippets(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.of_kind("Ingress"):
        for key in sorted(annotations_of(ingress)):
            if "snippet" in key.rpartition("/")[2].lower():
                yield Hit(
                    ctx.ref(ingress),
                    f"annotation {key} injects raw controller configuration",
                    f'metadata.annotations["{key}"]',
                )


@rule(
    "KEEL053",
    "Ingress and HTTPRoute hosts are DNS names: labels of at most 63 characters, no IP, no wildcard in prod",
    envs=("staging", "prod"),
    remediation="use a DNS name such as app.example.com (each label 1-63 of a-z, 0-9, -); a wildcard "
    "host in prod needs gates.allowWildcardHosts: true",
)
def hosts_are_names(ctx: Context) -> Iterator[Hit]:
    wildcards = ctx.env != "prod" or ctx.settings.get("allowWildcardHosts") is True
    for obj, host, path in _hosts(ctx):
        if not host:
            continue  # an Ingress rule without a host is KEEL050's finding
        if _is_ip(host):
            yield Hit(ctx.ref(obj), f'host "{host}" is an IP address, not a DNS name', path)
            continue
        name = host.removeprefix("*.")
        if host.startswith("*.") and not wildcards:
            yield Hit(ctx.ref(obj), f'host "{host}" is a wildcard', path)
        bad = [label for label in name.split(".") if not DNS_LABEL.match(label)]
        if bad or len(host) > 253:
            what = f"label of {len(bad[0])} characters" if bad and len(bad[0]) > 63 else "not a DNS-1123 name"
            yield Hit(ctx.ref(obj), f'host "{host[:80]}" is {what}', path)


@rule(
    "KEEL054",
    "No host and path is claimed twice",
    envs=("staging", "prod"),
    remediation="give each component its own host or path; two routes for one host and path leave the "
    "controller (or the Gateway) to pick one",
)
def routes_unique(ctx: Context) -> Iterator[Hit]:
    # Ingresses share one space of hosts; HTTPRoutes compete only on the same Gateway listener, so an
    # HTTPRoute beside the Ingress for the same host and path is no conflict.
    claimed: dict[tuple[str, str, str, str], str] = {}
    for obj, scope, host, (match_type, path), location in _claims(ctx):
        here = f"{ctx.ref(obj).display} {location}"
        key = (scope, host, match_type, path)
        if key in claimed:
            where = f" on {scope}" if scope else ""
            yield Hit(
                ctx.ref(obj),
                f'host "{host}" path "{path}"{where} is also claimed at {claimed[key]}',
                location,
            )
        else:
            claimed[key] = here


def _claims(ctx: Context) -> Iterator[tuple[Object, str, str, tuple[str, str], str]]:
    """``(object, scope, host, (match type, path), location)`` for each host and path an Ingress or
    HTTPRoute claims (an Ingress path's type is left out, as before: any two of them collide).

    An Ingress claims in the one scope ``""``; an HTTPRoute on each of its parents (Gateway and
    listener), for each hostname and each path-only match. A match that also asks for headers, query
    parameters or a method narrows the claim, and is left out.
    """
    for ingress, index, host, entry in _ingress_rules(ctx):
        for number, item in enumerate(((entry.get("http") or {}).get("paths")) or []):
            path = str((item or {}).get("path") or "/")
            yield ingress, "", host, ("", path), f"spec.rules[{index}].http.paths[{number}]"
    for route in ctx.of_kind("HTTPRoute"):
        spec = route.get("spec") or {}
        hosts = [str(host) for host in spec.get("hostnames") or []] or ["*"]
        for namespace, name, listener in gateway_parents(route, ctx.namespace_of(route)):
            scope = f"Gateway {namespace}/{name}{f' listener {listener}' if listener else ''}"
            for index, route_rule in enumerate(spec.get("rules") or []):
                matches = (route_rule or {}).get("matches") or [{}]
                for number, match in enumerate(matches):
                    # An empty `headers: []` narrows nothing: only the keys that ask for something count.
                    if not isinstance(match, Mapping) or {key for key, value in match.items() if value} - {
                        "path"
                    }:
                        continue
                    path_match = match.get("path") or {}
                    claim = (str(path_match.get("type") or "PathPrefix"), str(path_match.get("value") or "/"))
                    for host in hosts:
                        yield route, scope, host, claim, f"spec.rules[{index}].matches[{number}]"


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
