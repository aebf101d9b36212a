"""The rule engine: rules registered by a decorator, run over one environment's render and values.

A rule is a function ``(Context) -> Iterable[Hit]`` with an id (``KEEL001``), a title, a severity,
the environments it applies to and one remediation line. ``run`` calls every rule that applies to
the environment, turns each hit into a :class:`GateFinding`, and moves the findings that a waiver
in ``values["gates"]["waive"]`` covers to ``GateReport.waived``. A waiver names a rule, an object
(``Kind/namespace/name``, a glob) and a reason; a waiver without a reason, naming an unknown rule,
or matching nothing is itself a finding (KEEL000), and so is a glob in a waiver of a security,
secrets or network rule (those name one object each).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from keelson import k8s
from keelson.errors import KeelsonError
from keelson.gates.index import SELECTOR_PAIRS, SelectorIndex, by_kind
from keelson.k8s import ObjectRef, Workload
from keelson.models import Finding, KeyPath, Object
from keelson.secretscan import quiet

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"
ALL_ENVS: tuple[str, ...] = ("dev", "staging", "prod")
# The label value of each environment key (common.environment.name in keelson-common).
ENV_NAMES: Mapping[str, str] = {"dev": "development", "staging": "staging", "prod": "production"}
# cert-manager ClusterIssuer per environment; values `gates.clusterIssuers` overrides these.
DEFAULT_ISSUERS: Mapping[str, str] = {"staging": "letsencrypt-staging", "prod": "letsencrypt-prod"}
CONFIG_RULE = "KEEL000"
# Rule families a waiver may only lift for one named object: a glob there would switch them off.
NARROW_WAIVERS = frozenset({"security", "secrets", "network"})


class GateError(KeelsonError):
    """An error-severity gate finding that no waiver covers."""


@dataclass(frozen=True)
class Hit:
    """What a rule function yields: the object, what is wrong, and where in it."""

    subject: ObjectRef
    message: str
    path: str = ""  # key path inside the object (or the values), e.g. spec.template.spec.containers[0].image
    severity: Severity | None = None  # None: the rule's severity for the environment


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    envs: tuple[str, ...]
    remediation: str
    concern: str  # the module that holds it: images, availability, security, ...
    check: Callable[[Context], Iterable[Hit]]
    severity_in: Mapping[str, Severity] = field(default_factory=dict)  # per-environment exceptions

    def severity_for(self, env: str) -> Severity:
        return self.severity_in.get(env, self.severity)

    def applies_to(self, env: str) -> bool:
        return env in self.envs


@dataclass(frozen=True)
class GateFinding:
    rule: str
    severity: Severity
    subject: ObjectRef
    message: str
    remediation: str
    path: str = ""
    source: str = ""  # the file to point at: a chart template or a values file ("" when unknown)
    waiver: str = ""  # the reason, when a waiver covers it

    @property
    def object(self) -> str:
        """The object as a waiver names it: ``Kind/namespace/name``."""
        return self.subject.key

    def line(self, env: str) -> str:
        """``gates prod: KEEL001 Deployment keelson/x: <message> (remediation: ...)``, one line."""
        return str(self.to_finding(env))

    def to_finding(self, env: str) -> Finding:
        """As the check pipeline's plain finding (``where: subject: message``)."""
        return Finding(
            f"gates {env}",
            f"{self.rule} {self.subject.display}",
            f"{self.message} (remediation: {self.remediation})",
        )


