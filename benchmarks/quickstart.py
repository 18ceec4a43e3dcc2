"""`mmpx quickstart` against its target: PCK@0.05 (bbox) >= 0.9 on the synthetic validation split within
5 minutes wall on a 2-core machine, everything included (synthesis, conversion, checks, training, test, drawing).

Baseline: RTMPose-t from scratch at 256x256 was at PCK@0.05 0.06 after 3 minutes here.

Runs the real command in a subprocess (`--repeat` times), reads WORK/quickstart.json and prints wall time, the
stage times, PCK and AP, and both ratios to the target. Run it on an idle machine: other jobs on the two cores
slow torch a lot.

Usage: python benchmarks/quickstart.py [--repeat 1] [--seeds 0 1 ...] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 300.0
TARGET_PCK = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed after")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (data and training)")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp) / "quickstart"
        runs = [(seed, r) for seed in args.seeds for r in range(1, args.repeat + 1)]
        for seed, run in runs:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "mmpx", "quickstart", "--work-dir", str(work),
                                   "--seed", str(seed)], capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(f"mmpx quickstart failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            report = json.loads((work / "quickstart.json").read_text())
            pck, ap = report["metrics"]["PCK"], report["metrics"]["coco/AP"]
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in report["seconds"].items() if k != "total")
            print(f"seed {seed} run {run}: wall {wall:.1f} s (in-process {report['seconds']['total']:.1f} s: {stages})")
            tr = report.get("training", {})
            if tr.get("seconds_per_iter"):
                print(f"  training: {tr['iterations']} iterations, median {tr['seconds_per_iter']:.3f} s/iter "
                      f"(data loading {tr.get('data_seconds_per_iter', 0):.3f}); the budget needs "
                      f"<= {TARGET_SECONDS * 0.85 / tr['iterations']:.3f} s/iter (training is ~85% of the wall)")
            print(f"  PCK@0.05 (bbox) {pck:.3f}  COCO AP {ap:.3f}  on {report['data']['val']['instances']} "
                  f"validation cars")
            print(f"  time / target {wall / TARGET_SECONDS:.2f} ({wall:.0f} s vs {TARGET_SECONDS:.0f} s), "
                  f"PCK / target {pck / TARGET_PCK:.3f} ({pck:.3f} vs {TARGET_PCK}): "
                  f"{'MET' if wall <= TARGET_SECONDS and pck >= TARGET_PCK else 'NOT MET'}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
