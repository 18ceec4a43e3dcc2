"""Top-down (RTMDet + RTMPose) against one-stage (RTMO) on synthetic car scenes: images/s as the number of cars per
image grows, and keypoint AP of each after training for the same CPU time.

Speed (``--counts``, default 1, 5 and 20 cars per image; ``--images`` scenes of each, ``--size`` 640x640):

- (a) mmpx's all-ONNX Runtime top-down pipeline, fp32: the carpose RTMDet-tiny (640x640) exported by
  ``mmpx export onnx`` and run by ``OnnxBoxes``, then the carpose RTMPose-t (256x256, flip off) on every box
  (``OnnxPoseModel.predict``, one batch per image);
- (b) the carpose RTMO-t (640x640) exported the same way and run by ``OnnxOneStage``.

Both at the same ONNX Runtime thread count (``--threads``, default 1 and 2). Seeded random weights (speed does not
depend on the values), with the score and box layers set so that the work per image is a trained model's on a scene
of N cars: the detector's coarsest level gives each of its 400 priors a distinct score around 0.5 and a box one
stride wide (no two overlap, so its own NMS keeps its ``max_per_img``, 300), RTMO's score layer gives every anchor a
distinct score around 0.5 and one-stride boxes. Each image's score threshold is then set just under its N-th best
score, so (a) poses N boxes and (b) keeps N instances (after (b)'s own NMS, which drops none of these): the counts
are printed per row. The scenes are drawn here with exactly N cars (``mmpx.synth``'s car renderer; the cars shrink
as N grows). Rounds are interleaved (every count and row once per round), the median pass is reported, the load
average is printed before and after. The crossover is where (b) becomes faster: from the measured rows, and from a
line through (a)'s cost per image (detector + N poses) against (b)'s constant cost.

Accuracy (``--budget-s``): ``mmpx data synth carpose --max-cars 5`` scenes (``--train-images``, ``--scene-size``),
converted by ``mmpx convert labelme``; (a) the carpose RTMDet CPU config (``rtmdet-tiny_carpose-cpu.py``, 320x320)
and an RTMPose-t config from ``mmpx configs new`` share the budget (``--det-share`` of it for the detector), (b) an
RTMO-t config from ``mmpx configs new --input-size 320`` gets all of it. Each trains in this process with
mmengine's Runner and the config's own schedule until its share of the budget is spent (counted from its first
iteration: building the runner is not counted; the last iteration is finished), then is exported to ONNX and run
on the same val images: (a) top-down on the detector's boxes (score above 0.05, the detector's own NMS, instance
score = box score x mean keypoint score), (b) RTMO with its config's thresholds (with MMPose's
``inference_bottomup`` when the export's check against torch refuses the trained model: the row says so).
COCO keypoint AP by ``mmpx eval`` (the carpose OKS sigmas). The default budget is a smoke run (the whole default
run takes about 11 minutes on 2 cores); the models are far from trained at that budget and the figure that
decides the comparison needs a budget of hours.

    .venv/bin/python benchmarks/one_stage.py [--threads 1 2] [--rounds 5] [--budget-s 150] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = ROOT / "configs" / "carpose"
DET_CONFIG = CONFIGS / "rtmdet-tiny_carpose.py"
DET_CPU_CONFIG = CONFIGS / "rtmdet-tiny_carpose-cpu.py"
POSE_CONFIG = CONFIGS / "rtmpose-t_carpose-256x256.py"
RTMO_CONFIG = CONFIGS / "rtmo-t_carpose.py"
METAINFO = "mmpose_ext::datasets/metainfo/carpose.py"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


# ---------------------------------------------------------------------------------------------------- scenes
def scene(rng: np.random.Generator, size: int, cars: int) -> np.ndarray:
    """A ``size`` x ``size`` BGR scene with exactly ``cars`` cars (``mmpx.synth.carpose``'s renderer; the cars are
    smaller the more there are, and may overlap)."""
    from mmpx.synth._scene import background
    from mmpx.synth.carpose import place_car

    img = background(rng, size)
    layer = np.zeros((size, size), np.uint8)
    widths = np.sort(rng.uniform(0.45, 0.9, cars) * min(0.9, 1.4 / np.sqrt(cars)))  # far (small) cars first
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), 1.5])
    light /= np.linalg.norm(light)
    for lid, width in enumerate(widths, start=1):
        place_car(rng, img, layer, width, light, lid, margin=0.15)
    return img


# ---------------------------------------------------------------------------------------------------- speed
def random_models(tmp: Path, images: list[np.ndarray]) -> tuple[Path, Path, Path]:
    """The three carpose models with seeded random weights, their score and box layers set (see the module
    docstring), exported to ONNX: detector, pose model, RTMO."""
    import torch
    from mmdet.apis import init_detector

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy import export_detector_onnx
    from mmpose_ext.deploy.export import export_onnx
    from tests.mmpose_ext.deploy.test_export_onnx import make_checkpoint
    from tests.mmpose_ext.deploy.test_rtmo_export import calibrated_model

    torch.manual_seed(0)
    det = init_detector(load_config(str(DET_CONFIG)), None, device="cpu")
    with torch.no_grad():
        for level, conv in enumerate(det.bbox_head.rtm_cls):
            conv.weight.zero_(), conv.bias.fill_(-20.0)
            if level == len(det.bbox_head.rtm_cls) - 1:  # the coarsest level: scores around 0.5, distinct
                conv.weight[0].normal_(0.0, 50.0)
                conv.bias[0] = 0.0
        for conv in det.bbox_head.rtm_reg:  # each box one stride wide: neighbours touch, NMS drops none
            conv.weight.zero_(), conv.bias.fill_(0.5)
    torch.save({"state_dict": det.state_dict()}, tmp / "det.pth")
    det_onnx = export_detector_onnx(str(DET_CONFIG), tmp / "det.pth", out=tmp / "det.onnx").onnx_path

    pose_onnx = export_onnx(str(POSE_CONFIG), make_checkpoint(POSE_CONFIG, tmp / "pose.pth"),
                            out=tmp / "pose.onnx", dynamic_batch=True).onnx_path

    rtmo = calibrated_model(RTMO_CONFIG, images)  # batch-norm statistics from the scenes (the tests' recipe)
    with torch.no_grad():
        for conv in rtmo.head.head_module.out_cls:  # every anchor a distinct score around 0.5
            conv.weight.mul_(0.05), conv.bias.fill_(0.0)
        for conv in rtmo.head.head_module.out_bbox:  # (dx, dy, log w, log h) = 0: one-stride boxes
            conv.weight.zero_(), conv.bias.fill_(0.0)
    torch.save({"state_dict": rtmo.state_dict(), "meta": {"dataset_meta": rtmo.dataset_meta}}, tmp / "rtmo.pth")
    rtmo_onnx = export_onnx(str(RTMO_CONFIG), tmp / "rtmo.pth", out=tmp / "rtmo.onnx", dynamic_batch=True).onnx_path
    return Path(det_onnx), Path(pose_onnx), Path(rtmo_onnx)


def just_under(scores: np.ndarray, n: int) -> float:
    """A threshold that keeps the ``n`` best of ``scores`` (``score > thr``)."""
    ranked = np.sort(scores)[::-1]
    return float(ranked[n]) if len(ranked) > n else 0.0


def top_down_row(det, pose):
    """(a): the detector, its boxes above the image's threshold, the pose model on them."""

    def image(img, n):
        boxes, scores, labels = det.detector(img)
        det.bbox_thr = just_under(scores[np.isin(labels, det.cat_ids)], n)
        found, _ = det._filter(boxes, scores, labels)
        pose.predict(img, found)
        return len(found)

    return image


