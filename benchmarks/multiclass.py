"""One multi-class model (cars and bicycles) against two single-class models of the same architecture and
schedule (the baseline: one per class), on the same synthetic street images: per-class PCK@0.05 and COCO AP, and the
inference cost of an image with both classes, printed side by side.

The goals: each class within 0.02 of its separate model, and one image's cost at most 0.6x the two
models' sum.

Data: `mmpx data synth street --size 256` (cars with 8 keypoints, bicycles with 6, up to 2 of each an image),
converted with `mmpx convert labelme --classes car,bicycle` (80% train). The two one-class datasets are the same
files filtered by category (same images, same boxes; each its own one-class metainfo file cut from the multi-class
one, category id 1), so the three models see the same instances of their classes.

Models (--model): `rtmpose-t`, the shipped configs/street/rtmpose-t_street.py (128x128, SimCC, AdamW 4e-3, EMA),
or `heatmap`, the quickstart's model (mmpose_ext/configs/carpose_quickstart.py: ResNet-18 with 3 stages and a
heatmap head, 96x96, Adam 2e-3), which learns this data in hundreds of steps on a CPU where RTMPose-t from scratch
needs thousands. Each is made iteration-based for the same number of iterations (--iters, batch 32); the multi-class
model uses MultiClassCocoDataset and the multi-class metrics, the single-class ones CocoDataset, CocoMetric and
PCKAccuracy, their heads 8 or 6 keypoints instead of the union's 14. Each model is trained in this process with
mmengine's Runner for every training seed (--train-seeds), then tested on the validation split (flip test).
Same iterations means each single-class model sees its class about twice as often as the multi-class model, whose
batches mix both; --multi-iters 2x the iterations gives it as many epochs of each class instead.

Inference cost: torch forward of the network (backbone and head, mode='tensor': no flip, no decoding), 1 thread,
on random crops of the model's input size: the multi-class model on all the image's crops in one batch against the
car model on the car crops plus the bicycle model on the bicycle crops (two calls); median of --repeats interleaved
rounds. A row gives each single-class model every crop (boxes without classes: two passes over every box), and a
last one the whole image: the shipped two-class CPU RTMDet-tiny (configs/street/rtmdet-tiny_street-cpu.py, 320x320)
and the multi-class model, against a one-class RTMDet-tiny (configs/carpose/rtmdet-tiny_carpose-cpu.py) and its
pose model per class (the two pipelines the multi-class model replaces; the detectors' raw outputs, no decoding or
NMS, whose cost is alike in both).

With --work-dir, the data and finished trainings found there are reused (rerun the same command to print again).

Usage: python benchmarks/multiclass.py [--model rtmpose-t|heatmap] [--images 400] [--iters 200]
       [--multi-iters N] [--train-seeds 0,1] [--work-dir DIR] [--repeats 200]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"rtmpose-t": ROOT / "configs" / "street" / "rtmpose-t_street.py",
           "heatmap": ROOT / "mmpose_ext" / "configs" / "carpose_quickstart.py"}
CLASSES = ("car", "bicycle")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def mmpx(*args) -> None:
    proc = subprocess.run([sys.executable, "-m", "mmpx", *map(str, args)], capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        sys.exit(f"mmpx {' '.join(map(str, args[:2]))} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def make_data(work: Path, images: int, seed: int) -> Path:
    data = work / "street"
    if not (data / "annotations" / "val.json").is_file():
        mmpx("data", "synth", "street", work / "street-raw", "-n", images, "--seed", seed, "--size", 256)
        mmpx("convert", "labelme", work / "street-raw", data, "--classes", ",".join(CLASSES), "--seed", seed)
    return data


def split_by_class(data: Path, work: Path) -> dict[str, Path]:
    """One one-class dataset per class: the same annotation files cut to the class's category (renumbered 1), the
    same images, a one-class metainfo file cut from the multi-class one."""
    from mmpx.metainfo.build import build_metainfo
    from mmpx.metainfo.classes import class_specs
    from mmpx.metainfo.io import load_metainfo, write_metainfo

    specs = {s["name"]: s for s in class_specs(load_metainfo(data / "metainfo.py"))}
    out = {}
    for name in CLASSES:
        folder = work / f"street-{name}"
        spec = specs[name]
        if not (folder / "annotations" / "val.json").is_file():
            (folder / "annotations").mkdir(parents=True, exist_ok=True)
            for split in ("train", "val"):
                coco = json.loads((data / "annotations" / f"{split}.json").read_text())
                category = next(c for c in coco["categories"] if c["id"] == spec["id"])
                coco["categories"] = [{**category, "id": 1}]
                coco["annotations"] = [{**a, "category_id": 1} for a in coco["annotations"]
                                       if a["category_id"] == spec["id"]]
                (folder / "annotations" / f"{split}.json").write_text(json.dumps(coco))
            info = build_metainfo(name, spec["keypoints"], skeleton=spec["skeleton"], swaps=spec["swaps"],
                                  sigmas=spec["sigmas"], joint_weights=spec["joint_weights"])
            write_metainfo(folder / "metainfo.py", info)
        out[name] = folder
    return out


def make_config(model: str, data: Path, images: Path, keypoints: int | None, iters: int, seed: int,
                work_dir: Path):
    """``model``'s config on ``data``, iteration-based; a one-class model when ``keypoints`` is given.

    ``rtmpose-t``: the shipped street config (SimCC; a linear warm-up over the first 20%, a cosine over the second
    half, no epoch-based stage-2 switch). ``heatmap``: the quickstart's model (ResNet-18 with 3 stages, heatmap head,
    96x96, Adam 2e-3, a 50-step warm-up and a cosine over the whole run), which learns in hundreds of steps on the
    CPU where RTMPose-t from scratch needs thousands."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(CONFIGS[model]))
    multi_metrics = [dict(type="MultiClassCocoMetric"), dict(type="MultiClassPCKAccuracy", thr=0.05)]
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        dataset = loader.dataset
        dataset.data_root = f"{data}/"
        dataset.data_prefix = dict(img=f"{images}/")
        dataset.metainfo = dict(from_file=str(data / "metainfo.py"))
        dataset.type = "MultiClassCocoDataset" if keypoints is None else "CocoDataset"
    cfg.val_dataloader.dataset.ann_file = cfg.test_dataloader.dataset.ann_file = "annotations/val.json"
    cfg.model.head.out_channels = keypoints or sum(len(c) for c in _class_keypoints(data))
    cfg.val_evaluator = cfg.test_evaluator = (
        multi_metrics if keypoints is None else [dict(type="CocoMetric"), dict(type="PCKAccuracy", thr=0.05)])
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=10 * iters)
    if model == "rtmpose-t":
        warmup = max(1, iters // 5)
        cfg.param_scheduler = [
            dict(type="LinearLR", start_factor=1.0e-5, by_epoch=False, begin=0, end=warmup),
            dict(type="CosineAnnealingLR", eta_min=cfg.base_lr * 0.05, by_epoch=False, begin=iters // 2, end=iters,
                 T_max=iters - iters // 2),
        ]
        cfg.custom_hooks = [h for h in cfg.custom_hooks if "PipelineSwitchHook" not in h["type"]]  # epoch-based
    else:
        cfg.param_scheduler = [
            dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=min(50, iters)),
            dict(type="CosineAnnealingLR", T_max=iters, eta_min=1e-5, by_epoch=False, begin=0, end=iters),
        ]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters, save_best=None,
                                        max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=50)
    cfg.log_processor = dict(by_epoch=False)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = str(work_dir)
    cfg.launcher = "none"
    return cfg


