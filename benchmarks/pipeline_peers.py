"""The whole top-down pipeline (detector + pose model) on the CPU, mmpx against its peers, side by side: images/s
on MMPose's 4 COCO test images and frames/s on the synthetic traffic clip with every frame detected.

Rows (every runtime gets the same thread count: torch ``set_num_threads``, ONNX Runtime ``intra_op_num_threads``;
flip test off everywhere, since rtmlib never flips):

- (a) MMPose's top-down demo path: mmdet ``inference_detector``, the demo's class/score filter and NMS, then
  mmpose ``inference_topdown`` (``demo/topdown_demo_with_mmdet.py``'s ``process_one_image`` without drawing);
- (b) mmpx with the torch detector (``--det-config``: ``MMDetDetector``) and the ONNX Runtime pose model;
- (c) mmpx all on ONNX Runtime, fp32 (``--det-weights det.onnx --weights pose.onnx``);
- (d) the same with the pose model quantised by ``mmpx export int8`` (calibrated on the crops of the COCO images);
- (d2) the same with the detector quantised too (``mmpx export int8 det.onnx``, calibrated on the COCO images);
- (c') and (d2') as (c) and (d2) with the detector exported ``--dynamic-size``: each image padded to a multiple of
  32 after the resize (a 640x480 frame runs at 640x480), not to 640x640; its int8 copy is calibrated on the COCO
  images at their own padded sizes;
- (e) rtmlib 0.0.16's ``RTMDet`` + ``RTMPose`` on the same weights. Its ``RTMDet`` cannot take mmpx's detector
  export (outputs ``scores`` (1, P, 80) + ``distances`` (1, P, 4), decoded in numpy): it reads the first output
  as an mmdeploy end-to-end ``dets`` (1, K, 5) or a YOLOX (cx, cy, w, h, obj, cls...) tensor, so fed ours it
  would decode the scores as boxes. It is fed here mmpx's export with the decoding and NMS appended in the graph
  (:func:`end2end`: the priors' box decoding clamped to the input, class 0's scores above 0.3, ONNX
  ``NonMaxSuppression`` at the detector's IoU and then at the demo's 0.3), the layout mmdeploy gives it; its
  ``RTMPose`` the static-batch pose export, RGB input.

On video the mmpx rows run ``sequence_poses`` as ``mmpx infer`` does (pose crops of 4 frames in one batch; the
all-ORT rows also detect those 4 frames in one ONNX Runtime run); (a) and (e) go frame by frame as their demos do. The
frames are decoded beforehand, so decoding costs no row anything. Rounds are interleaved, so load changes hit every
row alike; the median pass is reported.

Models: mmdet's RTMDet-tiny COCO config and RTMPose-t COCO 256x192 (as benchmarks/infer_peers.py builds it), seeded
random weights (speed does not depend on the values). Random detector weights give no boxes, so the detector's
last convolutions are set (as benchmarks/video.py does): person scores around 0.5 on the coarsest level (400
priors at 640x640; small random weights make them distinct), none elsewhere, boxes ``--reg-bias`` strides wide,
so that each image keeps a few boxes and post-processing costs what a trained detector's does. The boxes per
pass are printed for every row: the rows do the same work when they agree.

Start-up: ``mmpx infer IMAGE --backend onnxruntime --weights pose.onnx --det-weights det.onnx --save-json``
against a bare script that loads both ONNX Runtime sessions, runs the detector, takes its best person boxes,
runs the pose model on their crops and writes JSON (medians of ``--startup-runs`` interleaved runs).

This script installs nothing. rtmlib's own requirements pull opencv-contrib-python, which would replace the cv2 of
this environment; its code needs only numpy, onnxruntime, cv2 and tqdm, so (as benchmarks/infer_peers.py):

    .venv/bin/pip install --no-deps rtmlib==0.0.16 tqdm
    .venv/bin/python benchmarks/pipeline_peers.py [--threads 1] [--rounds 5] [--frames 24]
"""

from __future__ import annotations

import argparse
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

from benchmarks.infer_onnx import DATA, rtmpose_t  # noqa: E402

DET_CONFIG = "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py"
BBOX_THR, NMS_THR = 0.3, 0.3  # MMPose's demo defaults, for every row

