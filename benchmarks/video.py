"""Frames per second on a video: MMPose's own demo loop vs a frame-by-frame ``mmpx infer`` runner vs
``mmpx infer``.

The same clip, models and boxes for every row; each loop reads the video, detects, estimates poses, draws and
writes the drawn video (the demo's video branch; ``mmpx infer --out-dir``), timed in this process after the
models are loaded (no start-up):

- ``mmpose demo``: the loop of MMPose's ``demo/topdown_demo_with_mmdet.py`` (shipped in mmpose's ``.mim``), with
  its own ``process_one_image`` and visualizer;
- ``mmpx infer (before)``: a runner that reads, predicts and draws one frame at a time: ``mmpx/infer/runner.py``
  at commit 3154b2e (read from git);
- ``mmpx infer``: today's runner: frames decoded in a background thread, crops of ``--batch-frames`` frames in one
  forward pass, optionally ``--track`` and ``--det-every N``; torch and ONNX Runtime pose backends.

Models: configs/carpose/rtmdet-tiny_carpose.py and rtmpose-t_carpose-256x256.py with seeded random weights (speed
does not depend on the values); the detector's box branch is set to constant outputs (as
tests/mmpx/infer/test_infer.py does): scores of 0.5 on its coarsest level (300 priors at 640x480) and none
elsewhere, wide boxes, so that after NMS it keeps a few boxes per frame and its post-processing costs what a
trained detector's does. The clip:
mmpx.synth.traffic, 640x480.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/video.py [--frames 24] [--threads 2] [--rounds 3]

``--writer`` runs, instead, ``mmpx infer --out-dir`` with the drawn video written by its background thread
(``mmpx.infer.writer``; the default) and without it (drawn and encoded in the main thread:
``mmpx.infer.runner.WRITER_THREAD = False``, a switch for this comparison only), side by side, interleaved:

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/video.py --writer [--size 1280x720] [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BEFORE = "3154b2e"  # the last commit whose runner went frame by frame (no decoding thread, no batches)
DET = ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose.py"
POSE = ROOT / "configs" / "carpose" / "rtmpose-t_carpose-256x256.py"


def build_models(tmp: Path, reg_bias: float) -> dict:
    import mmpose_ext  # noqa: I001,F401  (the compatibility fixes before mmpose and mmdet import)
    import torch
    from mmdet.apis import init_detector
    from mmpose.apis import init_model

    from mmpose_ext.infer.model import load_any_config

    torch.manual_seed(0)
    pose = init_model(load_any_config(POSE), None, device="cpu")
    pose_ckpt = tmp / "pose.pth"
    torch.save({"state_dict": pose.state_dict(), "meta": {"dataset_meta": pose.dataset_meta}}, pose_ckpt)
    det = init_detector(load_any_config(DET), None, device="cpu")
    with torch.no_grad():  # score 0.5 on the coarsest level only (300 priors), wide boxes: NMS leaves a few
        for level, conv in enumerate(det.bbox_head.rtm_cls):
            conv.weight.zero_(), conv.bias.fill_(0.0 if level == len(det.bbox_head.rtm_cls) - 1 else -20.0)
        for conv in det.bbox_head.rtm_reg:
            conv.weight.zero_(), conv.bias.fill_(reg_bias)
    det_ckpt = tmp / "det.pth"
    torch.save({"state_dict": det.state_dict(), "meta": {"dataset_meta": {"classes": ("car",)}}}, det_ckpt)
    from mmpose_ext.deploy.export import export_onnx

    onnx = export_onnx(POSE, pose_ckpt, tmp / "pose.onnx").onnx_path
    return {"pose_ckpt": pose_ckpt, "det_ckpt": det_ckpt, "onnx": onnx}


def mmpose_demo(video: Path, out: Path, files: dict) -> tuple[int, float]:
    """The video branch of MMPose's demo/topdown_demo_with_mmdet.py with its own process_one_image."""
    import cv2
    import mmcv
    import mmpose
    from mmdet.apis import init_detector
    from mmpose.apis import init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.utils import adapt_mmdet_pipeline

    path = Path(mmpose.__file__).parent / ".mim" / "demo" / "topdown_demo_with_mmdet.py"
    spec = importlib.util.spec_from_file_location("topdown_demo_with_mmdet", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    args = SimpleNamespace(det_cat_id=0, bbox_thr=0.3, nms_thr=0.3, kpt_thr=0.3, draw_heatmap=False,
                           show_kpt_idx=False, skeleton_style="mmpose", draw_bbox=False, show=False)
    detector = init_detector(str(DET), str(files["det_ckpt"]), device="cpu")
    detector.cfg = adapt_mmdet_pipeline(detector.cfg)
    pose = init_model(str(POSE), str(files["pose_ckpt"]), device="cpu",
                      cfg_options=dict(model=dict(test_cfg=dict(output_heatmaps=False))))
    pose.cfg.visualizer.radius, pose.cfg.visualizer.alpha, pose.cfg.visualizer.line_width = 3, 0.8, 1
    visualizer = VISUALIZERS.build(pose.cfg.visualizer)
    visualizer.set_dataset_meta(pose.dataset_meta, skeleton_style="mmpose")
    start = time.perf_counter()
    cap, writer, frames = cv2.VideoCapture(str(video)), None, 0
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        demo.process_one_image(args, frame, detector, pose, visualizer, 0.001)
        drawn = visualizer.get_image()
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 25, drawn.shape[1::-1])
        writer.write(mmcv.rgb2bgr(drawn))
        frames += 1
    writer.release()
    cap.release()
    return frames, time.perf_counter() - start


