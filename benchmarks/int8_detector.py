"""int8 against fp32 for a *trained* car detector: box AP on the validation split and images per second, side by
side. The baseline is the fp32 export (`mmpx export onnx`, whose boxes equal mmdet's: tests/mmpx/runtime/
test_det_export.py); the torch model's own validation mAP is printed beside it.

What it runs, each the real command from a folder of its own: `mmpx data synth carpose` + `mmpx convert labelme`
(the carpose synthetic cars), `mmpx train rtmdet-tiny_carpose-cpu` for --epochs, `mmpx export onnx` of the best
checkpoint, `mmpx export int8` calibrated on the training images; then both ONNX models (mmpx.runtime.det's
OnnxDetector, the detector `mmpx infer --det-weights` runs) on every validation image, scored by pycocotools'
COCOeval. A --work-dir that already holds a trained run skips to the export.

    python benchmarks/int8_detector.py [--work-dir DIR] [--images 400] [--epochs 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detector_cpu import make_data, mmpx  # noqa: E402  (the same data and subprocess runner)


def trained(cwd: Path, epochs: int, images: int) -> tuple[Path, Path, list[dict]]:
    """The run in ``cwd/det`` (trained now if absent): its config, best checkpoint and validation rows."""
    work = cwd / "det"
    if not list(work.glob("best_coco_bbox_mAP_epoch_*.pth")):
        if not (cwd / "data" / "carpose" / "annotations" / "val.json").is_file():
            make_data(cwd, images)
        interval = max(1, epochs // 3)
        mmpx("train", "rtmdet-tiny_carpose-cpu", "--work-dir", "det", "--no-progress", "--cfg-options",
             f"train_cfg.max_epochs={epochs}", f"train_cfg.val_interval={interval}",
             "default_hooks.checkpoint.save_best=coco/bbox_mAP", "default_hooks.checkpoint.rule=greater", cwd=cwd)
    best = sorted(work.glob("best_coco_bbox_mAP_epoch_*.pth"), key=lambda p: p.stat().st_mtime)[-1]
    scalars = sorted(work.glob("2*/vis_data/scalars.json"))[-1]
    rows = [json.loads(line) for line in scalars.read_text().splitlines() if "coco/bbox_mAP" in line]
    return work / "rtmdet-tiny_carpose-cpu.py", best, rows


def box_ap(onnx_path: Path, data: Path, threads: int) -> tuple[dict, float]:
    """COCO box AP of the ONNX detector on ``data``'s validation split, and its images per second."""
    import cv2
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from mmpx.runtime.det import OnnxDetector

    detector = OnnxDetector(onnx_path, threads=threads)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(data / "annotations" / "val.json"))
    results, seconds = [], 0.0
    for image_id in gt.getImgIds():
        image = cv2.imread(str(data / "images" / gt.imgs[image_id]["file_name"]))
        start = time.perf_counter()
        boxes, scores, _ = detector(image)
        seconds += time.perf_counter() - start
        for (x1, y1, x2, y2), score in zip(boxes.tolist(), scores.tolist(), strict=True):
            results.append(dict(image_id=image_id, category_id=gt.getCatIds()[0], score=score,
                                bbox=[x1, y1, x2 - x1, y2 - y1]))
    if not results:  # pycocotools cannot load an empty result list
        return dict(AP=0.0, AP50=0.0, AP75=0.0, boxes=0), len(gt.getImgIds()) / max(seconds, 1e-9)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' progress lines
        evaluation = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = evaluation.stats
    return dict(AP=float(stats[0]), AP50=float(stats[1]), AP75=float(stats[2]), boxes=len(results)), \
        len(gt.getImgIds()) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed after")
    parser.add_argument("--images", type=int, default=400, help="synthetic images (4 in 5 train)")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs (the CPU config ships 12)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calib-images", type=int, default=64, help="training images int8 calibrates on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = args.work_dir or Path(tmp)
        cwd.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        config, checkpoint, rows = trained(cwd, args.epochs, args.images)
        print(f"trained in {time.perf_counter() - start:.0f} s (0 if reused): {checkpoint.name}")
        for row in rows:
            print(f"  torch, validation at step {row['step']}: box mAP {row['coco/bbox_mAP']:.3f}")
        data = cwd / "data" / "carpose"
        fp32, int8 = cwd / "det.onnx", cwd / "det.int8.onnx"
        mmpx("export", "onnx", str(config), str(checkpoint), "--out", str(fp32), cwd=cwd)
        mmpx("export", "int8", str(fp32), "--calib-ann", str(data / "annotations" / "train.json"),
             "--calib-images", str(data / "images"), "--calib-crops", str(args.calib_images), "--out", str(int8),
             cwd=cwd)
        scores = {name: box_ap(path, data, args.threads) for name, path in (("fp32", fp32), ("int8", int8))}
        print(f"\n{'model':<6} {'AP':>6} {'AP50':>6} {'AP75':>6} {'boxes':>6} {'images/s':>9}")
        for name, (ap, speed) in scores.items():
            print(f"{name:<6} {ap['AP']:6.3f} {ap['AP50']:6.3f} {ap['AP75']:6.3f} {ap['boxes']:6d} {speed:9.2f}")
        (f32, s32), (i8, s8) = scores["fp32"], scores["int8"]
        print(f"\nint8 - fp32: AP {i8['AP'] - f32['AP']:+.3f}, AP50 {i8['AP50'] - f32['AP50']:+.3f}; "
              f"speed {s8 / s32:.2f}x fp32 (threads: {args.threads})")


if __name__ == "__main__":
    main()
