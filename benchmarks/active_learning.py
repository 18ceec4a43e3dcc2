"""Which 100 images to label next: ``mmpx suggest`` (diverse, and uncertainty alone) against 100 chosen at random,
on the synthetic car set, several seeds. The baseline is random selection.

Per seed: a pool of unlabelled images (`mmpx data synth carpose`, as the quickstart draws them: 128 px, one car);
100 of them, drawn at random, are the labelled start. The quickstart's model (`mmpx::carpose-quickstart`, its
pipeline and schedule shape; --epochs sets the length) is trained on them; that model scores the rest of the pool
with `mmpx.suggest` (the function behind `mmpx suggest`), each strategy picks 100, their labels are "corrected"
(the generator's truth stands in for the person) and the model is trained again from scratch, the same way, on
the 200; PCK@0.05 (bbox) on a fixed validation set of 300 images (seed 1000) is printed per seed, per strategy,
and as means with the difference to random.

Boxes come from the truth rectangles (a perfect detector), so the comparison is about keypoints alone.
Run it on an idle machine: with the defaults a seed takes about 10 minutes on 2 cores (four trainings, four
tests). With --work-dir, finished trainings and tests are reused.

Usage: python benchmarks/active_learning.py [--seeds 0 1 2] [--pool 600] [--initial 100] [--add 100]
           [--epochs 40] [--strategies diverse uncertainty random] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", "pkg_resources is deprecated")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.occlusion import METAINFO, mmpx, write_config  # noqa: E402  (the same runner and config)

VAL_SEED = 1000


def convert(labelme: Path, data: Path) -> Path:
    if not (data / "annotations" / "train.json").is_file():
        mmpx("convert", "labelme", labelme, data, "--metainfo", METAINFO, "--category", "car", "--val-ratio", 0,
             "--workers", 0)
    return data


def train_and_test(run: Path, data: Path, val: Path, epochs: int, seed: int) -> tuple[Path, float, float]:
    """(checkpoint, validation PCK, training seconds); reused when ``run`` holds a finished one."""
    run.mkdir(parents=True, exist_ok=True)
    config = write_config(run / "config.py", data, epochs, None)  # the quickstart's pipeline, no occlusion
    done = run / "train_seconds.txt"
    if not done.is_file():
        seconds = mmpx("train", config, "--work-dir", run / "train", "--seed", seed, "--no-validate", "--no-progress")
        done.write_text(f"{seconds:.1f}\n")
    checkpoint = Path((run / "train" / "last_checkpoint").read_text().strip())
    out = run / "test.json"
    if not out.is_file():
        mmpx("test", config, checkpoint, "--work-dir", run / "test", "--out", out, "--cfg-options",
             f"test_dataloader.dataset.data_root={val}{os.sep}",
             "test_dataloader.dataset.ann_file=annotations/train.json")
    return checkpoint, float(json.loads(out.read_text())["PCK"]), float(done.read_text())


class TruthBoxes:
    """A perfect detector: each pool image's truth rectangle, found by the decoded image's content."""

    name = "truth boxes"

    def __init__(self, labelme: Path) -> None:
        import cv2

        self.boxes = {}
        for path in labelme.glob("*.json"):
            doc = json.loads(path.read_text())
            image = cv2.imread(str(path.with_name(doc["imagePath"])))
            rects = [sum(s["points"], []) for s in doc["shapes"] if s["shape_type"] == "rectangle"]
            self.boxes[hashlib.sha1(image.tobytes()).hexdigest()] = np.array(rects, np.float32).reshape(-1, 4)

    def __call__(self, image):
        boxes = self.boxes[hashlib.sha1(image.tobytes()).hexdigest()]
        return boxes, np.ones(len(boxes), np.float32)


def choose(strategy: str, model, pool: Path, unlabelled: list[str], boxes, n: int, seed: int, out: Path) -> list[str]:
    """The names ``mmpx.suggest`` picks (random: drawn with the same seed), written to ``out``/chosen.json."""
    chosen_file = out / "chosen.json"
    if chosen_file.is_file():
        return json.loads(chosen_file.read_text())
    from mmpx.infer.inputs import Source
    from mmpx.suggest.run import suggest

    sources = [Source(pool / name, name, "image") for name in unlabelled]
    shutil.rmtree(out / "picked", ignore_errors=True)
    report = suggest(sources, model, boxes, out / "picked", n, strategy=strategy, seed=seed, inputs=[pool])
    names = [c.name for c in report.chosen]
    out.mkdir(parents=True, exist_ok=True)
    chosen_file.write_text(json.dumps(names))
    return names


def labelled_folder(folder: Path, pool: Path, names: list[str]) -> Path:
    """A labelme folder of ``names`` with their truth labels (the person's corrections, perfectly)."""
    if not folder.is_dir():
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in names:
            shutil.copy(pool / name, tmp / name)
            shutil.copy((pool / name).with_suffix(".json"), (tmp / name).with_suffix(".json"))
        tmp.rename(folder)
    return folder


def make_pool(pool: Path, n: int, seed: int, copies: int) -> None:
    """``n`` synthetic images; with ``copies`` > 1, ``n / copies`` scenes each seen ``copies`` times, shifted by up to
    4 px and brightened or darkened a little (the frames of a video: what uncertainty alone picks again and again)."""
    import cv2

    from mmpx.synth.carpose import synth_carpose

    if (pool / ".done").is_file():
        return
    if copies == 1:
        synth_carpose(pool, n, seed=seed, size=128, max_cars=1, occlusion=0)
        (pool / ".done").write_text("")
        return
    base = pool.with_name(pool.name + "_scenes")
    synth_carpose(base, n // copies, seed=seed, size=128, max_cars=1, occlusion=0)
    pool.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for doc_path in sorted(base.glob("*.json")):
        doc = json.loads(doc_path.read_text())
        image = cv2.imread(str(base / doc["imagePath"]))
        for j in range(copies):
            dx, dy = rng.integers(-4, 5, 2)
            frame = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (128, 128),
                                   borderMode=cv2.BORDER_REPLICATE)
            frame = np.clip(frame.astype(np.int16) + rng.integers(-12, 13), 0, 255).astype(np.uint8)
            name = f"{doc_path.stem}_{j}"
            shapes = []
            for shape in doc["shapes"]:
                pts = [[x + dx, y + dy] for x, y in shape["points"]]
                if shape["shape_type"] == "rectangle":
                    pts = np.clip(pts, 0, 128).tolist()
                elif not all(0 <= v <= 128 for v in pts[0]):
                    continue  # moved out of the frame
                shapes.append(dict(shape, points=pts))
            cv2.imwrite(str(pool / f"{name}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
            (pool / f"{name}.json").write_text(json.dumps(dict(doc, shapes=shapes, imagePath=f"{name}.jpg")))
    (pool / ".done").write_text("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pool", type=int, default=600, help="synthetic images per seed (start + candidates)")
    parser.add_argument("--initial", type=int, default=100, help="labelled images to start from")
    parser.add_argument("--add", type=int, default=100, help="images each strategy adds")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs, every training")
    parser.add_argument("--val-images", type=int, default=300)
    parser.add_argument("--copies", type=int, default=1, help="each scene seen this many times (video-like pool)")
    parser.add_argument("--strategies", nargs="+", default=["diverse", "uncertainty", "random"])
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed after")
    args = parser.parse_args()

    from mmpx.api import load_pose_model
    from mmpx.synth.carpose import synth_carpose

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"pool {args.pool} images ({args.copies} view(s) of each scene), start {args.initial}, add {args.add}, "
          f"{args.epochs} epochs, seeds {args.seeds}, "
          f"validation {args.val_images} images (seed {VAL_SEED}); strategies {args.strategies}")
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        if not (work / "val" / "labelme").is_dir():
            synth_carpose(work / "val" / "labelme", args.val_images, seed=VAL_SEED, size=128, max_cars=1, occlusion=0)
        val = convert(work / "val" / "labelme", work / "val" / "data")
        rows = []
        for seed in args.seeds:
            pool = work / f"pool_{seed}"
            make_pool(pool, args.pool, seed, args.copies)
            names = sorted(p.with_suffix(".jpg").name for p in pool.glob("*.json"))
            rng = np.random.default_rng(seed)
            start = sorted(rng.choice(names, args.initial, replace=False).tolist())
            unlabelled = [n for n in names if n not in set(start)]
            run = work / f"seed{seed}"
            init = convert(labelled_folder(run / "start" / "labelme", pool, start), run / "start" / "data")
            checkpoint, pck0, secs = train_and_test(run / "start", init, val, args.epochs, seed)
            row = dict(seed=seed, start=pck0)
            print(f"seed {seed}: start ({args.initial} images) PCK {pck0:.3f}, trained in {secs:.0f} s", flush=True)
            model = load_pose_model(run / "start" / "config.py", checkpoint, flip_test=False)
            boxes = TruthBoxes(pool)
            for strategy in args.strategies:
                picked = choose(strategy, model, pool, unlabelled, boxes, args.add, seed, run / strategy)
                data = convert(labelled_folder(run / strategy / "labelme", pool, start + picked),
                               run / strategy / "data")
                _, pck, secs = train_and_test(run / strategy, data, val, args.epochs, seed)
                row[strategy] = pck
                print(f"  {strategy:12s} +{len(picked)} images: PCK {pck:.3f} (trained in {secs:.0f} s)", flush=True)
            rows.append(row)
        print(f"mean over {len(rows)} seed(s), PCK@0.05 on {args.val_images} validation images:")
        print(f"  start ({args.initial} images): {np.mean([r['start'] for r in rows]):.3f}")
        base = np.array([r["random"] for r in rows]) if "random" in args.strategies else None
        for strategy in args.strategies:
            values = np.array([r[strategy] for r in rows])
            line = f"  {strategy:12s} {values.mean():.3f} (per seed {', '.join(f'{v:.3f}' for v in values)})"
            if base is not None and strategy != "random":
                diff = values - base
                line += (f"; vs random {diff.mean():+.3f} (per seed {', '.join(f'{d:+.3f}' for d in diff)}), "
                         f"ratio {values.mean() / max(base.mean(), 1e-9):.3f}")
            print(line)
        if args.work_dir:
            (work / "active_learning.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