@dataclass
class GateReport:
    env: str
    rules: list[Rule]  # the rules that ran, in id order
    findings: list[GateFinding] = field(default_factory=list)
    waived: list[GateFinding] = field(default_factory=list)

    @property
    def errors(self) -> list[GateFinding]:
        return [finding for finding in self.findings if finding.severity == ERROR]

    @property
    def warnings(self) -> list[GateFinding]:
        return [finding for finding in self.findings if finding.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


_RULES: dict[str, Rule] = {}


def rule(
    id: str,
    title: str,
    *,
    severity: Severity = ERROR,
    envs: Sequence[str] = ALL_ENVS,
    remediation: str,
    severity_in: Mapping[str, Severity] | None = None,
) -> Callable[[Callable[[Context], Iterable[Hit]]], Callable[[Context], Iterable[Hit]]]:
    """Register a rule function under ``id``; ids are unique and KEEL000 is the engine's own."""

    def register(func: Callable[[Context], Iterable[Hit]]) -> Callable[[Context], Iterable[Hit]]:
        if id in _RULES or id == CONFIG_RULE:
            raise ValueError(f"gate rule {id} is registered twice")
        unknown = set(envs) - set(ALL_ENVS)
        if unknown:
            raise ValueError(f"gate rule {id}: unknown environments {sorted(unknown)}")
        concern = func.__module__.rsplit(".", 1)[-1]
        _RULES[id] = Rule(
            id, title, severity, tuple(envs), remediation, concern, func, dict(severity_in or {})
        )
        return func

    return register


CONFIG = Rule(
    CONFIG_RULE,
    "Gate waivers and settings are valid",
    ERROR,
    ALL_ENVS,
    "give every gates.waive entry a known rule id, an object (Kind/namespace/name, globs allowed) "
    "that matches a rendered object, and a reason",
    "engine",
    lambda ctx: (),
)


def rules() -> list[Rule]:
    """Every registered rule (and KEEL000), in id order."""
    return sorted([CONFIG, *_RULES.values()], key=lambda item: item.id)


def get_rule(rule_id: str) -> Rule:
    return CONFIG if rule_id == CONFIG_RULE else _RULES[rule_id]


class Context:
    """What a rule sees: the environment, the rendered objects and the merged values, plus indexes."""

    def __init__(
        self, env: str, objects: Sequence[Object], values: Mapping[str, Any], default_namespace: str
    ) -> None:
        self.env = env
        # A List's items are objects of their own: kubectl applies each, so each is judged.
        self.objects = list(k8s.expand_lists(objects))
        self.values = values
        self.default_namespace = default_namespace
        self._selectors: dict[str, SelectorIndex] = {}

    def ref(self, obj: Object) -> ObjectRef:
        return k8s.ref(obj, self.default_namespace)

    @cached_property
    def workloads(self) -> list[Workload]:
        return k8s.workloads(self.objects, self.default_namespace)

    @cached_property
    def _by_kind(self) -> dict[str, list[Object]]:
        return by_kind(self.objects)

    def of_kind(self, *kinds: str) -> list[Object]:
        """The objects of these kinds, in render order."""
        if len(kinds) == 1:
            return list(self._by_kind.get(kinds[0], ()))
        wanted = {id(obj) for kind in kinds for obj in self._by_kind.get(kind, ())}
        return [obj for obj in self.objects if id(obj) in wanted]

    def selecting(self, kind: str, workload: Workload) -> list[Object]:
        """The objects of ``kind`` in the workload's namespace whose selector may select its pods
        (Service, PodDisruptionBudget, NetworkPolicy); rules still check the selector itself."""
        if kind not in self._selectors:
            pairs_of = SELECTOR_PAIRS[kind]
            self._selectors[kind] = SelectorIndex(self.of_kind(kind), pairs_of, self.namespace_of)
        return self._selectors[kind].candidates(workload.ref.namespace, workload.pod_labels)

    def namespace_of(self, obj: Object) -> str:
        return self.ref(obj).namespace

    @property
    def env_name(self) -> str:
        return ENV_NAMES[self.env]

    @cached_property
    def settings(self) -> Mapping[str, Any]:
        gates = self.values.get("gates")
        return gates if isinstance(gates, Mapping) else {}

    def issuer(self) -> str:
        configured = self.settings.get("clusterIssuers")
        if isinstance(configured, Mapping) and isinstance(configured.get(self.env), str):
            return str(configured[self.env])
        return DEFAULT_ISSUERS.get(self.env, "")


@dataclass(frozen=True)
class Waiver:
    index: int
    rule: str
    pattern: str
    reason: str

    def covers(self, finding: GateFinding) -> bool:
        return finding.rule == self.rule and fnmatch.fnmatchcase(finding.object, self.pattern)


def _waivers(values: Mapping[str, Any]) -> tuple[list[Waiver], list[Hit]]:
    """The valid waivers of ``gates.waive`` and a KEEL000 hit for each invalid one."""
    gates = values.get("gates")
    raw = gates.get("waive") if isinstance(gates, Mapping) else None
    if raw is None:
        return [], []
    here = ObjectRef("Values", "", "")
    if not isinstance(raw, list):
        return [], [Hit(here, "gates.waive must be a list of {rule, object, reason}", "gates.waive")]
    waivers: list[Waiver] = []
    problems: list[Hit] = []
    for index, entry in enumerate(raw):
        path = f"gates.waive[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(Hit(here, "a waiver must be a mapping with rule, object and reason", path))
            continue
        rule_id, pattern, reason = entry.get("rule"), entry.get("object"), entry.get("reason")
        unknown = sorted(set(entry) - {"rule", "object", "reason"})
        if unknown:
            problems.append(
                Hit(here, f"unknown key(s) {', '.join(unknown)} (allowed: rule, object, reason)", path)
            )
        if not isinstance(rule_id, str) or rule_id not in _RULES:
            problems.append(
                Hit(here, f"rule {rule_id!r} is not a gate rule (see invoke gates --list)", f"{path}.rule")
            )
        elif not isinstance(pattern, str) or not pattern.strip():
            problems.append(
                Hit(here, "object is missing (Kind/namespace/name, globs allowed)", f"{path}.object")
            )
        elif not isinstance(reason, str) or not reason.strip():
            problems.append(
                Hit(here, f"the waiver of {rule_id} for {pattern} has no reason", f"{path}.reason")
            )
        elif _RULES[rule_id].concern in NARROW_WAIVERS and any(char in pattern for char in "*?["):
            problems.append(
                Hit(
                    here,
                    f"a waiver of {rule_id} ({_RULES[rule_id].concern}) must name one object "
                    f"(Kind/namespace/name), not a glob",
                    f"{path}.object",
                )
            )
        elif not unknown:
            waivers.append(Waiver(index, rule_id, pattern, " ".join(reason.split())))
    return waivers, problems


def run(
    env: str,
    objects: Sequence[Object],
    values: Mapping[str, Any],
    *,
    sources: Mapping[str, str] | None = None,
    values_source: Callable[[KeyPath], str] | None = None,
    default_namespace: str = "keelson",
) -> GateReport:
    """Every rule that applies to ``env`` over the rendered ``objects`` and the merged ``values``.

    ``sources`` maps ``Kind/namespace/name`` to the chart template that rendered it, from helm's
    ``# Source:`` comments (``render.render(...).sources``, :func:`keelson.k8s.parse_manifest`); an
    object it does not name has no source. ``values_source`` names the values file that set a key
    path (``MergedValues.source_of``).
    """
    if env not in ALL_ENVS:
        raise GateError(f"gates: not an environment (allowed: {', '.join(ALL_ENVS)})")
    ctx = Context(env, objects, values, default_namespace)
    applied = [item for item in rules() if item.applies_to(env)]
    waivers, problems = _waivers(values)

    def finding(item: Rule, hit: Hit) -> GateFinding:
        if hit.subject.kind == "Values":
            source = values_source(k8s.split_path(hit.path)) if values_source else f"values/{env}.yaml"
        else:
            source = (sources or {}).get(hit.subject.key, "")
        return GateFinding(
            item.id,
            hit.severity or item.severity_for(env),
            hit.subject,
            quiet(hit.message),  # the table, JSON and SARIF show it: nothing secret-shaped
            item.remediation,
            hit.path,
            source,
        )

    report = GateReport(env, applied)
    raw = [finding(CONFIG, hit) for hit in problems]
    for item in applied:
        raw.extend(finding(item, hit) for hit in item.check(ctx))
    used: set[int] = set()
    for found in raw:
        waiver = next((w for w in waivers if found.rule != CONFIG_RULE and w.covers(found)), None)
        if waiver is None:
            report.findings.append(found)
        else:
            used.add(waiver.index)
            report.waived.append(_with_reason(found, waiver.reason))
    keys = [*(ctx.ref(obj).key for obj in ctx.objects), "Values"]  # what a waiver may name
    for waiver in waivers:
        if waiver.index in used:
            continue
        if not get_rule(waiver.rule).applies_to(env):
            continue
        matches = any(fnmatch.fnmatchcase(key, waiver.pattern) for key in keys)
        why = "covers no finding (remove it)" if matches else "matches no rendered object"
        report.findings.append(
            finding(
                CONFIG,
                Hit(
                    ObjectRef("Values", "", ""),
                    f"the waiver of {waiver.rule} for {waiver.pattern} {why}",
                    f"gates.waive[{waiver.index}]",
                    WARNING,
                ),
            )
        )
    report.findings.sort(key=_order)
    report.waived.sort(key=_order)
    return report


def _with_reason(found: GateFinding, reason: str) -> GateFinding:
    return GateFinding(
        found.rule,
        found.severity,
        found.subject,
        found.message,
        found.remediation,
        found.path,
        found.source,
        reason,
    )


def _order(found: GateFinding) -> tuple[int, str, str, str]:
    return (0 if found.severity == ERROR else 1, found.rule, found.subject.key, found.path)


def enforce(
    env: str,
    objects: Sequence[Object],
    values: Mapping[str, Any],
    **kwargs: Any,
) -> GateReport:
    """:func:`run`, raising :class:`GateError` on the first error finding (plus a count of the others).

    The message is one line: ``gates prod: KEEL001 Deployment keelson/x: <what> (remediation: ...)
    (and 2 more; invoke gates --env prod lists them all)``. Warnings never fail.
    """
    report = run(env, objects, values, **kwargs)
    errors = report.errors
    if errors:
        raise GateError.from_findings(
            [found.to_finding(env) for found in errors], f"invoke gates --env {env} lists them all"
        )
    return report
