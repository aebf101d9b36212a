"""Keelson's tasks: argument parsing and printing only; the work is in the keelson package.

Invoke collects every task imported here; each module holds one family of them:
``checking`` (annotations, lint, template, schema, values-schemas, check, gates, rules, test,
bench), ``releasing`` (diff, package, publish, release, rollback, preflight), ``authoring`` (docs,
bump) and ``cluster`` (cluster-up, cluster-down).
"""

from tasks.authoring import bump, docs
from tasks.checking import (
    annotations_,
    bench,
    check_,
    gates_,
    lint,
    rules_,
    schema,
    template,
    test,
    values_schemas,
)
from tasks.cluster import cluster_down, cluster_up
from tasks.releasing import diff, package_, preflight, publish_, release, rollback

__all__ = [
    "annotations_",
    "bench",
    "bump",
    "check_",
    "cluster_down",
    "cluster_up",
    "diff",
    "docs",
    "gates_",
    "lint",
    "package_",
    "preflight",
    "publish_",
    "release",
    "rollback",
    "rules_",
    "schema",
    "template",
    "test",
    "values_schemas",
]
