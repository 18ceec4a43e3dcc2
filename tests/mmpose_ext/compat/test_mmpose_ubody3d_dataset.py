# Copyright (c) OpenMMLab. All rights reserved.
# Copied from MMPose v1.3.2, tests/test_datasets/test_datasets/test_wholebody_datasets/test_ubody_dataset.py
# (https://github.com/open-mmlab/mmpose, Apache-2.0); only ``data_root`` changed, to the copy of its annotation
# file in tests/data/mmpose/ubody3d/ (the tests read no images).
"""MMPose's own test, run with mmpose-ext's compatibility fixes applied.

UBody3dDataset: could not be built on NumPy 2 (``ValueError: setting an array element with a sequence``; both
tests failed) (``mmpose_ext.compat.numpy2_ubody3d``).
"""
from pathlib import Path
from unittest import TestCase

import numpy as np
import pytest
from mmpose.datasets.datasets.wholebody3d import UBody3dDataset

import mmpose_ext  # noqa: F401  (the compatibility fixes under test)

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose
DATA = Path(__file__).resolve().parents[2] / 'data' / 'mmpose'


class TestUBody3dDataset(TestCase):

    def build_ubody3d_dataset(self, **kwargs):

        cfg = dict(
            ann_file='ubody3d_train.json',
            data_mode='topdown',
            data_root=str(DATA / 'ubody3d'),
            pipeline=[],
            test_mode=False)

        cfg.update(kwargs)
        return UBody3dDataset(**cfg)

    def check_data_info_keys(self, data_info: dict):
        expected_keys = dict(
            img_paths=list,
            keypoints=np.ndarray,
            keypoints_3d=np.ndarray,
            scale=np.ndarray,
            center=np.ndarray,
            id=int)

        for key, type_ in expected_keys.items():
            self.assertIn(key, data_info)
            self.assertIsInstance(data_info[key], type_, key)

    def test_metainfo(self):
        dataset = self.build_ubody3d_dataset()
        # test dataset_name
        self.assertEqual(dataset.metainfo['dataset_name'], 'ubody3d')

        # test number of keypoints
        num_keypoints = 137
        self.assertEqual(dataset.metainfo['num_keypoints'], num_keypoints)
        self.assertEqual(
            len(dataset.metainfo['keypoint_colors']), num_keypoints)
        self.assertEqual(
            len(dataset.metainfo['dataset_keypoint_weights']), num_keypoints)

        # test some extra metainfo
        self.assertEqual(
            len(dataset.metainfo['skeleton_links']),
            len(dataset.metainfo['skeleton_link_colors']))

    def test_topdown(self):
        # test topdown training
        dataset = self.build_ubody3d_dataset(data_mode='topdown')
        dataset.full_init()
        self.assertEqual(len(dataset), 1)
        self.check_data_info_keys(dataset[0])

        # test topdown testing
        dataset = self.build_ubody3d_dataset(
            data_mode='topdown', test_mode=True)
        dataset.full_init()
        self.assertEqual(len(dataset), 1)
        self.check_data_info_keys(dataset[0])

        # test topdown training with sequence config
        dataset = self.build_ubody3d_dataset(
            data_mode='topdown',
            seq_len=1,
            seq_step=1,
            causal=False,
            pad_video_seq=True)
        dataset.full_init()
        self.assertEqual(len(dataset), 1)
        self.check_data_info_keys(dataset[0])
