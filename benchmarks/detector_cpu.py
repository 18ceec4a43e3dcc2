"""The car detector on a CPU: seconds per iteration of ``rtmdet-tiny_carpose-cpu`` (320x320, no
mosaic or MixUp, batch 8) against ``rtmdet-tiny_carpose`` (RTMDet's COCO recipe: 640x640, cached mosaic and MixUp,
batch 32), both as shipped, on the same synthetic cars; then, with ``--accuracy``, a whole run of the CPU config
and its validation box mAP.

Baseline: the 640 config at 80 s per iteration on 2 cores (an ETA of 3 hours).

Runs the real ``mmpx train NAME`` in a subprocess from a folder outside the checkout, as a user would, twice per
config (N and 2N iterations). Wall seconds per iteration come from the longer run's ``vis_data/scalars.json``
(mmengine's ``time``, data loading included) without its first iteration (workers starting, caches filling); CPU
seconds per iteration from the two runs' difference in CPU time (loader workers included), which other jobs on
the machine hardly change, unlike the wall time. Per image too, since the batch sizes differ.

    python benchmarks/detector_cpu.py [--images 400] [--iters-cpu 8] [--iters-640 2] [--accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {"rtmdet-tiny_carpose": 32, "rtmdet-tiny_carpose-cpu": 8}  # name: its batch size as shipped


def mmpx(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mmpx", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mmpx {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def make_data(cwd: Path, images: int) -> None:
    """data/carpose/ in ``cwd``: ``mmpx data synth carpose`` (256x256, several cars per image), converted."""
    mmpx("data", "synth", "carpose", "labelme", "--n", str(images), "--seed", "0", cwd=cwd)
    mmpx("convert", "labelme", "labelme", "data/carpose", "--metainfo", "mmpose_ext::datasets/metainfo/carpose.py",
         "--category", "car", cwd=cwd)


def train(cwd: Path, name: str, iters: int) -> tuple[list[float], float]:
    """Train ``name`` for ``iters`` iterations (one epoch over that many batches) without validation: the times of
    its iterations, and the CPU seconds the run took (its loader workers included)."""
    batch = CONFIGS[name]
    work = f"speed_{name}_{iters}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    mmpx("train", name, "--work-dir", work, "--no-validate", "--no-progress", "--cfg-options",
         f"train_dataloader.dataset.indices={iters * batch}", "train_cfg.max_epochs=1",
         "default_hooks.logger.interval=1", "default_hooks.checkpoint.interval=100", cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    scalars = sorted((cwd / work).glob("2*/vis_data/scalars.json"))[-1]
    rows = [json.loads(line) for line in scalars.read_text().splitlines() if line.strip()]
    return [r["time"] for r in rows if "time" in r], cpu


def speed(cwd: Path, name: str, iters: int) -> dict:
    """Runs of ``iters`` and ``2 * iters`` iterations: wall seconds per iteration (median of the longer run
    without its first iteration) and CPU seconds per iteration (the runs' difference: start-up, worker start and
    the first iteration's caches cancel). CPU seconds hardly change with other jobs on the machine; wall does."""
    _, cpu_short = train(cwd, name, iters)
    times, cpu_long = train(cwd, name, 2 * iters)
    return dict(wall=statistics.median(times[1:]), cpu=(cpu_long - cpu_short) / iters, n=len(times) - 1)


def accuracy(cwd: Path) -> tuple[list[dict], float]:
    """A whole run of the CPU config as shipped: (its validation rows, wall seconds)."""
    start = time.perf_counter()
    mmpx("train", "rtmdet-tiny_carpose-cpu", "--work-dir", "full", "--no-progress", cwd=cwd)
    wall = time.perf_counter() - start
    scalars = sorted((cwd / "full").glob("2*/vis_data/scalars.json"))[-1]
    return [json.loads(line) for line in scalars.read_text().splitlines() if "coco/bbox_mAP" in line], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400, help="synthetic images (4 in 5 train)")
    parser.add_argument("--iters-640", type=int, default=2, help="the 640 config's runs: N and 2N iterations "
                        "(over a minute each on 2 cores)")
    parser.add_argument("--iters-cpu", type=int, default=8, help="the CPU config's runs: N and 2N iterations")
    parser.add_argument("--accuracy", action="store_true", help="then train the CPU config as shipped, validated "
                        "every 4 epochs (hours on 2 cores; fewer --images make it shorter)")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed after")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = args.work_dir or Path(tmp)
        cwd.mkdir(parents=True, exist_ok=True)
        make_data(cwd, args.images)
        results = {}
        for name, iters in (("rtmdet-tiny_carpose-cpu", args.iters_cpu), ("rtmdet-tiny_carpose", args.iters_640)):
            if not iters:
                continue
            got = results[name] = speed(cwd, name, iters)
            batch = CONFIGS[name]
            print(f"{name} (batch {batch}): {got['wall']:.2f} s/iter wall (median of {got['n']}), "
                  f"{got['cpu']:.1f} CPU s/iter; per image {got['wall'] / batch:.3f} s wall, "
                  f"{got['cpu'] / batch:.2f} CPU s; load average now {os.getloadavg()[0]:.2f}", flush=True)
        if len(results) == 2:
            cpu, full = results["rtmdet-tiny_carpose-cpu"], results["rtmdet-tiny_carpose"]
            images = CONFIGS["rtmdet-tiny_carpose"] / CONFIGS["rtmdet-tiny_carpose-cpu"]
            for what in ("wall", "cpu"):
                print(f"the CPU config, {what}: {full[what] / cpu[what]:.1f}x less per iteration, "
                      f"{full[what] / cpu[what] / images:.1f}x less per image")
        if args.accuracy:
            rows, wall = accuracy(cwd)
            for row in rows:
                print(f"rtmdet-tiny_carpose-cpu on {args.images * 4 // 5} training images, epoch {row['step']}: "
                      f"bbox mAP {row['coco/bbox_mAP']:.3f}, mAP@0.5 {row['coco/bbox_mAP_50']:.3f}")
            print(f"whole run: {wall / 60:.1f} min wall; load average now {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
