"""How long ``mmpx report`` takes to build its page: for a quickstart work dir, and for a synthetic run whose
validation set has 5,000 instances (2,500 images x 2 people, 17 COCO keypoints, 20 Human-Art-like groups).

Each build is a fresh process running ``mmpx report`` (imports included, as a user waits for it), median of
``--repeat``; the page's size is printed too. Target: under 10 s for the quickstart.

Usage: python benchmarks/report.py [--work-dir work_dirs/quickstart] [--instances 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GROUPS = [f"scene_{i:02d}" for i in range(20)]


def synthesise(root: Path, instances: int, seed: int = 0) -> Path:
    """A run folder: 2 people per image (JPEGs on disk), noisy predictions, a scalars.json and a config."""
    import cv2

    from mmpx.evaluation.api import COCO_FLIP, COCO_NAMES, COCO_SIGMAS
    from mmpx.report.predictions import write_predictions

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    images, anns, results = [], [], []
    for i in range(instances // 2):
        name = f"{GROUPS[i % 20]}/{i:06d}.jpg"
        images.append(dict(id=i + 1, file_name=name, width=320, height=240, weather=GROUPS[i % 20]))
        picture = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        (root / "images" / GROUPS[i % 20]).mkdir(exist_ok=True)
        cv2.imwrite(str(root / "images" / name), picture)
        for j in range(2):
            x0, y0, w, h = rng.uniform(0, 150), rng.uniform(0, 100), rng.uniform(60, 160), rng.uniform(80, 130)
            xy = np.stack([x0 + rng.uniform(0, w, 17), y0 + rng.uniform(0, h, 17)], 1)
            vis = (rng.uniform(size=17) > 0.15).astype(int) * 2
            anns.append(dict(id=2 * i + j + 1, image_id=i + 1, category_id=1, iscrowd=0, bbox=[x0, y0, w, h],
                             area=w * h * 0.6, num_keypoints=int((vis > 0).sum()),
                             keypoints=np.concatenate([xy, vis[:, None]], 1).ravel().tolist()))
            pred = xy + rng.normal(0, rng.uniform(1, 12), xy.shape)
            results.append(dict(image_id=i + 1, category_id=1, score=float(rng.uniform(0.5, 1)),
                                keypoints=np.concatenate([pred, np.full((17, 1), 0.9)], 1).ravel().tolist()))
    gt = root / "val.json"
    gt.write_text(json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name="person")])))
    run = root / "run"
    write_predictions(run, "val", results, dict(gt=str(gt), images=str(root / "images"), keypoints=list(COCO_NAMES),
                                                sigmas=list(COCO_SIGMAS), flip_indices=list(COCO_FLIP),
                                                skeleton=[[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11],
                                                          [6, 12], [5, 6], [5, 7], [6, 8], [7, 9], [8, 10]],
                                                epoch=30, metrics={"coco/AP": 0.5}))
    vis_data = run / "20260101_000000" / "vis_data"
    vis_data.mkdir(parents=True)
    lines = [dict(loss=1 / s, lr=1e-3, epoch=(s - 1) // 100 + 1, iter=s, step=s) for s in range(1, 3001, 50)]
    lines += [{"coco/AP": e / 40, "step": e} for e in range(1, 31)]
    (vis_data / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (run / "config.py").write_text("model = dict(type='TopdownPoseEstimator')\ntrain_cfg = dict(max_epochs=30)\n")
    return run


def build(run: Path, out: Path, repeat: int, *extra: str) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mmpx", "report", str(run), "--out", str(out), *extra], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("work_dirs/quickstart"))
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        if (args.work_dir / "quickstart.json").is_file():
            med, times = build(args.work_dir, tmp / "quickstart.html", args.repeat)
            rows.append(("quickstart work dir", med, times, tmp / "quickstart.html"))
        else:
            print(f"{args.work_dir} holds no quickstart (run mmpx quickstart first): skipped")
        run = synthesise(tmp / "big", args.instances)
        med, times = build(run, tmp / "big.html", args.repeat, "--by", "weather")
        rows.append((f"{args.instances} instances, 20 groups", med, times, tmp / "big.html"))
        print(f"mmpx report, a fresh process each time, median of {args.repeat}")
        for name, med, times, page in rows:
            print(f"  {name:32s} {med:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)}; "
                  f"page {page.stat().st_size / 1e6:.1f} MB)")
        if rows and rows[0][0] == "quickstart work dir":
            print(f"target < 10 s for the quickstart: {'met' if rows[0][1] < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