BARE = r'''
import json, sys
import cv2, numpy as np, onnxruntime as ort
det_path, pose_path, image_path, out = sys.argv[1:5]
img = cv2.imread(image_path)
det = ort.InferenceSession(det_path, providers=["CPUExecutionProvider"])
pose = ort.InferenceSession(pose_path, providers=["CPUExecutionProvider"])
ratio = min(640 / img.shape[0], 640 / img.shape[1])
pad = np.full((640, 640, 3), 114, np.uint8)
small = cv2.resize(img, (int(img.shape[1] * ratio), int(img.shape[0] * ratio)))
pad[:small.shape[0], :small.shape[1]] = small
x = ((pad - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]).transpose(2, 0, 1)[None].astype(np.float32)
scores, dist = det.run(None, {"input": x})
points = np.concatenate([np.stack([np.mgrid[0:n, 0:n][1].ravel(), np.mgrid[0:n, 0:n][0].ravel()], 1) * s
                         for n, s in ((80, 8), (40, 16), (20, 32))]).astype(np.float32)
best = np.argsort(-scores[0, :, 0])[:5]
boxes = np.concatenate([points[best] - dist[0, best, :2], points[best] + dist[0, best, 2:]], 1) / ratio
records = []
h, w = img.shape[:2]
for x1, y1, x2, y2 in np.clip(boxes, 0, [w - 2, h - 2, w, h]).astype(int):
    crop = cv2.resize(img[y1:max(y2, y1 + 2), x1:max(x2, x1 + 2)], (192, 256))
    c = ((crop[:, :, ::-1] - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]).transpose(2, 0, 1)[None]
    sx, sy = pose.run(None, {"input": c.astype(np.float32)})
    records.append([[float(a), float(b)] for a, b in zip(sx[0].argmax(-1) / 2.0, sy[0].argmax(-1) / 2.0)])
json.dump(records, open(out, "w"))
'''


def build_detector(tmp: Path, reg_bias: float) -> tuple[Path, Path]:
    """RTMDet-tiny COCO with seeded random weights, its head set to constants; the checkpoint and its ONNX export."""
    import torch
    from mmdet.apis import init_detector

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy import export_detector_onnx

    torch.manual_seed(0)
    det = init_detector(load_config(DET_CONFIG), None, device="cpu")
    with torch.no_grad():
        for level, conv in enumerate(det.bbox_head.rtm_cls):
            conv.weight.zero_(), conv.bias.fill_(-20.0)
            if level == len(det.bbox_head.rtm_cls) - 1:  # person on the coarsest level: scores around 0.5,
                conv.weight[0].normal_(0.0, 0.05)  # distinct (equal ones would leave NMS's choice to tie order)
                conv.bias[0] = 0.0
        for conv in det.bbox_head.rtm_reg:
            conv.weight.zero_(), conv.bias.fill_(reg_bias)
    ckpt = tmp / "det.pth"
    torch.save({"state_dict": det.state_dict()}, ckpt)
    return ckpt, export_detector_onnx(DET_CONFIG, ckpt, out=tmp / "det.onnx").onnx_path


