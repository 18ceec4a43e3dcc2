"""Per-iteration cost of the ``mmpx train`` wrapper against MMPose's own ``tools/train.py``.

Same config, same synthetic data, same thread count; runs interleaved (A B C A B C ...) in one invocation:

- A: MMPose's own ``tools/train.py``, the real script (the mmpose 1.3.2 package installs it as
  ``mmpose/.mim/tools/train.py``); the config's ``custom_imports = ['mmpose_ext']`` gives it the compat fixes that
  this stack needs, and adds no hook;
- B: ``mmpx train`` as a user runs it from a script or CI (stderr not a terminal: no progress display;
  PlotHook and preflight on, as always);
- C: ``mmpx train`` with stderr on a pseudo-terminal, so the rich progress bar really draws.

Seconds per iteration come from each run's ``vis_data/scalars.json`` (mmengine's ``time``: everything between
two iterations, hooks included), dropping the first ``--skip`` iterations. Preflight and PlotHook run outside
the iterations; their own cost is timed in this process and printed too.

    python benchmarks/train_overhead.py [--iters 70] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)
data_root = {data_root!r}
train_cfg = dict(by_epoch=False, max_iters={iters}, val_interval=100000)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=100000, by_epoch=False, save_last=True),
                     logger=dict(type='LoggerHook', interval=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17, deconv_out_channels=(128, 128, 128),
              deconv_kernel_sizes=(4, 4, 4), loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec),
    test_cfg=dict(flip_test=False))
pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=dict(type='CocoDataset', data_root=data_root, data_mode='topdown',
                                     ann_file='annotations.json', data_prefix=dict(img='images/'),
                                     pipeline=pipeline))
"""