def _class_keypoints(data: Path) -> list[list[str]]:
    return [c["keypoints"] for c in json.loads((data / "annotations" / "val.json").read_text())["categories"]]


def train_and_test(name: str, cfg, iters: int) -> tuple[object, dict, float]:
    """Train (or reuse the checkpoint of a finished run), test; returns the model, the metrics, train seconds."""
    from mmengine.runner import Runner

    work = Path(cfg.work_dir)
    done = work / f"iter_{iters}.pth"
    result = work / "result.json"
    if done.is_file() and result.is_file():
        cfg = copy.deepcopy(cfg)
        cfg.load_from = str(done)
        runner = Runner.from_cfg(cfg)
        runner.load_or_resume()
        saved = json.loads(result.read_text())
        return runner.model, saved["metrics"], saved["train_s"]
    print(f"training {name}: {iters} iterations ...", flush=True)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    metrics = {k: float(v) for k, v in runner.test().items()}
    result.write_text(json.dumps(dict(metrics=metrics, train_s=train_s)))
    return runner.model, metrics, train_s


def time_forward(models: dict, plans: list[list[tuple[str, int]]], repeats: int, sizes: dict[str, int]) -> list[float]:
    """Median seconds of each plan (a list of (model, images) calls, each model on inputs of its ``sizes``),
    measured in interleaved rounds."""
    import torch

    torch.set_num_threads(1)
    inputs = {(n, sizes[m]): torch.randn(n, 3, sizes[m], sizes[m]) for plan in plans for m, n in plan}
    for m in models.values():
        m.cpu().eval()  # the CPU's cost, also where training ran on a GPU
    times = [[] for _ in plans]
    with torch.no_grad():
        for round_ in range(repeats + 5):
            for i, plan in enumerate(plans):
                start = time.perf_counter()
                for model, n in plan:
                    models[model](inputs[n, sizes[model]], None, mode="tensor")
                if round_ >= 5:  # warm-up rounds
                    times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def detectors() -> tuple[dict, int]:
    """The shipped CPU RTMDet-tiny for the two classes and its one-class twin (what each single-class pipeline
    runs), with random weights (the cost does not depend on them), and their input side."""
    from mmdet.apis import init_detector
    from mmengine.config import Config

    both = Config.fromfile(str(ROOT / "configs" / "street" / "rtmdet-tiny_street-cpu.py"))
    one = Config.fromfile(str(ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose-cpu.py"))
    side = max(both.get("input_size", (320, 320)))
    return {"det2": init_detector(both, None, device="cpu"), "det1": init_detector(one, None, device="cpu")}, side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="rtmpose-t",
                        help="rtmpose-t: the shipped street config; heatmap: the quickstart's model")
    parser.add_argument("--images", type=int, default=400, help="synthetic street images (80%% train)")
    parser.add_argument("--iters", type=int, default=200, help="training iterations of each model (batch 32)")
    parser.add_argument("--multi-iters", type=int, default=None,
                        help="the multi-class model's iterations (default --iters; 2x: as many epochs of each "
                             "class as its single-class model sees)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--train-seeds", default="0", help="training seeds, comma-separated: each trains all three")
    parser.add_argument("--repeats", type=int, default=200, help="timed rounds of the inference comparison")
    parser.add_argument("--work-dir", type=Path, help="keep data and runs here (default: a temporary folder)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.train_seeds.split(",")]
    multi_iters = args.multi_iters or args.iters

    import mmpose_ext  # noqa: F401  (registers MultiClassCocoDataset and the metrics)

    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        data = make_data(work, args.images, args.seed)
        single = split_by_class(data, work)
        counts = {split: {c["name"]: sum(a["category_id"] == c["id"] for a in coco["annotations"])
                          for c in coco["categories"]}
                  for split in ("train", "val")
                  for coco in [json.loads((data / "annotations" / f"{split}.json").read_text())]}
        images = data / "images"
        metrics, train_s = {}, {}
        for seed in seeds:
            runs_dir = work / f"{args.model}-{args.iters}-seed{seed}"
            multi_dir = runs_dir / ("run-multi" if multi_iters == args.iters else f"run-multi-{multi_iters}")
            runs = {"multi": make_config(args.model, data, images, None, multi_iters, seed, multi_dir)}
            for name in CLASSES:
                runs[name] = make_config(args.model, single[name], images, len(_class_keypoints(single[name])[0]),
                                         args.iters, seed, runs_dir / f"run-{name}")
            models = {}
            for name, cfg in runs.items():
                models[name], metrics[seed, name], train_s[seed, name] = train_and_test(
                    name, cfg, multi_iters if name == "multi" else args.iters)
        size = runs["multi"].codec["input_size"][0]
        dets, det_size = detectors()
        models.update(dets)
        plans = [[("multi", 4)], [("car", 2), ("bicycle", 2)],
                 [("multi", 2)], [("car", 1), ("bicycle", 1)],
                 [("car", 4), ("bicycle", 4)],
                 [("det2", 1), ("multi", 4)], [("det1", 1), ("car", 2), ("det1", 1), ("bicycle", 2)]]
        sizes = {"multi": size, "car": size, "bicycle": size, "det1": det_size, "det2": det_size}
        cost = time_forward(models, plans, args.repeats, sizes)
        wall = time.perf_counter() - start

    print(f"\nmulti-class {args.model} vs one {args.model} per class (baseline), synthetic street: {args.images} "
          f"images (data seed {args.seed}); train {counts['train']['car']} cars / {counts['train']['bicycle']} "
          f"bicycles, val {counts['val']['car']} / {counts['val']['bicycle']}; {args.iters} iterations of batch 32 "
          f"at {size}x{size} each (the multi-class model {multi_iters}); training seeds {args.train_seeds}; "
          f"wall {wall:.0f} s")
    for seed in seeds:
        print(f"training seed {seed}: " + " / ".join(f"{train_s[seed, n]:.0f}" for n in ("multi", *CLASSES))
              + " s (multi / car / bicycle)")
    print("\n| class | metric | seed | multi-class | single-class (baseline) | multi - single |")
    print("| --- | --- | --- | --- | --- | --- |")
    verdicts = []
    for name in CLASSES:
        for label, mkey, skey in (("PCK@0.05", f"{name}/PCK", "PCK"), ("COCO AP", f"coco/{name}/AP", "coco/AP")):
            pairs = []
            for seed in seeds:
                m, s = metrics[seed, "multi"].get(mkey), metrics[seed, name].get(skey)
                if m is None or s is None:
                    sys.exit(f"missing metric {mkey!r} or {skey!r}: got {sorted(metrics[seed, 'multi'])} / "
                             f"{sorted(metrics[seed, name])}")
                pairs.append((m, s))
                print(f"| {name} | {label} | {seed} | {m:.4f} | {s:.4f} | {m - s:+.4f} |")
            m, s = statistics.mean(p[0] for p in pairs), statistics.mean(p[1] for p in pairs)
            ok = "met" if m >= s - 0.02 else "not met"
            verdicts.append(f"| {name} | {label} | {m:.4f} | {s:.4f} | {m - s:+.4f} | >= -0.02: {ok} |")
    print(f"\nmean over {len(seeds)} training seed(s):\n")
    print("| class | metric | multi-class | single-class (baseline) | multi - single | goal |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(verdicts))
    print("\ninference, torch forward (backbone, neck, head; no flip, decoding or NMS), 1 thread, median of "
          f"{args.repeats} rounds:\n")
    print("| image | multi-class, one call | single-class models (baseline) | ratio | goal <= 0.6x |")
    print("| --- | --- | --- | --- | --- |")
    rows = [("2 cars + 2 bicycles", cost[0], "car model on 2 + bicycle model on 2", cost[1]),
            ("1 car + 1 bicycle", cost[2], "car model on 1 + bicycle model on 1", cost[3]),
            ("4 boxes without classes", cost[0], "each model on all 4", cost[4]),
            ("whole image, 2 cars + 2 bicycles: a two-class RTMDet-tiny + the multi-class model", cost[5],
             "per class a one-class RTMDet-tiny + its model", cost[6])]
    for image, m, base, s in rows:
        print(f"| {image} | {m * 1e3:.1f} ms | {base}: {s * 1e3:.1f} ms | {m / s:.2f}x | "
              f"{'met' if m / s <= 0.6 else 'not met'} |")


if __name__ == "__main__":
    main()