def one_stage_row(rtmo):
    """(b): ``OnnxOneStage.predict`` with the image's threshold set from the graph's (sorted) scores."""
    from mmpx.runtime.one_stage import OUTPUTS

    def image(img, n):
        chw, center, scale = rtmo.preprocess(img)
        outs = rtmo.session.run(list(OUTPUTS[:4]), {rtmo.input_name: chw[None]})
        rtmo.score_thr = just_under(outs[1][0], n)
        return len(rtmo.postprocess(*(o[0] for o in outs), center, scale))

    return image


def speed(args, tmp: Path) -> None:
    from mmpx.runtime import OnnxPoseModel
    from mmpx.runtime.det import OnnxBoxes
    from mmpx.runtime.one_stage import OnnxOneStage

    rng = np.random.default_rng(0)
    scenes = {n: [scene(rng, args.size, n) for _ in range(args.images)] for n in args.counts}
    det_onnx, pose_onnx, rtmo_onnx = random_models(tmp, [im for n in args.counts for im in scenes[n]])
    print(f"speed: {load()} (before)")
    rows = {}
    for t in args.threads:
        det = OnnxBoxes(det_onnx, bbox_thr=0.0, nms_thr=1.0, threads=t)
        pose = OnnxPoseModel(pose_onnx, threads=t, flip_test=False)
        rtmo = OnnxOneStage(rtmo_onnx, threads=t)
        rows[t, "a"] = top_down_row(det, pose)
        rows[t, "b"] = one_stage_row(rtmo)
    times = {(key, n): [] for key in rows for n in args.counts}
    kept = {}
    for round_ in range(args.rounds + 1):  # the first round warms up
        for n in args.counts:
            for key, fn in rows.items():
                start = time.perf_counter()
                counts = [fn(img, n) for img in scenes[n]]
                seconds = time.perf_counter() - start
                kept[key, n] = statistics.mean(counts)
                if round_:
                    times[key, n].append(seconds)
    print(f"speed: {load()} (after)")
    rate = {k: args.images / statistics.median(v) for k, v in times.items()}
    names = {"a": "(a) RTMDet-tiny + RTMPose-t, ORT fp32", "b": "(b) RTMO-t, ORT fp32 (OnnxOneStage)"}
    print(f"\n{args.size}x{args.size} scenes, {args.images} per count, median of {args.rounds} interleaved passes "
          "after a warm-up; instances = boxes posed (a) or instances kept (b) per image")
    print(f"{'threads':>7}  {'pipeline':<40}" + "".join(f"{f'{n} cars img/s':>15}{'inst':>6}" for n in args.counts))
    for t in args.threads:
        for r in "ab":
            cells = "".join(f"{rate[(t, r), n]:>15.2f}{kept[(t, r), n]:>6.1f}" for n in args.counts)
            print(f"{t:>7}  {names[r]:<40}{cells}")
        cells = "".join(f"{rate[(t, 'b'), n] / rate[(t, 'a'), n]:>14.2f}x{'':>6}" for n in args.counts)
        print(f"{t:>7}  {'(b) vs (a)':<40}{cells}")
    print()
    for t in args.threads:
        per_a = {n: 1 / rate[(t, "a"), n] for n in args.counts}
        per_b = statistics.median(1 / rate[(t, "b"), n] for n in args.counts)
        lo, hi = min(args.counts), max(args.counts)
        slope = (per_a[hi] - per_a[lo]) / (hi - lo)  # seconds per extra instance of (a)
        base = per_a[lo] - slope * lo  # (a) with no instance: the detector
        measured = next((n for n in args.counts if rate[(t, "b"), n] > rate[(t, "a"), n]), None)
        fitted = (per_b - base) / slope if slope > 0 else float("inf")
        print(f"{t} thread(s): (a) costs {base * 1e3:.1f} ms per image + {slope * 1e3:.2f} ms per instance, (b) "
              f"{per_b * 1e3:.1f} ms per image whatever the count; crossover: (b) faster from "
              f"{max(fitted, 0):.1f} instances per image (line), first measured count where (b) is faster: "
              f"{measured if measured is not None else f'none up to {hi}'}")