def write_data(root: Path, num_images: int = 64, size: int = 160) -> None:
    """Synthetic COCO keypoints: one box with 17 coloured dots per image."""
    import cv2

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
        x0, y0 = rng.integers(4, size // 4, 2)
        w, h = rng.integers(size // 2, size - max(x0, y0) - 4, 2)
        kpts = []
        for k in range(17):
            x, y = x0 + (k % 4 + 0.5) * w / 4, y0 + (k // 4 + 0.5) * h / 5
            cv2.circle(img, (int(x), int(y)), 3, (15 * k % 255, 255 - 12 * k, 40 + 10 * k), -1)
            kpts += [float(x), float(y), 2]
        cv2.imwrite(str(root / "images" / f"{i:03d}.png"), img)
        images.append(dict(id=i + 1, file_name=f"{i:03d}.png", width=size, height=size))
        annotations.append(dict(id=i + 1, image_id=i + 1, category_id=1, iscrowd=0, num_keypoints=17,
                                bbox=[float(x0), float(y0), float(w), float(h)], area=float(w * h), keypoints=kpts))
    cats = [dict(id=1, name="person", keypoints=[f"k{k}" for k in range(17)], skeleton=[])]
    (root / "annotations.json").write_text(json.dumps(dict(images=images, annotations=annotations, categories=cats)))


def mmpose_train_script() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mmpose")
    script = Path(spec.origin).parent / ".mim" / "tools" / "train.py"
    if not script.is_file():
        sys.exit(f"MMPose's tools/train.py not found at {script}")
    return script


def run(kind: str, config: Path, work_dir: Path, env: dict) -> float:
    """One training run; returns its wall time in seconds."""
    if kind == "A":
        cmd = [sys.executable, str(mmpose_train_script()), str(config), "--work-dir", str(work_dir)]
    else:
        cmd = [sys.executable, "-m", "mmpx", "train", str(config), "--work-dir", str(work_dir)]
    log = open(work_dir.with_suffix(".out"), "w")
    start = time.perf_counter()
    if kind == "C":  # stderr on a pseudo-terminal: the progress bar draws as on a user's terminal
        master, slave = pty.openpty()
        proc = subprocess.Popen(cmd, stdout=log, stderr=slave, env=env, cwd=ROOT)
        os.close(slave)
        drained = threading.Thread(target=_drain, args=(master,), daemon=True)
        drained.start()
        proc.wait()
        drained.join(timeout=5)
    else:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"run {kind} failed (exit {proc.returncode}); see {log.name}")
    return wall


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                break
        except OSError:
            break
    os.close(fd)


def iter_times(work_dir: Path, skip: int) -> list[float]:
    scalars = sorted(work_dir.glob("2*/vis_data/scalars.json"))[-1]
    rows = [json.loads(line) for line in scalars.read_text().splitlines() if line.strip()]
    return [r["time"] for r in rows if "time" in r and r.get("step", r.get("iter", 0)) > skip]


def iteration_hooks(out_file: Path) -> dict[str, list[str]]:
    """The hooks mmengine runs at each per-iteration stage, from the table it logs at start."""
    stages, current = {}, None
    for line in out_file.read_text().splitlines():
        if line.endswith(":") and line[:-1] in ("before_train_iter", "after_train_iter"):
            current = stages.setdefault(line[:-1], [])
        elif current is not None and line.startswith("("):
            current.append(line.split(")", 1)[1].strip())
        elif current is not None:
            current = None
    return stages


def progress_hook_cost(calls: int = 2000) -> tuple[float, float]:
    """``ProgressHook`` with the live bar drawing: seconds per ``after_train_iter`` call, and the CPU seconds per
    second that rich's redraw thread takes (measured while this thread sleeps)."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from mmpose_ext.engine.progress import ProgressHook

    hub = MessageHub.get_instance("progress-bench")
    hub.update_scalar("train/loss", 0.5)
    loop = SimpleNamespace()
    runner = SimpleNamespace(epoch=0, iter=0, max_iters=calls, max_epochs=1, train_loop=loop, message_hub=hub,
                             logger=SimpleNamespace(handlers=[]))  # fmt: skip
    master, slave = pty.openpty()  # stderr on a terminal, as for a user: the bar really draws
    threading.Thread(target=_drain, args=(master,), daemon=True).start()
    saved, sys.stderr = sys.stderr, open(slave, "w")
    try:
        hook = ProgressHook()
        hook.before_train(runner)
        assert hook._progress is not None and hook._progress.console.is_terminal
        start = time.perf_counter()
        for i in range(calls):
            runner.iter = i
            hook.after_train_iter(runner, i)
        cost = (time.perf_counter() - start) / calls
        cpu = time.process_time()
        time.sleep(3)
        redraw = (time.process_time() - cpu) / 3
        hook.after_train(runner)
    finally:
        sys.stderr.close()
        sys.stderr = saved
    return cost, redraw


def side_costs(config: Path, work_dir: Path) -> dict:
    """Preflight (before the Runner) and PlotHook (after the run), timed in this process."""
    import mmpose_ext  # noqa: F401
    from mmpose_ext.apis.prepare import check_config
    from mmpose_ext.config import load_config
    from mmpx.evaluation.plots import plot_run

    cfg = load_config(config)
    start = time.perf_counter()
    check_config(cfg, config)
    preflight = time.perf_counter() - start
    start = time.perf_counter()
    plot_run(work_dir, out_dir=tempfile.mkdtemp())
    return dict(preflight=preflight, plot=time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=70, help="iterations per run")
    parser.add_argument("--skip", type=int, default=10, help="first iterations left out of the statistics")
    parser.add_argument("--rounds", type=int, default=3, help="A B C rounds")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for every run")
    parser.add_argument("--kinds", default="ABC", help="which runs: A (tools/train.py), B (mmpx), C (mmpx, tty)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mmpx-overhead-"))
    write_data(root / "data")
    config = root / "overhead.py"
    config.write_text(CONFIG.format(data_root=str(root / "data"), iters=args.iters))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    names = {"A": "MMPose tools/train.py", "B": "mmpx train", "C": "mmpx train, progress bar (tty)"}
    times: dict[str, list[float]] = {k: [] for k in args.kinds}
    medians: dict[str, list[float]] = {k: [] for k in args.kinds}
    walls: dict[str, list[float]] = {k: [] for k in args.kinds}
    for rnd in range(args.rounds):
        for kind in args.kinds:
            work = root / f"{kind}{rnd}"
            walls[kind].append(run(kind, config, work, env))
            per_iter = iter_times(work, args.skip)
            times[kind] += per_iter
            medians[kind].append(statistics.median(per_iter))
            print(f"round {rnd + 1} {kind} ({names[kind]}): {statistics.median(per_iter):.4f} s/iter median, "
                  f"{statistics.mean(per_iter):.4f} mean, {len(per_iter)} iterations, wall {walls[kind][-1]:.1f} s",
                  flush=True)  # fmt: skip

    load = os.getloadavg()
    print(f"\nconfig: ResNet-18 heatmap, 64x64 input, batch 8, {args.iters} iterations (first {args.skip} left "
          f"out), OMP_NUM_THREADS={args.threads}; {os.cpu_count()} cores, load average now {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"{'run':34} {'median s/iter':>14} {'mean s/iter':>12} {'vs A (median)':>14} {'wall s (mean)':>14}")
    base = statistics.median(times["A"]) if "A" in times else None
    for kind in args.kinds:
        med, mean = statistics.median(times[kind]), statistics.mean(times[kind])
        ratio = f"{med / base:.3f}x" if base else "-"
        print(f"{names[kind]:34} {med:14.4f} {mean:12.4f} {ratio:>14} {statistics.mean(walls[kind]):14.1f}")
    if "A" in times:
        for kind in args.kinds.replace("A", ""):
            rounds = ", ".join(f"{m / a:.3f}" for m, a in zip(medians[kind], medians["A"], strict=True))
            print(f"{names[kind]} / A, round by round (median s/iter): {rounds}")
    costs = side_costs(config, root / f"{args.kinds[-1]}0")
    hooks = {kind: iteration_hooks(root / f"{kind}0.out") for kind in args.kinds}
    for kind in args.kinds:
        extra = {s: [h for h in hs if h not in hooks.get("A", {}).get(s, [])] for s, hs in hooks[kind].items()}
        print(f"per-iteration hooks of {names[kind]} beyond tools/train.py's: {extra}")
    call, redraw = progress_hook_cost()
    print(f"ProgressHook with the bar drawing: {call * 1e6:.1f} us per after_train_iter call, redraw thread "
          f"{redraw * 1e3:.2f} ms CPU per second")
    print(f"outside the iterations: preflight {costs['preflight']:.3f} s, PlotHook (loss.png) {costs['plot']:.3f} s")
    print(f"runs kept in {root}")


if __name__ == "__main__":
    main()
