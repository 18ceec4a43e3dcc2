"""int8 against fp32 ONNX on a trained model: PCK@0.05 (bbox) on the validation split and throughput, side by
side. The baseline is the fp32 export (`mmpx export onnx`, equal to MMPose's own inference within 0.5 px).

Needs a trained quickstart run (`mmpx quickstart --work-dir WORK`): its config, best checkpoint and data. The int8
model is calibrated on the training split, measured on the validation split.

Usage: python benchmarks/int8_accuracy.py [--work-dir work_dirs/quickstart] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def pck_and_speed(model, data: Path) -> tuple[float, float]:
    """PCK@0.05 normalised by max(w, h) of the GT box over labelled keypoints, and instances per second."""
    import cv2

    ann = json.loads((data / "annotations" / "val.json").read_text())
    images = {i["id"]: i for i in ann["images"]}
    hits = total = 0
    seconds = 0.0
    for a in ann["annotations"]:
        x, y, w, h = a["bbox"]
        img = cv2.imread(str(data / "images" / images[a["image_id"]]["file_name"]))
        start = time.perf_counter()
        kpts, _ = model.predict(img, np.array([[x, y, x + w, y + h]], np.float32))
        seconds += time.perf_counter() - start
        gt = np.array(a["keypoints"], np.float32).reshape(-1, 3)
        seen = gt[:, 2] > 0
        dist = np.linalg.norm(kpts[0] - gt[:, :2], axis=1) / max(w, h)
        hits += int((dist[seen] < 0.05).sum())
        total += int(seen.sum())
    return hits / total, len(ann["annotations"]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("work_dirs/quickstart"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    report = args.work_dir / "quickstart.json"
    if not report.is_file():
        sys.exit(f"{report} not found: run `mmpx quickstart --work-dir {args.work_dir}` first")
    paths = json.loads(report.read_text())["paths"]
    data = Path(paths["data"])

    import mmpose_ext  # noqa: F401  (compatibility fixes before the export loads the checkpoint)
    from mmpose_ext.deploy.export import export_onnx
    from mmpx.runtime.ort import OnnxPoseModel
    from mmpx.runtime.quantize import quantize_onnx

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(paths["config"], paths["checkpoint"], out=Path(tmp) / "model.onnx",
                           dynamic_batch=True).onnx_path
        int8 = quantize_onnx(fp32, data / "annotations" / "train.json", data / "images")
        rows = [("fp32 ONNX (baseline)", *pck_and_speed(OnnxPoseModel(fp32, threads=args.threads), data)),
                ("int8 ONNX", *pck_and_speed(OnnxPoseModel(int8.onnx_path, threads=args.threads), data))]
    print(f"model {paths['checkpoint']}, {args.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    print(f"{'model':<22}{'PCK@0.05':>10}{'instances/s':>13}")
    for name, pck, speed in rows:
        print(f"{name:<22}{pck:>10.4f}{speed:>13.1f}")
    print(f"int8 / fp32: PCK {rows[1][1] / rows[0][1]:.4f}x, speed {rows[1][2] / rows[0][2]:.2f}x")
    a = int8.agreement
    print(f"int8 vs fp32 keypoints on the training split: mean {a['mean_px']} px, max {a['max_px']} px, "
          f"{100 * a['within_0_05_bbox']:.1f}% within 0.05 of the box size")


if __name__ == "__main__":
    main()
