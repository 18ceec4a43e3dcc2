"""Does a ``--visibility`` model tell hidden keypoints from seen ones on images it has not seen? AUROC and accuracy.

Synthetic occluded cars (``mmpx data synth carpose --occlusion 0.8``: keypoints hidden by the car itself or by an
occluder are labelled ``occluded``, v=1; the others v=2), converted with ``mmpx convert labelme``; a config from
``mmpx configs new --visibility`` (rtmpose-t, a small input), trained through MMPose's registry
(``Runner.from_cfg``) for ``--iters`` iterations at a constant learning rate; then each held-out (val) car is run
through :class:`mmpose_ext.infer.TorchPoseModel` with its true box, and the visibility probability of every
labelled keypoint is compared with its label. Printed: the AUROC over all keypoints, the mean of the per-keypoint
AUROCs (which a model cannot raise by learning that some keypoints are hidden more often than others), accuracy at
0.5 and the majority-class rate (chance). Above chance: AUROC > 0.6, accuracy > majority.

Measured (2 shared cores, 300 images of which 60 held out, 443 labelled held-out keypoints, 51% seen):
- 300 iterations (572 s): AUROC 0.606, mean per-keypoint AUROC 0.521, accuracy 0.619 (majority 0.508): above
  chance overall, but by keypoint near chance (it has learnt which keypoints are hidden more often);
- 1000 iterations (840 s): AUROC 0.643, mean per-keypoint AUROC 0.639, accuracy 0.621 (majority 0.508).
Too long for the test suite (tests/mmpx/configs/test_visibility.py trains two iterations and checks the wiring).

Usage: python benchmarks/visibility.py [--iters 600] [--images 400] [--size 64] [--lr 4e-3] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_data(out: Path, images: int, seed: int = 5) -> Path:
    """Occluded synthetic cars, one a 96 px image, converted (80% train, 20% val)."""
    from mmpx.synth.carpose import synth_carpose

    data = out / "data"
    if not (data / "annotations" / "val.json").is_file():
        synth_carpose(out / "labelme", n=images, seed=seed, size=96, max_cars=1, occlusion=0.8)
        import subprocess

        subprocess.run([sys.executable, "-m", "mmpx", "convert", "labelme", str(out / "labelme"), str(data),
                        "--images", "copy"], check=True, capture_output=True)
    return data


def train_config(data: Path, out: Path, size: int, iters: int, lr: float, batch: int):
    """The ``mmpx configs new --visibility`` config, with a constant rate, ``iters`` iterations and no validation."""
    from mmpose_ext.config import load_config
    from mmpx.app.configs_new import ConfigsNewRequest, configs_new

    path = out / "vis.py"
    configs_new(ConfigsNewRequest(data, "rtmpose-t", path, input_size=f"{size}x{size}", overwrite=True,
                                  check=False, visibility=True))
    cfg = load_config(path)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=10**9)
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=iters, by_epoch=False)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=max(1, iters // 20))
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=batch)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = str(out / "work")
    return path, cfg


def auroc(prob: np.ndarray, seen: np.ndarray) -> float:
    """The chance that a seen keypoint gets a higher probability than a hidden one (ties count half)."""
    pos, neg = prob[seen], prob[~seen]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def held_out(model, data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probability, seen, keypoint index) for every labelled keypoint of the val file, true boxes."""
    import cv2

    ann = json.loads((data / "annotations" / "val.json").read_text())
    files = {i["id"]: i["file_name"] for i in ann["images"]}
    prob, seen, index = [], [], []
    for a in ann["annotations"]:
        image = cv2.imread(str(data / "images" / files[a["image_id"]]))
        x, y, w, h = a["bbox"]
        _, _, visible = model.predict_with_visibility(image, np.array([[x, y, x + w, y + h]], np.float32))
        for k, v in enumerate(a["keypoints"][2::3]):
            if v > 0:
                prob.append(visible[0, k])
                seen.append(v == 2)
                index.append(k)
    return np.array(prob), np.array(seen), np.array(index)


def figures(prob: np.ndarray, seen: np.ndarray, index: np.ndarray) -> dict:
    per = [auroc(prob[index == k], seen[index == k]) for k in np.unique(index)]
    return dict(auroc=auroc(prob, seen), auroc_per_keypoint=float(np.nanmean(per)),
                accuracy=float(((prob >= 0.5) == seen).mean()), majority=float(max(seen.mean(), 1 - seen.mean())),
                points=int(len(seen)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    out = args.work_dir or Path(tempfile.mkdtemp(prefix="mmpx-visibility-"))
    out.mkdir(parents=True, exist_ok=True)
    from mmengine.runner import Runner

    import mmpose_ext  # noqa: F401  (registries before mmengine builds anything)
    from mmpose_ext.infer.model import TorchPoseModel

    data = make_data(out, args.images)
    path, cfg = train_config(data, out, args.size, args.iters, args.lr, args.batch)
    start = time.perf_counter()
    Runner.from_cfg(cfg).train()
    trained = time.perf_counter() - start
    model = TorchPoseModel(path, out / "work" / f"iter_{args.iters}.pth", flip_test=False)
    f = figures(*held_out(model, data))
    print(f"visibility after {args.iters} iterations (batch {args.batch}, {args.size}x{args.size}, {trained:.0f} s): "
          f"held-out {f['points']} labelled keypoints: AUROC {f['auroc']:.3f}, mean per-keypoint AUROC "
          f"{f['auroc_per_keypoint']:.3f}, accuracy {f['accuracy']:.3f} (majority class {f['majority']:.3f})")


if __name__ == "__main__":
    main()
