"""Benchmark of the semantic diff (keelson.diff.compare) on synthetic renders; prints timings.

    .venv/bin/python scripts/bench_diff.py --sizes 1000,10000      (or: invoke bench)
    .venv/bin/python scripts/bench_diff.py --files OLD.yaml NEW.yaml  (what bench_ratios.py times)

For each size N it builds a render of N objects (Deployments with containers, env, ports and
volumes; Services; ConfigMaps holding a config file; Secrets) and a second render of it in which
every object carries the noise a diff must ignore (a new ``helm.sh/chart`` and
``app.kubernetes.io/version`` label, env and ports in another order) and where 10 % of the objects
really changed, 1 % were removed and 1 % added. It times compare() on that pair, and on the worst
case where every object changed. Nothing is asserted: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path
from typing import Any

from keelson import diff, yamlio

Object = dict[str, Any]


def _labels(index: int, chart: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"svc{index}",
        "app.kubernetes.io/instance": "keelson",
        "app.kubernetes.io/environment": "production",
        "helm.sh/chart": chart,
        "app.kubernetes.io/version": "1.0.0",
    }


def _deployment(index: int, chart: str) -> Object:
    env = [{"name": f"VAR_{n}", "value": f"value-{index}-{n}"} for n in range(12)]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"svc{index}", "namespace": "keelson", "labels": _labels(index, chart)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": f"svc{index}"}},
            "template": {
                "metadata": {
                    "labels": _labels(index, chart),
                    "annotations": {"checksum/config": f"{index:064x}", "prometheus.io/scrape": "true"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": f"docker.io/keelson/{name}:v1.0.{index % 7}",
                            "env": copy.deepcopy(env),
                            "ports": [
                                {"name": "http", "containerPort": 8080},
                                {"name": "metrics", "containerPort": 9090},
                            ],
                            "resources": {
                                "requests": {"cpu": "200m", "memory": "512Mi"},
                                "limits": {"cpu": "1000m", "memory": "1Gi"},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                        for name in ("app", "sidecar")
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _object(index: int, chart: str) -> Object:
    kind = index % 4
    meta = {"name": f"obj{index}", "namespace": "keelson", "labels": _labels(index, chart)}
    if kind == 0:
        return _deployment(index, chart)
    if kind == 1:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": "x"}},
        }
    if kind == 2:
        config = "\n".join(f"key_{n}: value_{index}_{n}" for n in range(40))
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"config.yaml": config}}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"password": "aHVudGVyMg=="}}


def _change(obj: Object) -> None:
    if obj["kind"] == "Deployment":
        obj["spec"]["replicas"] = 5
        obj["spec"]["template"]["spec"]["containers"][0]["env"][3]["value"] = "changed"
    elif obj["kind"] == "ConfigMap":
        obj["data"]["config.yaml"] = obj["data"]["config.yaml"].replace("key_7:", "key_7_renamed:")
    elif obj["kind"] == "Service":
        obj["spec"]["ports"][0]["port"] = 8081
    else:
        obj["data"]["password"] = "c2VjcmV0"


def _noise(obj: Object) -> None:
    """What a diff must not report: chart/version labels and the order of set-like lists."""
    for holder in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
        if "labels" in holder:
            holder["labels"]["helm.sh/chart"] = "keelson-0.2.0"
            holder["labels"]["app.kubernetes.io/version"] = "1.1.0"
    for container in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        container["env"].reverse()
        container["ports"].reverse()


def renders(size: int, changed: float, seed: int = 7) -> tuple[list[Object], list[Object]]:
    rng = random.Random(seed)
    old = [_object(index, "keelson-0.1.0") for index in range(size)]
    new = copy.deepcopy(old)
    for obj in new:
        _noise(obj)
    for obj in rng.sample(new, int(size * changed)):
        _change(obj)
    if changed < 1:
        removed = set(rng.sample(range(size), size // 100))
        new = [obj for index, obj in enumerate(new) if index not in removed]
        new += [_object(size + index, "keelson-0.2.0") for index in range(size // 100)]
    return old, new


def measure(size: int, changed: float, repeat: int) -> tuple[float, diff.DiffReport]:
    old, new = renders(size, changed)
    best = float("inf")
    report = diff.compare(old, new)
    for _ in range(repeat):
        start = time.perf_counter()
        report = diff.compare(old, new)
        best = min(best, time.perf_counter() - start)
    return best, report


def diff_files(old: Path, new: Path) -> int:
    """What a user pays to diff two renders on disk: parse both, compare, print the text."""
    sides = [yamlio.parse_all(path.read_text(encoding="utf-8"), str(path)) for path in (old, new)]
    print(diff.text(diff.compare(sides[0], sides[1]), max_lines=40))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated object counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is shown")
    parser.add_argument("--files", nargs=2, metavar=("OLD", "NEW"), help="diff two YAML streams and print it")
    args = parser.parse_args(argv)
    if args.files:
        return diff_files(Path(args.files[0]), Path(args.files[1]))
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    print(f"{'objects':>8}  {'case':<28} {'seconds':>8}  {'per object':>10}  result")
    for size in sizes:
        for label, changed in (("10% changed, 1% +/-, noise", 0.10), ("every object changed", 1.0)):
            seconds, report = measure(size, changed, args.repeat)
            per = seconds / max(size, 1) * 1e6
            print(f"{size:>8}  {label:<28} {seconds:>8.3f}  {per:>8.1f}µs  {report.summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