# ---------------------------------------------------------------------------------------------------- accuracy
class BudgetSpent(Exception):
    """Raised by :class:`Budget` to end training mid-epoch."""


def budget_hook(seconds: float, log: dict):
    from mmengine.hooks import Hook

    class Budget(Hook):
        """Stops training after the iteration that spends ``seconds`` (counted from the first iteration)."""

        priority = "LOWEST"

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            log.setdefault("start", time.perf_counter())

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            log["iters"] = runner.iter + 1
            log["seconds"] = time.perf_counter() - log["start"]
            if log["seconds"] >= seconds:
                raise BudgetSpent

    return Budget()


def train_for(config: Path, work_dir: Path, seconds: float) -> tuple[Path, dict]:
    """Train ``config`` with mmengine's Runner until ``seconds`` are spent; the checkpoint (EMA weights when the
    config keeps an EMA, as MMPose tests them) and what was done."""
    from mmengine.runner import Runner

    from mmpose_ext.config import load_config

    cfg = load_config(str(config))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.val_interval = 10**9  # no validation inside the budget
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=10**9, save_best=None, save_last=False)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=10**9)
    cfg.visualizer = dict(type="mmengine.Visualizer", vis_backends=[dict(type="LocalVisBackend")])
    cfg.log_level = "WARNING"
    runner = Runner.from_cfg(cfg)
    log: dict = {}
    runner.register_hook(budget_hook(seconds, log))
    try:
        runner.train()
    except BudgetSpent:
        pass
    runner.save_checkpoint(str(work_dir), "budget.pth", save_optimizer=False, save_param_scheduler=False)
    log["batch"] = cfg.train_dataloader.batch_size
    return work_dir / "budget.pth", log