def end2end(det_onnx: Path, out: Path, keep: int = 100) -> Path:
    """mmpx's detector export with its decoding and NMS appended in the graph, as rtmlib's ``RTMDet`` reads an
    mmdeploy export: one output ``dets`` (1, K, 5) of x1, y1, x2, y2, score in input pixels, class 0 only. The
    boxes the mmpx rows keep: scores above ``BBOX_THR``, the detector's own NMS (its sidecar's IoU), then the
    demo's (``NMS_THR``), both as ONNX ``NonMaxSuppression``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from mmpx.runtime.det import OnnxDetector, grid_priors

    info = OnnxDetector(det_onnx)
    w, h = info.input_size
    priors, _ = grid_priors(w, h, info.strides)
    model = onnx.load(str(det_onnx))
    g = model.graph
    consts = {"priors": priors.astype(np.float32), "zero": np.array([0], np.int64), "one": np.array([1], np.int64),
              "two": np.array([2], np.int64), "three": np.array([3], np.int64), "four": np.array([4], np.int64),
              "scores_shape": np.array([1, 1, -1], np.int64),
              "lo": np.array(0, np.float32), "hi": np.array(max(w, h), np.float32), "keep": np.array([keep], np.int64),
              "iou1": np.array([info.iou_threshold], np.float32), "iou2": np.array([NMS_THR], np.float32),
              "score": np.array([BBOX_THR], np.float32)}
    g.initializer.extend(numpy_helper.from_array(v, f"e2e_{k}") for k, v in consts.items())
    c = {k: f"e2e_{k}" for k in consts}
    node = helper.make_node
    g.node.extend([
        node("Slice", ["scores", c["zero"], c["one"], c["two"]], ["e2e_person"]),  # (1, P, 1)
        node("Reshape", ["e2e_person", c["scores_shape"]], ["e2e_s0"]),  # (1, 1, P)
        node("Slice", ["distances", c["zero"], c["two"], c["two"]], ["e2e_lt"]),
        node("Slice", ["distances", c["two"], c["four"], c["two"]], ["e2e_rb"]),
        node("Sub", [c["priors"], "e2e_lt"], ["e2e_xy1"]),
        node("Add", [c["priors"], "e2e_rb"], ["e2e_xy2"]),
        node("Concat", ["e2e_xy1", "e2e_xy2"], ["e2e_raw"], axis=2),  # (1, P, 4)
        node("Clip", ["e2e_raw", c["lo"], c["hi"]], ["e2e_b0"]),  # to the padded input, as mmdet clamps them
    ])
    for stage in (1, 2):  # NMS, then the kept boxes and scores gathered (in score order) for the next stage
        b, sc = f"e2e_b{stage - 1}", f"e2e_s{stage - 1}"
        g.node.extend([
            node("NonMaxSuppression", [b, sc, c["keep"], c[f"iou{stage}"], c["score"]], [f"e2e_sel{stage}"]),
            node("Slice", [f"e2e_sel{stage}", c["two"], c["three"], c["one"]], [f"e2e_col{stage}"]),
            node("Reshape", [f"e2e_col{stage}", f"e2e_flat{stage}"], [f"e2e_idx{stage}"]),
            node("Gather", [b, f"e2e_idx{stage}"], [f"e2e_b{stage}"], axis=1),  # (1, K, 4)
            node("Gather", [sc, f"e2e_idx{stage}"], [f"e2e_s{stage}"], axis=2),  # (1, 1, K)
        ])
        g.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), f"e2e_flat{stage}"))
    g.node.extend([
        node("Reshape", ["e2e_s2", c["scores_shape"]], ["e2e_s2r"]),
        node("Transpose", ["e2e_s2r"], ["e2e_s2t"], perm=[0, 2, 1]),  # (1, K, 1)
        node("Concat", ["e2e_b2", "e2e_s2t"], ["dets"], axis=2),  # (1, K, 5)
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, None, 5]))
    del model.metadata_props[:]  # no mmpx sidecar: this is not an mmpx model any more
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out


def rtmlib_pipeline(det_e2e: Path, pose_static: Path, threads: int, size: tuple[int, int]):
    """rtmlib's RTMDet + RTMPose, their ONNX Runtime sessions rebuilt with ``threads``."""
    import cv2
    import onnxruntime as ort
    from rtmlib import RTMDet, RTMPose

    det = RTMDet(str(det_e2e), model_input_size=size, backend="onnxruntime", device="cpu",
                 score_thr=BBOX_THR, nms_thr=NMS_THR)
    pose = RTMPose(str(pose_static), model_input_size=(192, 256), backend="onnxruntime", device="cpu")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    for tool, path in ((det, det_e2e), (pose, pose_static)):
        tool.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    def image(image_bgr):
        boxes = det(image_bgr)
        if len(boxes):
            pose(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), np.asarray(boxes).tolist())
        return len(boxes)

    return image


def mmpose_demo(det_ckpt: Path, pose_config: Path, pose_ckpt: Path):
    """``process_one_image`` of MMPose's demo/topdown_demo_with_mmdet.py, without the drawing."""
    from mmdet.apis import inference_detector, init_detector
    from mmpose.apis import inference_topdown, init_model
    from mmpose.evaluation.functional import nms
    from mmpose.utils import adapt_mmdet_pipeline

    from mmpose_ext.config import load_config

    detector = init_detector(load_config(DET_CONFIG), str(det_ckpt), device="cpu")
    detector.cfg = adapt_mmdet_pipeline(detector.cfg)
    pose = init_model(str(pose_config), str(pose_ckpt), device="cpu",
                      cfg_options=dict(model=dict(test_cfg=dict(flip_test=False))))

    def image(image_bgr):
        pred = inference_detector(detector, image_bgr).pred_instances.cpu().numpy()
        bboxes = np.concatenate((pred.bboxes, pred.scores[:, None]), axis=1)
        bboxes = bboxes[np.logical_and(pred.labels == 0, pred.scores > BBOX_THR)]
        bboxes = bboxes[nms(bboxes, NMS_THR), :4]
        inference_topdown(pose, image_bgr, bboxes)
        return len(bboxes)

    return image


