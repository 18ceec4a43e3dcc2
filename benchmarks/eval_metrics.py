"""Time of GroupedCocoMetric + KeypointBreakdownMetric against MMPose's plain CocoMetric on the same predictions.

Synthesises a COCO keypoint ground truth (N images x 2 instances of 17 keypoints, each image with a
``category`` of 20 values) and one noisy top-down prediction per instance, then in one run feeds the same data
samples to each metric through ``process()`` and ``evaluate()`` as a run does. Target: at most 1.5x CocoMetric.

Usage: python benchmarks/eval_metrics.py [--images 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os.path as osp
import statistics
import tempfile
import time

import numpy as np


def synthesise(num_images: int, seed: int = 0) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    images, anns, samples = [], [], []
    for i in range(num_images):
        images.append(dict(id=i + 1, file_name=f"{i:06d}.jpg", width=640, height=480,
                           category=f"scene_{i % 20:02d}"))
        for j in range(2):
            x0, y0 = rng.uniform(0, 300), rng.uniform(0, 200)
            w, h = rng.uniform(60, 300), rng.uniform(120, 270)
            xy = np.stack([x0 + rng.uniform(0, w, 17), y0 + rng.uniform(0, h, 17)], 1)
            vis = (rng.uniform(size=17) > 0.15).astype(int) * 2
            ann_id = 2 * i + j + 1
            anns.append(dict(id=ann_id, image_id=i + 1, category_id=1, iscrowd=0, bbox=[x0, y0, w, h],
                             area=w * h * 0.6, num_keypoints=int((vis > 0).sum()),
                             keypoints=np.concatenate([xy, vis[:, None]], 1).ravel().tolist()))
            pred = (xy + rng.normal(0, 4, xy.shape)).astype(np.float32)[None]
            samples.append(dict(id=ann_id, img_id=i + 1, category_id=1, img_path=f"{i:06d}.jpg",
                                ori_shape=(480, 640),
                                pred_instances=dict(keypoints=pred,
                                                    keypoint_scores=rng.uniform(0.3, 1, (1, 17)).astype(np.float32)),
                                gt_instances=dict(bbox_scores=np.ones(1, dtype=np.float32))))
    gt = dict(images=images, annotations=anns, categories=[dict(id=1, name="person", keypoints=[str(k) for k in
                                                                                                 range(17)])])
    return gt, samples


def run(metrics, samples, meta) -> float:
    start = time.perf_counter()
    for metric in metrics:
        metric.dataset_meta = meta
        for k in range(0, len(samples), 64):  # batches, as a dataloader gives them
            metric.process([], samples[k:k + 64])
        with contextlib.redirect_stdout(io.StringIO()):
            metric.evaluate(len(samples))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import mmpose
    from mmengine.logging import MMLogger
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    import mmpose_ext  # noqa: F401  (registers the metrics)
    from mmpose_ext.registry import METRICS

    MMLogger.get_instance("mmengine", log_level="WARNING")
    gt, samples = synthesise(args.images)
    meta = parse_pose_metainfo(dict(from_file=osp.join(osp.dirname(mmpose.__file__), ".mim", "configs",
                                                       "_base_", "datasets", "coco.py")))
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = osp.join(tmp, "gt.json")
        with open(ann_file, "w") as f:
            json.dump(gt, f)
        times = {"CocoMetric": [], "GroupedCocoMetric + KeypointBreakdownMetric": []}
        for _ in range(args.repeat):
            with contextlib.redirect_stdout(io.StringIO()):
                plain = [METRICS.build(dict(type="CocoMetric", ann_file=ann_file))]
                ours = [METRICS.build(dict(type="GroupedCocoMetric", ann_file=ann_file, group_by="category")),
                        METRICS.build(dict(type="KeypointBreakdownMetric", ann_file=ann_file))]
            times["CocoMetric"].append(run(plain, samples, meta))
            times["GroupedCocoMetric + KeypointBreakdownMetric"].append(run(ours, samples, meta))
    print(f"{args.images} images, {len(samples)} predictions of 17 keypoints, 20 groups; "
          f"median of {args.repeat} runs (ann_file loading excluded)")
    base = statistics.median(times["CocoMetric"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:45s} {med:7.2f} s   {med / base:5.2f}x")
    ratio = statistics.median(times["GroupedCocoMetric + KeypointBreakdownMetric"]) / base
    print(f"target <= 1.50x: {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