def make_data(tmp: Path, args) -> Path:
    data = tmp / "data"
    mmpx = [sys.executable, "-m", "mmpx"]
    steps = [
        [*mmpx, "data", "synth", "carpose", str(tmp / "scenes"), "-n", str(args.train_images + args.val_images),
         "--size", str(args.scene_size), "--max-cars", "5", "--seed", "1"],
        [*mmpx, "convert", "labelme", str(tmp / "scenes"), str(data), "--metainfo", METAINFO, "--category", "car",
         "--images", "copy", "--val-ratio", f"{args.val_images / (args.train_images + args.val_images):.4f}"],
        [*mmpx, "configs", "new", "--data", str(data), "--model", "rtmpose-t", "--out", str(tmp / "pose.py")],
        [*mmpx, "configs", "new", "--data", str(data), "--model", "rtmo-t", "--input-size", str(args.rtmo_size),
         "--out", str(tmp / "rtmo.py")],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if done.returncode:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    (tmp / "det.py").write_text(
        f"_base_ = [{str(DET_CPU_CONFIG)!r}]\n"
        f"data_root = {str(data) + '/'!r}\n"
        "train_dataloader = dict(dataset=dict(data_root=data_root))\n"
        "val_dataloader = dict(dataset=dict(data_root=data_root))\n"
        "test_dataloader = val_dataloader\n"
        "val_evaluator = dict(ann_file=data_root + 'annotations/val.json')\n"
        "test_evaluator = val_evaluator\n")
    return data


def predictions(data: Path, image_fn) -> list[dict]:
    """COCO keypoint results of ``image_fn(img) -> (keypoints (N, K, 2), keypoint scores (N, K), scores (N,))`` on
    the val images."""
    import cv2

    gt = json.loads((data / "annotations" / "val.json").read_text())
    cat = gt["categories"][0]["id"]
    out = []
    for record in gt["images"]:
        img = cv2.imread(str(data / "images" / record["file_name"]))
        kpts, kscores, scores = image_fn(img)
        for xy, ks, s in zip(kpts, kscores, scores, strict=True):
            flat = np.concatenate([xy, ks[:, None]], axis=1).ravel()
            out.append(dict(image_id=record["id"], category_id=cat, keypoints=[float(v) for v in flat],
                            score=float(s)))
    return out


def ap_of(data: Path, results: list[dict], tmp: Path, name: str) -> dict:
    from mmpx.evaluation.api import evaluate

    if not results:
        return {"AP": 0.0, "AP .5": 0.0, "instances": 0}
    path = tmp / f"{name}.keypoints.json"
    path.write_text(json.dumps(results))
    metrics = evaluate(data / "annotations" / "val.json", path, data / "metainfo.py")["metrics"]
    return {"AP": metrics["AP"], "AP .5": metrics["AP .5"], "instances": len(results)}


class TorchOneStage:
    """RTMO through MMPose's ``inference_bottomup``: the fallback when the ONNX export refuses the model."""

    def __init__(self, config: Path, checkpoint: Path):
        from mmpose.apis import init_model

        self.model = init_model(str(config), str(checkpoint), device="cpu")

    def predict(self, img):
        from types import SimpleNamespace

        from mmpose.apis import inference_bottomup

        found = inference_bottomup(self.model, img)[0].pred_instances
        return SimpleNamespace(keypoints=found.keypoints, keypoint_scores=found.keypoint_scores,
                               scores=found.bbox_scores)


def accuracy(args, tmp: Path) -> None:
    import torch

    from mmpose_ext.deploy import export_detector_onnx
    from mmpose_ext.deploy.export import export_onnx
    from mmpx.errors import MmpxError
    from mmpx.runtime import OnnxPoseModel
    from mmpx.runtime.det import OnnxBoxes
    from mmpx.runtime.one_stage import OnnxOneStage

    torch.set_num_threads(args.train_threads)
    data = make_data(tmp, args)
    print(f"\naccuracy: {load()} (before training)")
    det_s, pose_s = args.budget_s * args.det_share, args.budget_s * (1 - args.det_share)
    det_ckpt, det_log = train_for(tmp / "det.py", tmp / "work_det", det_s)
    pose_ckpt, pose_log = train_for(tmp / "pose.py", tmp / "work_pose", pose_s)
    rtmo_ckpt, rtmo_log = train_for(tmp / "rtmo.py", tmp / "work_rtmo", args.budget_s)
    print(f"accuracy: {load()} (after training)")
    det = OnnxBoxes(export_detector_onnx(tmp / "det.py", det_ckpt, out=tmp / "det.onnx").onnx_path,
                    bbox_thr=0.05, nms_thr=1.0, threads=args.train_threads)
    pose = OnnxPoseModel(export_onnx(tmp / "pose.py", pose_ckpt, out=tmp / "pose.onnx").onnx_path,
                         threads=args.train_threads, flip_test=False)
    rtmo_note = ""
    try:
        rtmo = OnnxOneStage(export_onnx(tmp / "rtmo.py", rtmo_ckpt, out=tmp / "rtmo.onnx").onnx_path,
                            threads=args.train_threads)
    except MmpxError as exc:  # the export's check against torch refused the model: score it with torch instead
        rtmo, rtmo_note = TorchOneStage(tmp / "rtmo.py", rtmo_ckpt), f" (torch: the ONNX export failed: {exc})"
    def top_down(img):
        boxes, scores = det(img)
        kpts, kscores = pose.predict(img, boxes) if len(boxes) else (np.zeros((0, 8, 2)), np.zeros((0, 8)))
        return kpts, kscores, scores * (kscores.mean(axis=1) if len(boxes) else 1)

    def one_stage(img):
        p = rtmo.predict(img)
        return p.keypoints, p.keypoint_scores, p.scores

    rows = {"(a) RTMDet-tiny CPU + RTMPose-t, top-down on detected boxes": (top_down, [det_log, pose_log]),
            "(b) RTMO-t" + rtmo_note: (one_stage, [rtmo_log])}
    gt = json.loads((data / "annotations" / "val.json").read_text())
    train = json.loads((data / "annotations" / "train.json").read_text())
    print(f"\n{len(train['images'])} train images ({len(train['annotations'])} cars), {len(gt['images'])} val images "
          f"({len(gt['annotations'])} cars), {args.scene_size}x{args.scene_size}, up to 5 cars each; budget "
          f"{args.budget_s:.0f} s of training per pipeline ((a): {args.det_share:.0%} detector), "
          f"{args.train_threads} torch thread(s)")
    print(f"{'pipeline':<62}{'AP':>7}{'AP .5':>7}{'results':>8}  trained")
    for name, (fn, logs) in rows.items():
        scores = ap_of(data, predictions(data, fn), tmp, name[1])
        done = ", ".join(f"{log.get('iters', 0)} steps x {log['batch']} in {log.get('seconds', 0):.0f} s"
                         for log in logs)
        print(f"{name:<62}{scores['AP']:>7.3f}{scores['AP .5']:>7.3f}{scores['instances']:>8}  {done}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="ONNX Runtime threads (speed)")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 20], help="cars per scene (speed)")
    parser.add_argument("--images", type=int, default=4, help="scenes of each count (speed)")
    parser.add_argument("--size", type=int, default=640, help="scene side in pixels (speed)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed passes (median reported)")
    parser.add_argument("--budget-s", type=float, default=150.0,
                        help="training seconds per pipeline (accuracy); the default is a smoke run")
    parser.add_argument("--det-share", type=float, default=0.5, help="share of (a)'s budget for the detector")
    parser.add_argument("--train-images", type=int, default=96, help="synthetic training scenes (accuracy)")
    parser.add_argument("--val-images", type=int, default=32, help="synthetic val scenes (accuracy)")
    parser.add_argument("--scene-size", type=int, default=320, help="side of the training scenes (accuracy)")
    parser.add_argument("--rtmo-size", type=int, default=320, help="RTMO input side (accuracy)")
    parser.add_argument("--train-threads", type=int, default=2, help="torch threads for training (accuracy)")
    parser.add_argument("--skip-speed", action="store_true", help="only the accuracy part")
    parser.add_argument("--skip-accuracy", action="store_true", help="only the speed part")
    args = parser.parse_args()

    import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose and mmdet)

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if not args.skip_speed:
            (tmp / "speed").mkdir()
            speed(args, tmp / "speed")
        if not args.skip_accuracy:
            (tmp / "acc").mkdir()
            accuracy(args, tmp / "acc")


if __name__ == "__main__":
    main()
