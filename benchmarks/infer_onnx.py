"""CPU throughput of ``OnnxPoseModel.predict`` vs MMPose's ``inference_topdown`` (torch eager), side by side.

RTMPose-t COCO 256x192 (seeded random weights with randomised BatchNorm statistics; speed does not depend on
the values), exported with a dynamic batch; the 4 COCO val images of ../shared/data/mmpose-testdata with their
14 GT boxes; flip test as the config has it (on). Both backends get the same number of threads.

    OMP_NUM_THREADS=N .venv/bin/python benchmarks/infer_onnx.py [--threads N] [--repeat 7] [--flip/--no-flip]
        [--int8]

--int8 adds a third row: the same ONNX model quantised by `mmpx export int8` (calibrated on the crops of the same
14 boxes). Random weights say nothing about int8 accuracy; docs/guides/export.md measures that on a trained model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mmpose-testdata" / "coco"
sys.path.insert(0, str(ROOT))


def load_samples():
    import cv2

    ann = json.loads((DATA / "test_coco.json").read_text())
    samples = []
    for image in ann["images"]:
        boxes = [a["bbox"] for a in ann["annotations"] if a["image_id"] == image["id"]]
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=np.float32)
        samples.append((cv2.imread(str(DATA / image["file_name"])), xyxy))
    return samples


def rtmpose_t(folder: Path) -> tuple[Path, Path]:
    """RTMPose-t COCO 256x192: the config and a checkpoint with seeded random weights (the tests' recipe)."""
    from tests.mmpose_ext.deploy.test_export_onnx import RTMPOSE_CONFIG, make_checkpoint

    config = folder / "rtmpose-t.py"
    config.write_text(RTMPOSE_CONFIG)
    return config, make_checkpoint(config, folder / "rtmpose-t.pth")


def timed(fn, samples, warmup: int, repeat: int) -> float:
    """Median seconds for one pass over all images."""
    for _ in range(warmup):
        for image, boxes in samples:
            fn(image, boxes)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for image, boxes in samples:
            fn(image, boxes)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both (default: all cores)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="flip test")
    parser.add_argument("--int8", action="store_true", help="also time the int8-quantised model")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data beside the checkout")

    import torch

    import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose)

    torch.set_num_threads(args.threads)
    from mmpose.apis import inference_topdown, init_model

    from mmpose_ext.deploy.export import export_onnx
    from mmpx.runtime.ort import OnnxPoseModel

    samples = load_samples()
    instances = sum(len(b) for _, b in samples)
    with tempfile.TemporaryDirectory() as tmp:
        config, ckpt = rtmpose_t(Path(tmp))
        onnx_path = export_onnx(config, ckpt, dynamic_batch=True).onnx_path
        torch_model = init_model(str(config), str(ckpt), device="cpu")
        torch_model.test_cfg["flip_test"] = args.flip
        ort_model = OnnxPoseModel(onnx_path, threads=args.threads, flip_test=args.flip)

        def run_torch(image, boxes):
            return inference_topdown(torch_model, image, boxes)

        t_torch = timed(run_torch, samples, args.warmup, args.repeat)
        t_ort = timed(ort_model.predict, samples, args.warmup, args.repeat)
        rows = [("mmpose inference_topdown (torch)", t_torch), ("OnnxPoseModel.predict (ORT)", t_ort)]
        if args.int8:
            from mmpx.runtime.quantize import quantize_onnx

            coco = DATA / "test_coco.json"
            int8_path = quantize_onnx(onnx_path, coco, DATA, calib_crops=instances).onnx_path
            int8_model = OnnxPoseModel(int8_path, threads=args.threads, flip_test=args.flip)
            rows.append(("OnnxPoseModel.predict (ORT, int8)", timed(int8_model.predict, samples, args.warmup,
                                                                   args.repeat)))

    load = os.getloadavg()[0]
    print(f"RTMPose-t COCO 256x192, {len(samples)} images, {instances} instances, flip_test={args.flip}, "
          f"threads={args.threads} for both (torch.set_num_threads, ORT intra_op_num_threads), "
          f"{os.cpu_count()} cores, load average {load:.2f}, median of {args.repeat} passes after {args.warmup} "
          "warm-up")
    print(f"{'backend':<36}{'instances/s':>12}{'images/s':>10}{'ms/image':>10}")
    for name, t in rows:
        print(f"{name:<36}{instances / t:>12.1f}{len(samples) / t:>10.2f}{1000 * t / len(samples):>10.1f}")
    for name, t in rows[1:]:
        print(f"speed-up of {name} over torch: {t_torch / t:.2f}x")


if __name__ == "__main__":
    main()
