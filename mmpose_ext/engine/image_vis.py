"""``mmpx test --show-dir``: one picture per test image with every instance drawn.

MMPose's ``PoseVisualizationHook`` draws each top-down sample (one instance) into its own file,
``000005_0.jpg``, ``000005_1.jpg``, ...: an image with five people gives five pictures of one person each. This hook
keeps the predictions of the test run per image and draws each image once at the end, all its instances merged
(``merge_data_samples``), at its path relative to the images' common folder (Human-Art repeats file names across
scenario folders). With several processes the predictions are gathered and each process draws its share.
"""

from __future__ import annotations

import contextlib
import os

from mmpose.engine.hooks import PoseVisualizationHook

from mmpose_ext.registry import HOOKS


@contextlib.contextmanager
def _every_rank_draws():
    """mmengine's visualizer methods are ``@master_only``; here each rank draws its own images."""
    import mmengine.dist.utils as dist_utils

    original = dist_utils.is_main_process
    dist_utils.is_main_process = lambda group=None: True
    try:
        yield
    finally:
        dist_utils.is_main_process = original


@HOOKS.register_module()
class PerImageVisualizationHook(PoseVisualizationHook):
    """``PoseVisualizationHook`` for tests that writes one picture per image (validation drawing is unchanged)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._by_image: dict[str, list] = {}

    def before_test_epoch(self, runner) -> None:
        self._by_image = {}

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict, outputs) -> None:
        if not self.enable:
            return
        for sample in outputs:
            sample = sample.cpu()
            if "gt_instances" in sample:  # not drawn; keeps what is gathered across processes small
                del sample.gt_instances
            self._by_image.setdefault(sample.img_path, []).append(sample)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not self.enable or self.out_dir is None:
            return
        from mmengine.dist import all_gather_object, get_rank, get_world_size

        items = sorted(self._by_image.items())
        world = get_world_size()
        if world > 1:  # a distributed sampler spreads one image's instances over the ranks
            merged: dict[str, dict] = {}
            for part in all_gather_object(items):
                for path, samples in part:
                    for sample in samples:  # the sampler repeats a few samples to even out the ranks: once each
                        key = sample.get("id", None)
                        merged.setdefault(path, {})[id(sample) if key is None else key] = sample
            items = sorted((path, list(samples.values())) for path, samples in merged.items())
        self._by_image = {}
        out_dir = os.path.join(runner.work_dir, runner.timestamp, self.out_dir)  # an absolute out_dir stays
        common = os.path.commonpath([os.path.dirname(path) for path, _ in items]) if items else ""
        self._visualizer.set_dataset_meta(runner.test_evaluator.dataset_meta)
        with _every_rank_draws():
            for path, samples in items[get_rank()::world]:
                self._draw(path, samples, os.path.join(out_dir, os.path.relpath(path, common)))
        if world > 1:  # rank 0 moves the folder into place once the test returns: every rank must be done
            from mmengine.dist import barrier

            barrier()

    def _draw(self, img_path: str, samples: list, out_file: str) -> None:
        import mmcv
        from mmengine import fileio
        from mmpose.structures import merge_data_samples

        os.makedirs(os.path.dirname(out_file), exist_ok=True)
        img = mmcv.imfrombytes(fileio.get(img_path, backend_args=self.backend_args), channel_order="rgb")
        self._test_index += 1
        self._visualizer.add_datasample(
            os.path.basename(img_path), img, data_sample=merge_data_samples(samples), show=False, draw_gt=False,
            draw_bbox=True, draw_heatmap=True, kpt_thr=self.kpt_thr, out_file=out_file, step=self._test_index)
