"""A sweep against the same points run one by one, cold (not part of the test suite; ~1 h here).

    nice .venv/bin/python benchmarks/sweep_timing.py config/experiments/pwc_grid.yaml

For every point of the experiment, ``taxonomy run`` in a fresh process with an empty cache
(model load, embedding, numba compilation, UMAP, HDBSCAN, labels, report: what a user pays
for each run without a stage cache). Then ``taxonomy sweep`` once, also from an empty cache.
Every command is timed wall-clock in one session on one machine, so the ratio is side by side.
Results: Markdown on stdout, JSON lines appended to ``benchmarks/results/sweep_timing.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from taxonomy.sweep import load_experiment

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def timed(cmd: list[str]) -> float:
    """Wall seconds of ``cmd``; raises if it fails (a failed run must not count as fast)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="time only the first N cold points")
    args = ap.parse_args()
    exp = load_experiment(args.experiment)
    taxonomy = str(Path(sys.executable).with_name("taxonomy"))
    log = RESULTS / "sweep_timing.jsonl"
    points = exp.points[: args.limit] if args.limit else exp.points
    host = {"machine": platform.machine(), "cpus": os.cpu_count()}

    with tempfile.TemporaryDirectory(prefix="sweep-timing-") as tmp:
        tmp = Path(tmp)
        cold = []
        for i, point in enumerate(points):
            data = point.cfg.model_dump(mode="json")
            data["cache"]["dir"] = str(tmp / f"cache-{i}")  # empty: nothing shared between runs
            cfg_path = tmp / f"{point.name}.yaml"
            cfg_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            s = timed([taxonomy, "run", str(cfg_path), "--out", str(tmp / "cold" / point.name)])
            cold.append(s)
            print(f"cold {i + 1}/{len(points)} {point.name}: {s:.0f} s", flush=True)
            with log.open("a") as f:
                f.write(json.dumps({"kind": "cold", "point": point.name, "s": s, **host}) + "\n")

        exp_path = tmp / "experiment.yaml"
        exp_path.write_text(
            yaml.safe_dump(
                {"base": str(args.experiment.resolve()), "cache": {"dir": str(tmp / "cache-sweep")}}
            ),
            encoding="utf-8",
        )
        sweep_s = timed([taxonomy, "sweep", str(exp_path), "--out", str(tmp / "sweep")])
        with log.open("a") as f:
            f.write(
                json.dumps({"kind": "sweep", "points": len(exp.points), "s": sweep_s, **host})
                + "\n"
            )

    total = sum(cold) * len(exp.points) / len(points)
    print("\n| what | wall time |\n|---|---|")
    print(f"| {len(points)} cold single runs (each from an empty cache) | {sum(cold):.0f} s |")
    if len(points) < len(exp.points):
        print(f"| ... scaled to {len(exp.points)} points | {total:.0f} s |")
    print(f"| `taxonomy sweep` of all {len(exp.points)} points, empty cache | {sweep_s:.0f} s |")
    print(f"| ratio sweep / cold runs | {sweep_s / total:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