def mmpx_pipeline(boxes, model):
    """One image as ``PoseEstimator`` does it, and a video as ``mmpx infer`` does (``sequence_poses``)."""
    from mmpx.infer.sequence import SequenceOptions, sequence_poses

    def image(image_bgr):
        found, _ = boxes(image_bgr)
        model.predict(image_bgr, found)
        return len(found)

    def video(frames):
        return sum(len(p.bboxes) for p in sequence_poses(frames, model, boxes, SequenceOptions(batch_frames=4)))

    return image, video


def per_frame(image_fn):
    return lambda frames: sum(image_fn(f) for f in frames)


def one_pass(fn, items) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn(items)
    return time.perf_counter() - start, count


def startup(det_onnx: Path, pose_onnx: Path, image: Path, tmp: Path, runs: int) -> dict[str, float]:
    bare = tmp / "bare.py"
    bare.write_text(BARE)
    commands = {
        "mmpx infer --det-weights det.onnx --weights pose.onnx": [sys.executable, "-m", "mmpx", "infer", str(image),
            "--backend", "onnxruntime", "--weights", str(pose_onnx), "--det-weights", str(det_onnx),
            "--save-json", str(tmp / "s.json"), "--no-progress"],
        "bare two-session ONNX Runtime script (baseline)": [sys.executable, str(bare), str(det_onnx), str(pose_onnx),
            str(image), str(tmp / "b.json")],
    }  # fmt: skip
    walls: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for key, cmd in commands.items():
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            walls[key].append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return {k: statistics.median(v) for k, v in walls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for every runtime (default 1)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed passes per row (median reported)")
    parser.add_argument("--frames", type=int, default=24, help="frames of the synthetic traffic clip (640x480)")
    parser.add_argument("--reg-bias", type=float, default=9.0,
                        help="detector box half-size in strides of 32 px: sets the boxes per image")
    parser.add_argument("--startup-runs", type=int, default=5, help="runs of each start-up command (0: skip)")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data beside the checkout")

    import cv2
    import torch

    import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose and mmdet)

    torch.set_num_threads(args.threads)
    from mmpose_ext.deploy import export_detector_onnx
    from mmpose_ext.deploy.export import export_onnx
    from mmpx.api import load_detector
    from mmpx.runtime import OnnxPoseModel
    from mmpx.runtime.det import OnnxBoxes
    from mmpx.runtime.quantize import quantize_onnx
    from mmpx.runtime.quantize_det import quantize_detector
    from mmpx.synth.traffic import traffic_clip

    images = [cv2.imread(str(p)) for p in sorted(DATA.glob("*.jpg"))]
    frames = traffic_clip(frames=args.frames, cars=4, width=640, height=480).frames
    rows: dict[str, tuple] = {}  # name -> (images fn, frames fn)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        det_ckpt, det_onnx = build_detector(tmp, args.reg_bias)
        pose_config, pose_ckpt = rtmpose_t(tmp)
        pose_onnx = export_onnx(pose_config, pose_ckpt, out=tmp / "pose.onnx", dynamic_batch=True).onnx_path
        pose_static = export_onnx(pose_config, pose_ckpt, out=tmp / "pose_static.onnx", dynamic_batch=False).onnx_path
        pose_int8 = quantize_onnx(pose_onnx, DATA / "test_coco.json", DATA, out=tmp / "pose_int8.onnx").onnx_path
        det_int8 = quantize_detector(det_onnx, DATA / "test_coco.json", DATA, out=tmp / "det_int8.onnx")
        print(f"int8 detector vs fp32 on the COCO images: {det_int8.agreement}")
        det_dyn = export_detector_onnx(DET_CONFIG, det_ckpt, out=tmp / "det_dyn.onnx", dynamic_size=True).onnx_path
        dyn_int8 = quantize_detector(det_dyn, DATA / "test_coco.json", DATA, out=tmp / "det_dyn_int8.onnx")
        print(f"int8 dynamic-size detector vs fp32 on the COCO images: {dyn_int8.agreement}")

        demo = mmpose_demo(det_ckpt, pose_config, pose_ckpt)
        rows["(a) MMPose demo: mmdet + inference_topdown"] = (demo, per_frame(demo))
        torch_boxes = load_detector(DET_CONFIG, det_ckpt, bbox_thr=BBOX_THR, nms_thr=NMS_THR)
        fp32 = OnnxPoseModel(pose_onnx, threads=args.threads, flip_test=False)
        rows["(b) mmpx torch detector + ORT pose"] = mmpx_pipeline(torch_boxes, fp32)
        ort_boxes = OnnxBoxes(det_onnx, bbox_thr=BBOX_THR, nms_thr=NMS_THR, threads=args.threads)
        rows["(c) mmpx all ORT, fp32"] = mmpx_pipeline(ort_boxes, fp32)
        dyn_boxes = OnnxBoxes(det_dyn, bbox_thr=BBOX_THR, nms_thr=NMS_THR, threads=args.threads)
        rows["(c') mmpx all ORT, fp32, dynamic-size det"] = mmpx_pipeline(dyn_boxes, fp32)
        int8 = OnnxPoseModel(pose_int8, threads=args.threads, flip_test=False)
        rows["(d) mmpx all ORT, int8 pose"] = mmpx_pipeline(ort_boxes, int8)
        int8_boxes = OnnxBoxes(det_int8.onnx_path, bbox_thr=BBOX_THR, nms_thr=NMS_THR, threads=args.threads)
        rows["(d2) mmpx all ORT, int8 detector + pose"] = mmpx_pipeline(int8_boxes, int8)
        dyn_int8_boxes = OnnxBoxes(dyn_int8.onnx_path, bbox_thr=BBOX_THR, nms_thr=NMS_THR, threads=args.threads)
        rows["(d2') int8 dynamic-size det + int8 pose"] = mmpx_pipeline(dyn_int8_boxes, int8)
        try:
            e2e = end2end(det_onnx, tmp / "det_end2end.onnx")
            peer = rtmlib_pipeline(e2e, pose_static, args.threads, (640, 640))
            rows["(e) rtmlib RTMDet + RTMPose, same weights"] = (peer, per_frame(peer))
        except ImportError as exc:
            print(f"rtmlib not importable ({exc}): row (e) is left out (see the docstring to install it)")

        def on_images(fn):
            return lambda items: sum(fn(i) for i in items)

        times = {key: {n: [] for n in rows} for key in ("images", "frames")}
        boxes = {key: {} for key in times}
        for round_ in range(args.rounds + 1):  # the first round warms up
            for n, (image_fn, video_fn) in rows.items():
                for key, fn, items in (("images", on_images(image_fn), images), ("frames", video_fn, frames)):
                    seconds, count = one_pass(fn, items)
                    boxes[key][n] = count
                    if round_:
                        times[key][n].append(seconds)
        starts = startup(det_onnx, pose_onnx, sorted(DATA.glob("*.jpg"))[0], tmp, args.startup_runs) \
            if args.startup_runs else {}

    rate = {key: {n: (len(images) if key == "images" else len(frames)) / statistics.median(t)
                  for n, t in per.items()} for key, per in times.items()}
    print(f"RTMDet-tiny 640x640 (the dynamic-size rows: padded to a multiple of 32) + RTMPose-t 256x192 "
          f"(flip off), {len(images)} COCO images, {len(frames)} traffic "
          f"frames 640x480 (every frame detected), {args.threads} thread(s) for every runtime, {os.cpu_count()} "
          f"cores, load average {os.getloadavg()[0]:.2f}, median of {args.rounds} interleaved passes after a warm-up")
    print(f"{'pipeline':<44}{'images/s':>9}{'vs (a)':>8}{'vs (e)':>8}{'boxes':>7}"
          f"{'frames/s':>10}{'vs (a)':>8}{'vs (e)':>8}{'boxes':>7}")
    first = next(iter(rows))
    last = next((n for n in rows if n.startswith("(e)")), None)
    for n in rows:
        cells = ""
        for key in ("images", "frames"):
            r = rate[key][n]
            vs_e = f"{r / rate[key][last]:.2f}x" if last else "-"
            cells += f"{r:>{9 if key == 'images' else 10}.2f}{r / rate[key][first]:>7.2f}x{vs_e:>8}{boxes[key][n]:>7}"
        print(f"{n:<44}{cells}")
    if starts:
        (mmpx_key, mmpx_s), (bare_key, bare_s) = starts.items()
        print(f"start-up, one image, median of {args.startup_runs}: {mmpx_key} {mmpx_s:.2f} s, {bare_key} "
              f"{bare_s:.2f} s: {mmpx_s / bare_s:.2f}x")


if __name__ == "__main__":
    main()