def old_runner():
    """mmpx/infer/runner.py at commit BEFORE, as a module (it imports only modules that still exist)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:mmpx/infer/runner.py"], check=True,
                            capture_output=True, text=True).stdout
    module = type(sys)("mmpx_runner_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{BEFORE}:mmpx/infer/runner.py", "exec"), module.__dict__)
    return module


def mmpx_loop(runner, video: Path, out: Path, model, boxes, **kwargs) -> tuple[int, float]:
    from mmpx.infer.inputs import collect

    sources, _ = collect([video])
    summary = runner.run(sources, model, boxes, out_dir=out, progress=False, **kwargs)
    return summary.frames, summary.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads (default 2)")
    parser.add_argument("--reg-bias", type=float, default=10.0, help="detector box size (strides); sets boxes/frame")
    parser.add_argument("--writer", action="store_true",
                        help="compare the writer thread on and off (mmpx infer only) instead of the loops")
    parser.add_argument("--size", default="640x480", help="clip width x height (default 640x480)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import mmpose_ext  # noqa: I001,F401  (the compatibility fixes before mmpose and mmdet import)
    import torch

    torch.set_num_threads(args.threads)
    from mmpx.api import load_detector, load_pose_model
    from mmpx.infer import runner
    from mmpx.infer.sequence import SequenceOptions
    from mmpx.infer.track import TrackParams
    from mmpx.synth.traffic import traffic_clip, write_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = traffic_clip(frames=args.frames, cars=3, width=width, height=height, fps=25)
        video = write_video(clip, tmp / "clip.mp4")
        files = build_models(tmp, args.reg_bias)
        boxes = load_detector(DET, files["det_ckpt"], cat_ids=[0], bbox_thr=0.3, nms_thr=0.3)
        torch_model = load_pose_model(POSE, files["pose_ckpt"], threads=args.threads)
        ort_model = load_pose_model(files["onnx"], threads=args.threads)
        import cv2

        per_frame = len(boxes(cv2.VideoCapture(str(video)).read()[1])[0])
        print(f"clip: {args.frames} frames {width}x{height}; {per_frame} boxes per frame; {args.threads} threads; "
              "drawn video written by every row")
        track = TrackParams()
        if args.writer:
            from mmpx.synth.traffic import ColourBoxes

            writer_rows(args.rounds, runner, video, tmp, ort_model, [
                ("mmpx infer (onnxruntime)", boxes, {}),
                ("mmpx infer --track --det-every 5 (onnxruntime)", boxes,
                 {"sequence": SequenceOptions(track=track, det_every=5)}),
                ("mmpx infer (onnxruntime), colour boxes: no detector", ColourBoxes(clip.hues), {})])
            return
        rows = [("mmpose demo (torch)", lambda: mmpose_demo(video, tmp / "demo.mp4", files))]
        before = old_runner()
        rows.append(("mmpx infer before (torch)",
                     lambda: mmpx_loop(before, video, tmp / "a", torch_model, boxes)))
        for name, model in (("torch", torch_model), ("onnxruntime", ort_model)):
            rows += [
                (f"mmpx infer ({name})", lambda m=model: mmpx_loop(runner, video, tmp / "b", m, boxes)),
                (f"mmpx infer --track ({name})", lambda m=model: mmpx_loop(
                    runner, video, tmp / "c", m, boxes, sequence=SequenceOptions(track=track))),
                (f"mmpx infer --track --det-every 5 ({name})", lambda m=model: mmpx_loop(
                    runner, video, tmp / "d", m, boxes, sequence=SequenceOptions(track=track, det_every=5))),
            ]
        rates: dict[str, list[float]] = {name: [] for name, _ in rows}
        for round_ in range(args.rounds):  # interleaved, so that load changes hit every row alike
            for name, fn in rows:
                frames, seconds = fn()
                rates[name].append(frames / seconds)
                print(f"  round {round_ + 1}: {name:45s} {frames / seconds:6.2f} frames/s", flush=True)
        results = [(name, statistics.median(values)) for name, values in rates.items()]
        demo_fps = results[0][1]
        before_fps = results[1][1]
        print(f"\nmedian of {args.rounds} rounds")
        print("| loop | frames/s | vs MMPose demo | vs mmpx infer before |\n| --- | --- | --- | --- |")
        for name, fps in results:
            print(f"| {name} | {fps:.2f} | {fps / demo_fps:.2f}x | {fps / before_fps:.2f}x |")


def draw_and_encode_ms(runner, video: Path, tmp: Path, model, boxes) -> float:
    """Milliseconds per frame that drawing and encoding take in the main thread: the poses found first, then the
    frames drawn (as the runner draws them) and encoded, timed alone (median of 3)."""
    from mmpx.infer.frames import FrameReader
    from mmpx.infer.sequence import sequence_poses
    from mmpx.infer.writer import FrameWriter

    with FrameReader(video) as reader:
        poses = list(sequence_poses(reader, model, boxes))
        fps, (h, w) = reader.fps, reader.first.shape[:2]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        with FrameWriter(tmp / "alone.mp4", fps, (w, h), thread=False) as writer:
            for pose in poses:
                writer.put(runner._draw_frame, pose, model.dataset_meta, runner.DrawOptions())
        times.append((time.perf_counter() - start) / len(poses) * 1000)
    return statistics.median(times)


def writer_rows(rounds: int, runner, video: Path, tmp: Path, model, loops) -> None:
    """mmpx infer (ONNX Runtime pose) with the writer thread on and off, A B B A ...; medians and their ratio.
    ``loops``: (name, box source, runner.run options)."""
    print(f"drawing and encoding alone (the most the thread can take off the main thread): "
          f"{draw_and_encode_ms(runner, video, tmp, model, loops[-1][1]):.1f} ms per frame")
    rates: dict[tuple[str, bool], list[float]] = {}
    for round_ in range(rounds):
        for name, source, kwargs in loops:
            for thread in (True, False) if round_ % 2 == 0 else (False, True):  # neither always goes first
                runner.WRITER_THREAD = thread
                try:
                    frames, seconds = mmpx_loop(runner, video, tmp / "w", model, source, **kwargs)
                finally:
                    runner.WRITER_THREAD = True
                rates.setdefault((name, thread), []).append(frames / seconds)
                print(f"  round {round_ + 1}: {name:52s} writer thread {'on ' if thread else 'off'} "
                      f"{frames / seconds:6.2f} frames/s", flush=True)
    print(f"\nmedian of {rounds} rounds")
    print("| loop | writer thread: frames/s | in the main thread: frames/s | ratio |\n| --- | --- | --- | --- |")
    for name, _, _ in loops:
        on, off = (statistics.median(rates[(name, t)]) for t in (True, False))
        print(f"| {name} | {on:.2f} | {off:.2f} | {on / off:.2f}x |")


if __name__ == "__main__":
    main()
