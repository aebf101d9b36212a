"""Production gates: rules over one environment's rendered objects and merged values.

    report = gates.run("prod", objects, merged_values)        # findings, waived findings
    gates.enforce("prod", objects, merged_values)             # raises GateError on any error finding

Rules live in one module per concern and register themselves with ``@rule``; importing this
package registers them all. docs/gates.md lists them.
"""

from keelson.gates import apis, availability, images, ingress, labels, network, secrets, security
from keelson.gates.engine import (
    ERROR,
    WARNING,
    GateError,
    GateFinding,
    GateReport,
    Hit,
    Rule,
    enforce,
    get_rule,
    rules,
    run,
)
from keelson.gates.output import summary, table, to_json, to_sarif, write_json
from keelson.k8s import ObjectRef, parse_manifest

CONCERNS = (images, availability, security, network, secrets, ingress, labels, apis)

__all__ = [
    "CONCERNS",
    "ERROR",
    "WARNING",
    "GateError",
    "GateFinding",
    "GateReport",
    "Hit",
    "ObjectRef",
    "Rule",
    "enforce",
    "get_rule",
    "parse_manifest",
    "rules",
    "run",
    "summary",
    "table",
    "to_json",
    "to_sarif",
    "write_json",
]
