"""Speed and memory of `convert_labelme(..., images='none')` against merely `json.load`ing the same files.

Generates N labelme files (1-3 instances of 8 keypoints each, a rectangle per instance, no imageData) in a
temporary folder, then in one run: the json.load baseline, the conversion with inferred keypoint names, and
the conversion with --keypoints given. Targets on a 2-core machine: at least 3,000 files/s and at least half
the json.load rate. Memory: tracemalloc peak of an in-process conversion of 1k and 10k files (it must not grow
with N), and the largest worker process's peak RSS.

Usage: python benchmarks/convert_labelme.py [--files 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from mmpx.convert.labelme import convert_labelme
from mmpx.convert.labelme_images import find_json_files

PARTS = ("front-tire", "rear-tire", "mirror", "light")
KEYPOINTS = [f"{side}-{part}" for part in PARTS for side in ("left", "right")]


def make_files(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` labelme 5.x files in 10 subfolders, 1-3 cars of 8 keypoints each, 640x480 images."""
    rng = random.Random(seed)
    for i in range(count):
        shapes = []
        for group in range(rng.randint(1, 3)):
            x0, y0 = rng.uniform(0, 400), rng.uniform(0, 300)
            w, h = rng.uniform(60, 230), rng.uniform(60, 170)
            shapes.append(dict(label="car", points=[[x0, y0], [x0 + w, y0 + h]], group_id=group,
                               description="", shape_type="rectangle", flags={}, mask=None))
            for name in KEYPOINTS:
                label = name + "_occluded" if rng.random() < 0.1 else name
                shapes.append(dict(label=label, points=[[x0 + rng.uniform(0, w), y0 + rng.uniform(0, h)]],
                                   group_id=group, description="", shape_type="point", flags={}, mask=None))
        sub = folder / f"part{i % 10}"
        sub.mkdir(exist_ok=True)
        doc = dict(version="5.4.1", flags={}, shapes=shapes, imagePath=f"img_{i:05d}.jpg", imageData=None,
                   imageHeight=480, imageWidth=640)
        (sub / f"img_{i:05d}.json").write_text(json.dumps(doc, indent=2))


def json_baseline(folder: Path) -> float:
    """Seconds to list and json.load every file (the floor any converter pays)."""
    start = time.perf_counter()
    for path in find_json_files(folder):
        with open(path, "rb") as f:
            json.load(f)
    return time.perf_counter() - start


def convert(folder: Path, out: Path, **kwargs) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    convert_labelme(folder, out, images="none", val_ratio=0.2, **kwargs)
    return time.perf_counter() - start


def peak_memory(folder: Path, out: Path) -> int:
    """tracemalloc peak of an in-process conversion (workers=0: every allocation is in this process)."""
    shutil.rmtree(out, ignore_errors=True)
    tracemalloc.start()
    convert_labelme(folder, out, images="none", workers=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = {
        "json.load only (baseline)": None,
        "convert, names inferred": {},
        "convert, --keypoints given": dict(keypoints=KEYPOINTS),
        "convert, in-process (workers=0)": dict(workers=0),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small, big = root / "small", root / "big"
        small.mkdir()
        big.mkdir()
        make_files(small, 1000)
        make_files(big, args.files)
        json_baseline(big)  # warm the file cache
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):  # interleaved, so that machine noise hits all alike
            for name, kwargs in runs.items():
                seconds = json_baseline(big) if kwargs is None else convert(big, root / "out", **kwargs)
                times[name].append(seconds)
        n = args.files
        rate = {name: n / statistics.median(t) for name, t in times.items()}
        baseline = rate["json.load only (baseline)"]
        print(f"{n:,} labelme files, {args.repeat} runs each, median, {os.cpu_count()} CPUs:")
        for name, r in rate.items():
            print(f"  {name:34} {r:9.0f} files/s  {r / baseline:5.2f}x baseline")
        mem_small, mem_big = peak_memory(small, root / "out"), peak_memory(big, root / "out")
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"tracemalloc peak (in-process): 1,000 files {mem_small / 2**20:.2f} MiB; "
              f"{n:,} files {mem_big / 2**20:.2f} MiB; largest worker's peak RSS {children:.0f} MiB")
        worst = min(rate["convert, names inferred"], rate["convert, --keypoints given"])
        ok = worst >= 3000 and worst >= baseline / 2
        verdict = "met" if ok else "MISSED"
        print(f"targets (>= 3000 files/s and >= 0.5x baseline, default settings): {verdict}")


if __name__ == "__main__":
    main()
