"""CPU throughput of mmpx's ONNX Runtime path against its peers on the same model, side by side:
MMPose's ``inference_topdown`` (the baseline; torch eager), mmpx ``OnnxPoseModel`` (dynamic and static batch,
flip on and off) and rtmlib (when it is importable; it never flips).

RTMPose-t COCO 256x192 with seeded random weights and randomised BatchNorm statistics (speed does not depend on
the values), exported by ``mmpx export onnx`` twice (dynamic and static batch); the 4 COCO val images of
../shared/data/mmpose-testdata with their 14 GT boxes. Every runtime gets the same thread count (torch
``set_num_threads``, ONNX Runtime ``intra_op_num_threads``, rtmlib's session rebuilt with it). Rounds are
interleaved, so load changes hit every row alike; the median pass is reported.

rtmlib is fed RGB images: it normalises with MMPose's RGB statistics and never swaps channels, so BGR input (as
its README shows) moves keypoints by many pixels. Its scores follow another rule (mean of the x/y maxima); the
keypoint difference against MMPose is printed for every row.

This script installs nothing. rtmlib's own requirements pull opencv-contrib-python, which would replace the cv2
of this environment; its code needs only numpy, onnxruntime, cv2 and tqdm, which are here, so:

    .venv/bin/pip install --no-deps rtmlib==0.0.16 tqdm
    .venv/bin/python benchmarks/infer_peers.py [--threads 1] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.infer_onnx import DATA, load_samples, rtmpose_t  # noqa: E402


def one_pass(fn, samples) -> float:
    start = time.perf_counter()
    for image, boxes in samples:
        fn(image, boxes)
    return time.perf_counter() - start


def keypoints_of(fn, samples) -> np.ndarray:
    return np.concatenate([np.asarray(fn(image, boxes)[0], np.float64).reshape(len(boxes), -1, 2)
                           for image, boxes in samples])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for every runtime (default 1)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data beside the checkout")

    import torch

    import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose)

    torch.set_num_threads(args.threads)
    from mmpose.apis import inference_topdown, init_model

    from mmpose_ext.deploy.export import export_onnx
    from mmpx.runtime import OnnxPoseModel

    samples = load_samples()
    instances = sum(len(b) for _, b in samples)
    rows: dict[str, tuple] = {}  # name -> (predict function, flip)
    with tempfile.TemporaryDirectory() as tmp:
        config, ckpt = rtmpose_t(Path(tmp))
        dynamic = export_onnx(config, ckpt, out=Path(tmp) / "dyn.onnx", dynamic_batch=True).onnx_path
        static = export_onnx(config, ckpt, out=Path(tmp) / "static.onnx", dynamic_batch=False).onnx_path
        for flip in (True, False):
            model = init_model(str(config), str(ckpt), device="cpu")
            model.test_cfg["flip_test"] = flip

            def run_torch(image, boxes, _model=model):
                samples_ = inference_topdown(_model, image, boxes)
                return np.concatenate([s.pred_instances.keypoints for s in samples_]), None

            rows[f"MMPose inference_topdown, flip={'on' if flip else 'off'}"] = (run_torch, flip)
        for flip in (True, False):
            for name, path in (("dynamic", dynamic), ("static", static)):
                ort_model = OnnxPoseModel(path, threads=args.threads, flip_test=flip)
                rows[f"mmpx OnnxPoseModel, {name} batch, flip={'on' if flip else 'off'}"] = (ort_model.predict, flip)
        try:
            rows["rtmlib 0.0.16 RTMPose (RGB input; never flips)"] = (_rtmlib(static, args.threads), False)
        except ImportError as exc:
            print(f"rtmlib not importable ({exc}); its row is left out (see the docstring)")

        reference = {flip: keypoints_of(rows[f"MMPose inference_topdown, flip={'on' if flip else 'off'}"][0],
                                        samples) for flip in (True, False)}
        diffs = {name: float(np.abs(keypoints_of(fn, samples) - reference[flip]).max())
                 for name, (fn, flip) in rows.items()}
        for fn, _ in rows.values():  # warm-up
            one_pass(fn, samples)
        times: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.rounds):
            for name, (fn, _) in rows.items():
                times[name].append(one_pass(fn, samples))

    rate = {name: instances / statistics.median(t) for name, t in times.items()}
    base = rate["MMPose inference_topdown, flip=on"]
    peer = next((r for n, r in rate.items() if n.startswith("rtmlib")), None)
    print(f"RTMPose-t COCO 256x192, {len(samples)} images, {instances} instances, {args.threads} thread(s) for "
          f"every runtime, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, median of {args.rounds} "
          "interleaved passes after one warm-up")
    head = f"{'pipeline':<52}{'inst/s':>8}{'vs MMPose flip':>15}{'vs rtmlib':>10}{'max px vs MMPose':>18}"
    print(head)
    for name in rows:
        vs_peer = f"{rate[name] / peer:.2f}x" if peer else "-"
        print(f"{name:<52}{rate[name]:>8.1f}{rate[name] / base:>14.2f}x{vs_peer:>10}{diffs[name]:>18.3f}")


def _rtmlib(onnx_path: Path, threads: int):
    """rtmlib's RTMPose on the static-batch export, its ONNX Runtime session rebuilt with ``threads``."""
    import cv2
    import onnxruntime as ort
    from rtmlib import RTMPose

    tool = RTMPose(str(onnx_path), model_input_size=(192, 256), backend="onnxruntime", device="cpu")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    tool.session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])

    def predict(image_bgr, boxes):
        return tool(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), boxes.tolist())

    return predict


if __name__ == "__main__":
    main()
