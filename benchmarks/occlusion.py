"""RandomOcclusion against no occlusion augmentation: the quickstart's model trained both ways on the synthetic car
set (clean, as `mmpx quickstart` draws it), PCK@0.05 (bbox) on a clean and on an occluded validation set, side by
side, several seeds. The baseline is the quickstart's own training (its pipeline, no RandomOcclusion).

The goal: a clear gain on occluded data and no loss on clean data. Printed per seed and as means: PCK on
each validation set with and without, their difference, and, from the test's dumped predictions, PCK on groups of
keypoints: "hidden", those of the clean set the car itself hides (v=1); "covered", those of the occluded set an
occluder covers (labelled occluded there and visible in the clean set, which draws the same cars); "visible",
those of the occluded set still visible (v=2).

Data: training images from `mmpx data synth carpose --occlusion 0 --max-cars 1 --size 128` (seed = the run's seed;
80% train, as the quickstart), validation images from seed 1000 drawn twice, `--occlusion 0` (clean) and
`--occlusion 1` (every car gets an occluder), each converted with `mmpx convert labelme`. Each run trains with
`mmpx train` (no validation) on a config written for it that inherits `mmpx::carpose-quickstart`, then `mmpx test`
on each validation set. Run it on an idle machine; with the defaults (3 seeds, the quickstart's 22 epochs on 1000
images) a seed takes about 11 minutes on 2 idle cores (two trainings of 4-5 minutes, four tests). With
--work-dir, finished trainings and tests found there are reused (rerun the same command to print the figures;
use a new folder when changing an option).

Usage: python benchmarks/occlusion.py [--seeds 0 1 2] [--epochs 22] [--images 1000] [--val-images 300]
           [--prob 0.5] [--kinds polygon texture object] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", "pkg_resources is deprecated")

ROOT = Path(__file__).resolve().parents[1]
METAINFO = ROOT / "mmpose_ext" / "datasets" / "metainfo" / "carpose.py"
VAL_SEED = 1000
GROUPS = ("clean", "hidden", "occluded", "covered", "visible")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def mmpx(*args) -> float:
    """Run ``mmpx ARGS``; exit with its output's end if it fails. Returns the wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mmpx", *map(str, args)], capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        sys.exit(f"mmpx {' '.join(map(str, args[:2]))} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def make_data(folder: Path, n: int, seed: int, occlusion: float, val_ratio: float) -> Path:
    if not (folder / "data" / "annotations" / "train.json").is_file():
        mmpx("data", "synth", "carpose", folder / "labelme", "--n", n, "--seed", seed, "--size", 128, "--max-cars", 1,
             "--occlusion", occlusion)
        mmpx("convert", "labelme", folder / "labelme", folder / "data", "--metainfo", METAINFO, "--category", "car",
             "--val-ratio", val_ratio, "--seed", seed, "--workers", 0)
    return folder / "data"


def write_config(path: Path, train_data: Path, epochs: int, occlusion: dict | None) -> Path:
    """A config inheriting the quickstart's: data roots, epochs (with the schedule that follows them), PCK only
    (no CocoMetric: its ann_file is baked into the base), and RandomOcclusion after TopdownAffine if given."""
    from mmpose_ext.config import load_config

    pipeline = load_config("carpose-quickstart").to_dict()["train_pipeline"]
    if occlusion is not None:
        at = next(i for i, step in enumerate(pipeline) if step["type"] == "TopdownAffine") + 1
        pipeline.insert(at, occlusion)
    root = str(train_data) + os.sep
    path.write_text(f"""_base_ = ['mmpx::carpose-quickstart']
max_epochs = {epochs}
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_pipeline = {pipeline!r}
train_dataloader = dict(dataset=dict(data_root={root!r}, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PCKAccuracy', thr=0.05, norm_item='bbox')]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=max_epochs, save_best=None))
""")
    return path


