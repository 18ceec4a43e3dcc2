"""Helpers the tests share: a tiny real COCO-keypoint dataset, a config that trains on it in seconds, and
running ``mmpx`` in a subprocess. Light on purpose (numpy; cv2 inside the function): the torch-free tier
(``-m "not stack"`` in a venv without the training stack) imports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests import forkserver

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def make_tiny_coco(root: Path, num_images: int = 6, size: int = 96, seed: int = 0) -> Path:
    """Write ``num_images`` PNG images with one person-like instance each and a COCO keypoint file (17 kpts)."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
        x0, y0 = rng.integers(4, size // 3, 2)
        w, h = rng.integers(size // 2, size - max(x0, y0) - 4, 2)
        kpts = []
        for k in range(17):
            x, y = x0 + (k % 4 + 0.5) * w / 4, y0 + (k // 4 + 0.5) * h / 5
            cv2.circle(img, (int(x), int(y)), 2, (int(15 * k) % 255, 255 - 12 * k, 40 + 10 * k), -1)
            kpts += [float(x), float(y), 2]
        name = f"{i:03d}.png"
        cv2.imwrite(str(root / "images" / name), img)
        images.append(dict(id=i + 1, file_name=name, width=size, height=size))
        annotations.append(
            dict(
                id=i + 1,
                image_id=i + 1,
                category_id=1,
                iscrowd=0,
                num_keypoints=17,
                bbox=[float(x0), float(y0), float(w), float(h)],
                area=float(w * h),
                keypoints=kpts,
            )
        )
    categories = [
        dict(id=1, name="person", supercategory="person", keypoints=[f"k{k}" for k in range(17)], skeleton=[])
    ]
    ann = root / "annotations.json"
    ann.write_text(json.dumps(dict(images=images, annotations=annotations, categories=categories)))
    return ann


TINY_CONFIG = """
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)
data_root = {data_root!r}
train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [dict(type='MultiStepLR', milestones=[100], gamma=0.1, by_epoch=True)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=5),
                     logger=dict(type='LoggerHook', interval=1))
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(1, ),
                  init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=128, out_channels=17, deconv_out_channels=(64, ),
              deconv_kernel_sizes=(4, ),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))
pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
dataset = dict(type='CocoDataset', data_root=data_root, data_mode='topdown', ann_file='annotations.json',
               data_prefix=dict(img='images/'), pipeline=pipeline)
train_dataloader = dict(batch_size=3, num_workers=0, persistent_workers=False,
                        sampler=dict(type='DefaultSampler', shuffle=True), dataset=dataset)
val_dataloader = dict(batch_size=3, num_workers=0, persistent_workers=False, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(dataset, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + '/annotations.json')
test_evaluator = val_evaluator
"""


def write_tiny_config(path: Path, data_root: Path, max_epochs: int = 2) -> Path:
    path.write_text(TINY_CONFIG.format(data_root=str(data_root), max_epochs=max_epochs))
    return path


def run(args: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 600, fresh: bool = False):
    """Run a command with the venv's Python; returns the CompletedProcess (text, stdout+stderr captured).

    The mmpx commands that import the training stack (``train``, ``test``, ...: ``forkserver.COMMANDS``) run in a
    child of this worker's fork server (the stack already imported, :mod:`tests.forkserver`) when nothing read at
    import time differs; ``fresh=True`` always starts a new
    interpreter (for tests about start-up itself)."""
    full_env = {**os.environ, **(env or {})}
    if not fresh and forkserver.forkable(args, full_env):
        done = forkserver.run(args, cwd, full_env, timeout)
        if done is not None:
            return done
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def mmpx(*args: str, **kwargs):
    return run([sys.executable, "-m", "mmpx", *args], **kwargs)


def has_training_stack() -> bool:
    """torch and mmpose importable: False in the torch-free tier's venv."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "mmengine", "mmpose"))
