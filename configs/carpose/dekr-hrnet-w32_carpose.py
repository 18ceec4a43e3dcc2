# dekr-hrnet-w32 for 8 keypoints, 512x512 input (width x height).
# Written by: mmpx configs new --data data/carpose --metainfo mmpose_ext::datasets/metainfo/carpose.py --model
# dekr-hrnet-w32 --out configs/carpose/dekr-hrnet-w32_carpose.py
#
# Data: data/carpose/annotations/train.json (328 instances with keypoints in 160 images, median box 132x65 px); val
# annotations/val.json; images under data/carpose/images/; metainfo mmpose_ext/datasets/metainfo/carpose.py.
# Paths are relative to the folder you run mmpx train in. No pretrained weights are downloaded (init_cfg=None);
# --load-from CKPT starts from a checkpoint of yours.
#
# keypoints (index: name -> flip partner):
#     0: left_front_bumper -> right_front_bumper
#     1: right_front_bumper -> left_front_bumper
#     2: left_rear_bumper -> right_rear_bumper
#     3: right_rear_bumper -> left_rear_bumper
#     4: left_front_tire -> right_front_tire
#     5: right_front_tire -> left_front_tire
#     6: left_rear_tire -> right_rear_tire
#     7: right_rear_tire -> left_rear_tire
# OKS sigmas (the metainfo's, which CocoMetric uses): 0.089, 0.089, 0.089, 0.089, 0.079, 0.079, 0.079, 0.079.

_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)
default_scope = 'mmpose'

# runtime
# 160 train images, batch 10: 16 step(s) an epoch; at least 140 epochs (dekr-hrnet-w32's schedule) and at least 3000
# steps, at most 1500 epochs; validation every 10 epoch(s). Learning rate 0.001: the model's rate at its default
# batch, scaled by the square root of a smaller batch
max_epochs = 190
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
randomness = dict(seed=21)

base_lr = 0.001
optim_wrapper = dict(optimizer=dict(type='Adam', lr=base_lr))
# warm-up over 304 steps, then the rate falls tenfold at 64% and 86% of the epochs (DEKR's 90 and 120 of
# 140)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=304, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[122, 163], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=10)

# data: CocoDataset in bottom-up mode: one sample per image with all its instances; the metainfo
# gives names, swaps and sigmas. Every instance of a training image must be labelled: an unlabelled one is taught
# as background. Crowd regions (iscrowd=1) are ignored; images without instances are used for evaluation only.
dataset_type = 'CocoDataset'
data_mode = 'bottomup'
data_root = 'data/carpose/'
# mmpose_ext's own carpose.py, wherever the package is installed (the find_spec does not import it)
import importlib.util as _util  # noqa: E402
import os.path as _osp  # noqa: E402

metainfo = dict(from_file=_osp.join(_osp.dirname(_util.find_spec('mmpose_ext').origin), 'datasets', 'metainfo',
                                    'carpose.py'))
backend_args = dict(backend='local')

# input size 512x512: 512, the input side of MMPose's dekr-hrnet-w32 configs; whole images are resized to fit it
# model: DEKR with HRNet-w32 (bottom-up): a heatmap per keypoint plus offsets from each instance's
# centre; MMPose's COCO rescore net is left out (trained for COCO's keypoints)
input_size = (512, 512)
codec = dict(type='SPR', input_size=input_size, heatmap_size=(128, 128), sigma=(4, 2),
             minimal_diagonal_length=32**0.5, generate_keypoint_heatmaps=True, decode_max_instances=30)
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='HRNet', in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ), num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(32, 64)),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                        num_channels=(32, 64, 128)),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                        num_channels=(32, 64, 128, 256), multiscale_output=True)),
        init_cfg=None),  # no download; --load-from CKPT for your own weights
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(
        type='DEKRHead',
        in_channels=480,
        num_keypoints=8,  # the metainfo's keypoint count
        heatmap_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        displacement_loss=dict(type='SoftWeightSmoothL1Loss', use_target_weight=True, supervise_empty=False,
                               beta=1 / 9, loss_weight=0.002),
        decoder=codec),
    test_cfg=dict(multiscale_test=False, flip_test=True, nms_dist_thr=0.05, shift_heatmap=True,
                  align_corners=False))
find_unused_parameters = True

# pipelines: whole images, random affine (scale, rotation, shift) to the input size; crowd regions
# are masked out of the heatmap loss (BottomupGetHeatmapMask)
# flip: the metainfo pairs 4 left/right keypoint(s)
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupResize', input_size=codec['input_size'], size_factor=32, resize_mode='expand'),
    dict(type='PackPoseInputs', meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape', 'img_shape',
                                           'input_size', 'input_center', 'input_scale', 'flip', 'flip_direction',
                                           'flip_indices', 'raw_ann_info', 'skeleton_links')),
]

# batch size capped by the number of training images
train_dataloader = dict(
    batch_size=10,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/train.json', data_prefix=dict(img='images/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/val.json', data_prefix=dict(img='images/'), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/val.json', data_prefix=dict(img='images/'), test_mode=True,
                 pipeline=val_pipeline))

default_hooks = dict(checkpoint=dict(interval=10, save_best='coco/AP', rule='greater',
                                     max_keep_ckpts=1))
# COCO AP against the whole val file (images without instances included), OKS with the metainfo's sigmas;
# no extra NMS: the model's own output is scored
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json', score_mode='keypoint',
                     nms_mode='none')
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json', score_mode='keypoint',
                      nms_mode='none')