def pck_by_group(dump: Path, data: Path, clean: Path) -> dict[str, tuple[int, int]]:
    """(hits, labelled) at 0.05 of max(w, h) of the GT box, from ``mmpx test --dump`` on ``data``, by group: on the
    clean set, ``hidden`` (keypoints the car itself hides, COCO v=1); on the occluded set, ``covered`` (labelled
    occluded there and visible in the clean set: both sets draw the same cars, the occluders come after) and
    ``visible`` (v=2)."""
    def annotations(root: Path) -> dict[str, dict]:
        ann = json.loads((root / "annotations" / "train.json").read_text())
        names = {i["id"]: i["file_name"] for i in ann["images"]}
        return {names[a["image_id"]]: a for a in ann["annotations"]}  # one car per image

    here, ref = annotations(data), annotations(clean)
    by_id = {a["id"]: (name, a) for name, a in here.items()}
    out: dict[str, list[int]] = {}
    for sample in pickle.loads(dump.read_bytes()):
        name, a = by_id[int(sample["id"])]
        x, y, w, h = a["bbox"]
        gt = np.array(a["keypoints"], np.float32).reshape(-1, 3)
        before = np.array(ref[name]["keypoints"], np.float32).reshape(-1, 3)[:, 2]
        pred = np.asarray(sample["pred_instances"]["keypoints"], np.float32)[0]
        hit = np.linalg.norm(pred - gt[:, :2], axis=1) / max(w, h) < 0.05
        groups = {"hidden": gt[:, 2] == 1} if data == clean else {"covered": (gt[:, 2] == 1) & (before == 2),
                                                                   "visible": gt[:, 2] == 2}
        for group, chosen in groups.items():
            counts = out.setdefault(group, [0, 0])
            counts[0] += int(hit[chosen].sum())
            counts[1] += int(chosen.sum())
    return {g: (h, n) for g, (h, n) in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one pair of runs per seed")
    parser.add_argument("--epochs", type=int, default=22, help="training epochs (the quickstart's: 22)")
    parser.add_argument("--images", type=int, default=1000, help="synthetic training images (80%% train)")
    parser.add_argument("--val-images", type=int, default=300, help="images in each validation set")
    parser.add_argument("--prob", type=float, default=0.5, help="RandomOcclusion's prob")
    parser.add_argument("--kinds", nargs="+", default=["polygon", "texture", "object"], help="RandomOcclusion's kinds")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed after")
    args = parser.parse_args()
    occlusion = dict(type="RandomOcclusion", prob=args.prob, num_range=(1, 3), size_range=(0.1, 0.4),
                     kinds=tuple(args.kinds))

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{args.images} training images, {args.epochs} epochs, seeds {args.seeds}; {args.val_images} validation "
          f"images each; RandomOcclusion: {occlusion}")
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        sets = {name: make_data(work / f"val_{name}", args.val_images, VAL_SEED, occ, 0.0)
                for name, occ in (("clean", 0.0), ("occluded", 1.0))}
        for name, data in sets.items():
            ann = json.loads((data / "annotations" / "train.json").read_text())
            vis = np.array([a["keypoints"][2::3] for a in ann["annotations"]])
            print(f"validation set {name}: {len(ann['annotations'])} cars, {(vis > 0).sum()} labelled keypoints, "
                  f"{(vis == 1).mean() / (vis > 0).mean():.1%} of them occluded (v=1)")
        rows = []
        for seed in args.seeds:
            train_data = make_data(work / f"train_{seed}", args.images, seed, 0.0, 0.2)
            row = dict(seed=seed)
            for variant, occ in (("without", None), ("with", occlusion)):
                run = work / f"seed{seed}_{variant}"
                run.mkdir(exist_ok=True)
                config = write_config(run / "config.py", train_data, args.epochs, occ)
                done = run / "train_seconds.txt"  # a finished run in --work-dir is reused
                if not done.is_file():
                    seconds = mmpx("train", config, "--work-dir", run / "train", "--seed", seed, "--no-validate",
                                   "--no-progress")
                    done.write_text(f"{seconds:.1f}\n")
                checkpoint = Path((run / "train" / "last_checkpoint").read_text().strip())
                row[f"{variant}_train_s"] = float(done.read_text())
                for name, data in sets.items():
                    out, dump = run / f"test_{name}.json", run / f"test_{name}.pkl"
                    if not (out.is_file() and dump.is_file()):
                        mmpx("test", config, checkpoint, "--work-dir", run / f"test_{name}", "--out", out, "--dump",
                             dump, "--cfg-options", f"test_dataloader.dataset.data_root={data}{os.sep}",
                             "test_dataloader.dataset.ann_file=annotations/train.json")
                    row[f"{variant}_{name}"] = float(json.loads(out.read_text())["PCK"])
                    for group, (hits, n) in pck_by_group(dump, data, sets["clean"]).items():
                        row[f"{variant}_{group}"] = hits / max(n, 1)
                        row[f"{group}_keypoints"] = n
            rows.append(row)
            print(f"seed {seed}: training {row['without_train_s']:.0f} s without, {row['with_train_s']:.0f} s with; "
                  f"keypoints: {row['hidden_keypoints']} hidden (clean set), {row['covered_keypoints']} covered and "
                  f"{row['visible_keypoints']} visible (occluded set)")
            for name in GROUPS:
                a, b = row[f"without_{name}"], row[f"with_{name}"]
                print(f"  PCK@0.05 {name:9s} without {a:.3f}  with {b:.3f}  difference {b - a:+.3f} "
                      f"(ratio {b / max(a, 1e-9):.3f})")
        print(f"mean over {len(rows)} seed(s):")
        for name in GROUPS:
            a = np.array([r[f"without_{name}"] for r in rows])
            b = np.array([r[f"with_{name}"] for r in rows])
            diff = b - a
            print(f"  PCK@0.05 {name:9s} without {a.mean():.3f}  with {b.mean():.3f}  difference {diff.mean():+.3f} "
                  f"(per seed {', '.join(f'{d:+.3f}' for d in diff)}; ratio {b.mean() / max(a.mean(), 1e-9):.3f})")
        (work / "occlusion.json").write_text(json.dumps(rows, indent=2) + "\n") if args.work_dir else None
    print("hidden: keypoints of the clean set the car itself hides (v=1); covered: keypoints of the occluded set "
          "that its occluders cover (visible in the clean set); visible: those still visible (v=2)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
