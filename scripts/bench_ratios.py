"""Keelson's cost against its floor or peer, in CPU seconds, as ratios (``invoke bench --ratios``).

    .venv/bin/python scripts/bench_ratios.py [--repeat 5] [--cases check,all,release,diff,scale]
                                             [--root DIR]

Every case is a pair run interleaved (Keelson, then its peer, then Keelson again...), ``--repeat``
times; the median of each side is shown, then their ratio, then each run's own ratio (how far one
reading of a busy machine goes). CPU is user+sys of the child processes
and everything they waited for (``resource.getrusage(RUSAGE_CHILDREN)`` around each command), which
stays stable when a shared machine is busy, unlike wall time.

Cases:
  check    ``invoke check --env prod`` against a bare ``helm template`` of the same values
  all      ``invoke check --all`` against three bare ``helm template`` runs
  release  ``invoke release --env prod --dry-run`` against ``invoke check --env prod`` (needs a clean
           git tree); lint verdicts remembered from the warm-up run (keelson.memo)
  release-cold  the same with ``build/lint/`` removed before each run: every linter runs
  diff     the diff of 1,000 and 10,000 objects read from files (scripts/bench_diff.py --files)
           against ``dyff between`` on the same files
  scale    ``invoke check --env prod`` with 10, 100 and 500 extra app components: the CPU per
           object between 100 and 500 against the CPU per object between 10 and 100

``--root`` measures another checkout (e.g. a clone of main, for before/after numbers) with this
checkout's tools. The measured checkout's ``keelson/`` and ``tasks/`` are byte-compiled first
(``compileall``), so no run spends its CPU compiling Keelson's own source when
PYTHONDONTWRITEBYTECODE is set. Nothing is asserted: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "scripts"))

import bench_diff  # noqa: E402 (a sibling script, not a package)

KUBE_VERSION = "1.30.0"
SCALE = (10, 100, 500)
DIFF_SIZES = (1000, 10000)


@dataclass(frozen=True)
class Run:
    cpu: float
    stdout: str


def cpu_of(command: list[list[str]], cwd: Path, env: dict[str, str]) -> Run:
    """CPU seconds (user+sys, children included) of the commands, run one after the other."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    outputs = []
    for args in command:
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode not in {0, 1} or "Traceback" in done.stderr:
            sys.exit(f"bench: {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        outputs.append(done.stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(cpu, "".join(outputs))


@dataclass
class Pair:
    label: str
    ours: list[list[str]]
    peer: list[list[str]]
    peer_label: str
    ours_cpu: list[float]
    peer_cpu: list[float]
    objects: int = 0

    @property
    def ratio(self) -> float:
        return statistics.median(self.ours_cpu) / max(statistics.median(self.peer_cpu), 1e-9)


def _rendered_objects(stdout: str) -> int:
    match = re.search(r"render\s+\S+\s+ok\s+\S+\s+(\d+) objects", stdout)
    return int(match.group(1)) if match else 0


@functools.cache
def optional_apis(root: Path) -> list[str]:
    """The measured checkout's keelson.project.OPTIONAL_APIS: check renders with them, so the floor
    must too, or it renders fewer objects (the HTTPRoutes, the ServiceMonitors)."""
    code = "from keelson.project import OPTIONAL_APIS; print('\\n'.join(OPTIONAL_APIS))"
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench: cannot read OPTIONAL_APIS of {root}: {done.stderr.strip()[-400:]}")
    return done.stdout.split()


def helm_template(root: Path, values: list[Path]) -> list[str]:
    args = [str(HERE / ".tools/bin/helm"), "template", "keelson", str(root / "charts/keelson")]
    args += ["--namespace", "keelson", "--kube-version", KUBE_VERSION]
    for api in optional_apis(root):
        args += ["--api-versions", api]
    for path in values:
        args += ["--values", str(path)]
    return args


def components_overlay(count: int, folder: Path) -> Path:
    """``count`` more app components, each a copy of the prod frontend's shape under its own name."""
    components = {
        f"extra{index}": {
            "image": {"repository": "keelson/frontend"},
            "containerPort": 8080,
            "replicas": 2,
            "metrics": {"enabled": False},
            "probes": {"readiness": {"httpGet": {"path": "/", "port": "http"}}},
            "config": {"VITE_API_URL": "https://api.example.com"},
        }
        for index in range(count)
    }
    path = folder / f"components-{count}.yaml"
    path.write_text(yaml.safe_dump({"app": {"components": components}}), encoding="utf-8")
    return path


def diff_files(size: int, folder: Path) -> tuple[Path, Path]:
    old, new = bench_diff.renders(size, 0.10)
    paths = folder / f"old-{size}.yaml", folder / f"new-{size}.yaml"
    for path, objects in zip(paths, (old, new), strict=True):
        path.write_text(yaml.dump_all(objects, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")
    return paths


def pairs(cases: list[str], root: Path, tmp: Path) -> list[Pair]:
    invoke = str(HERE / ".venv/bin/invoke")
    prod = root / "values/prod.yaml"
    found: list[Pair] = []

    def add(label: str, ours: list[list[str]], peer: list[list[str]], peer_label: str) -> None:
        found.append(Pair(label, ours, peer, peer_label, [], []))

    if "check" in cases:
        add(
            "check --env prod",
            [[invoke, "check", "--env", "prod"]],
            [helm_template(root, [prod])],
            "helm template prod",
        )
    if "all" in cases:
        renders = [helm_template(root, [root / f"values/{env}.yaml"]) for env in ("dev", "staging", "prod")]
        add("check --all", [[invoke, "check", "--all"]], renders, "3 x helm template")
    if "release" in cases:
        release = [invoke, "release", "--env", "prod", "--dry-run"]
        add(
            "release --env prod --dry-run",
            [release],
            [[invoke, "check", "--env", "prod"]],
            "check --env prod",
        )
    if "release-cold" in cases:
        forget = ["rm", "-rf", str(root / "build" / "lint")]
        add(
            "release --dry-run, lint not remembered",
            [forget, [invoke, "release", "--env", "prod", "--dry-run"]],
            [[invoke, "check", "--env", "prod"]],
            "check --env prod",
        )
    if "diff" in cases:
        dyff = str(HERE / ".tools/bin/dyff")
        for size in DIFF_SIZES:
            old, new = diff_files(size, tmp)
            ours = [sys.executable, str(HERE / "scripts/bench_diff.py"), "--files", str(old), str(new)]
            add(
                f"diff {size} objects from files",
                [ours],
                [[dyff, "between", "--omit-header", str(old), str(new)]],
                "dyff between",
            )
    if "scale" in cases:
        for count in SCALE:
            overlay = components_overlay(count, tmp)
            check = [invoke, "check", "--env", "prod", "--values", str(overlay)]
            add(
                f"check prod +{count} components",
                [check],
                [helm_template(root, [prod, overlay])],
                "helm template",
            )
    return found


def _scale_lines(found: list[Pair]) -> list[str]:
    """CPU per rendered object between the scale points: Keelson's curve bends if the ratio grows."""
    points = [(p.objects, statistics.median(p.ours_cpu)) for p in found if "components" in p.label]
    if len(points) < 3:
        return []
    (n10, c10), (n100, c100), (n500, c500) = points
    low = (c100 - c10) / max(n100 - n10, 1)
    high = (c500 - c100) / max(n500 - n100, 1)
    return [
        f"per object, {n10}->{n100} objects: {low * 1000:.2f} ms; {n100}->{n500}: {high * 1000:.2f} ms; "
        f"ratio {high / max(low, 1e-9):.2f} (target <= 1.2)"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side; the median is shown")
    parser.add_argument(
        "--cases", default="check,all,release,release-cold,diff,scale", help="comma-separated cases"
    )
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs of each side first (default 1)")
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout to measure (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    # PYTHONPATH: the diff script imports the measured checkout's keelson, not this one's.
    env = {
        **os.environ,
        "KEELSON_ROOT": str(root),
        "PYTHONPATH": str(root),
        "PATH": f"{HERE / '.tools/bin'}:{os.environ['PATH']}",
    }
    # Byte-compiled first, as Python itself does on a first run and pip does for installed packages:
    # with PYTHONDONTWRITEBYTECODE set (as on the shared machine) every run would otherwise compile
    # the project's modules from source again (about 0.2 s of CPU per command), which is not
    # Keelson's work. compileall writes nothing but __pycache__/ (git-ignored).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(root / "keelson"), str(root / "tasks")],
        check=True,
        env={key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"},
    )
    with tempfile.TemporaryDirectory(prefix="keelson-bench-") as folder:
        found = pairs([case.strip() for case in args.cases.split(",")], root, Path(folder))
        for _ in range(args.warmup):  # not counted: builds dependencies, warms the file cache
            for pair in found:
                cpu_of(pair.ours, root, env)
                cpu_of(pair.peer, root, env)
        for _ in range(args.repeat):
            for pair in found:
                run = cpu_of(pair.ours, root, env)
                pair.objects = _rendered_objects(run.stdout)
                pair.ours_cpu.append(run.cpu)
                pair.peer_cpu.append(cpu_of(pair.peer, root, env).cpu)
        print(f"median CPU seconds (user+sys, children) of {args.repeat} interleaved runs, root {root}")
        print(f"{'case':<40} {'keelson':>8}  {'peer':<20} {'peer cpu':>8}  {'ratio':>6}  run by run")
        for pair in found:
            ours, peer = statistics.median(pair.ours_cpu), statistics.median(pair.peer_cpu)
            # Each run's own ratio (Keelson, then its peer right after): how far one reading can be trusted.
            spread = " ".join(
                f"{a / max(b, 1e-9):.2f}" for a, b in zip(pair.ours_cpu, pair.peer_cpu, strict=True)
            )
            print(
                f"{pair.label:<40} {ours:>8.2f}  {pair.peer_label:<20} {peer:>8.2f}  "
                f"{pair.ratio:>5.2f}x  {spread}"
            )
        for line in _scale_lines(found):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
