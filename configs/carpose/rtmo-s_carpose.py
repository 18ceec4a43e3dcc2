# rtmo-s for 8 keypoints, 640x640 input (width x height).
# Written by: mmpx configs new --data data/carpose --metainfo mmpose_ext::datasets/metainfo/carpose.py --model
# rtmo-s --out configs/carpose/rtmo-s_carpose.py
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
# 160 train images, batch 32: 5 step(s) an epoch; at least 600 epochs (rtmo-s's schedule) and at least 3000 steps,
# at most 1500 epochs; validation every 30 epoch(s). Learning rate 0.0014: the model's rate at its default batch,
# scaled by the square root of a smaller batch
max_epochs = 600
train_cfg = dict(max_epochs=max_epochs, val_interval=30)
randomness = dict(seed=21)

base_lr = 0.0014
# AdamW with the transformer encoder of the neck at 5% of the rate and clipped gradients (RTMO)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='ForceDefaultOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True, force_default_settings=True,
                       custom_keys=dict({'neck.encoder': dict(lr_mult=0.05)})),
    clip_grad=dict(max_norm=0.1, norm_type=2))
# warm-up over 300 steps, then a cosine from half-way down to 5%
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end=300),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=32)

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

# input size 640x640: 640, the input side of MMPose's rtmo-s configs; whole images are resized to fit it
# model: RTMO (rtmo-s): CSPDarknet backbone, HybridEncoder neck, RTMOHead; whole images in,
# boxes and keypoints out, no detector. The OKS sigmas of the assigner and the loss come from the metainfo file.
input_size = (640, 640)
metafile = metainfo['from_file']
codec = dict(type='YOLOXPoseAnnotationProcessor', input_size=input_size)
widen_factor = 0.5
deepen_factor = 0.33
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', pad_size_divisor=32, mean=[0, 0, 0], std=[1, 1, 1],
        # each batch at a random size from 75% to 125% of the input (multiples of 32)
        batch_augments=[dict(type='BatchSyncRandomResize', random_size_range=(480, 800), size_divisor=32,
                             interval=1)]),
    backbone=dict(
        type='CSPDarknet', deepen_factor=deepen_factor, widen_factor=widen_factor, out_indices=(2, 3, 4),
        spp_kernal_sizes=(5, 9, 13), norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish'),
        init_cfg=None),  # no download; --load-from CKPT for your own weights
    neck=dict(
        type='HybridEncoder', in_channels=[128, 256, 512], deepen_factor=deepen_factor,
        widen_factor=widen_factor, hidden_dim=256, output_indices=[1, 2],
        encoder_cfg=dict(self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
                         ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, ffn_drop=0.0,
                                      act_cfg=dict(type='GELU'))),
        projector=dict(type='ChannelMapper', in_channels=[256, 256], kernel_size=1, out_channels=256,
                       act_cfg=None, norm_cfg=dict(type='BN'), num_outs=2)),
    head=dict(
        type='RTMOHead',
        num_keypoints=8,  # the metainfo's keypoint count
        featmap_strides=(16, 32),
        head_module_cfg=dict(num_classes=1, in_channels=256, cls_feat_channels=256, channels_per_group=36,
                             pose_vec_channels=256, widen_factor=widen_factor, stacked_convs=2,
                             norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish')),
        assigner=dict(type='SimOTAAssigner', dynamic_k_indicator='oks',
                      oks_calculator=dict(type='PoseOKS', metainfo=metafile), use_keypoints_for_center=True),
        prior_generator=dict(type='MlvlPointGenerator', centralize_points=True, strides=[16, 32]),
        dcc_cfg=dict(in_channels=256, feat_channels=128, num_bins=(192, 256), spe_channels=128,
                     gau_cfg=dict(s=128, expansion_factor=2, dropout_rate=0.0, drop_path=0.0, act_fn='SiLU',
                                  pos_enc='add')),
        overlaps_power=0.5,
        loss_cls=dict(type='VariFocalLoss', reduction='sum', use_target_weight=True, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum', loss_weight=5.0),
        loss_oks=dict(type='OKSLoss', reduction='none', metainfo=metafile, loss_weight=30.0),
        loss_vis=dict(type='BCELoss', use_target_weight=True, reduction='mean', loss_weight=1.0),
        loss_mle=dict(type='MLECCLoss', use_target_weight=True, loss_weight=1.0),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    test_cfg=dict(input_size=input_size, score_thr=0.1, nms_thr=0.65))

# pipelines: whole images; mosaics of four images and mix-up first, plain
# resized images for the last epochs (RTMO); instances without a box or keypoint are dropped
# flip: the metainfo pairs 4 left/right keypoint(s)
train_pipeline_stage1 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='Mosaic', img_scale=input_size, pad_val=114.0,
         pre_transform=[dict(type='LoadImage', backend_args=backend_args)]),
    dict(type='BottomupRandomAffine', input_size=input_size, shift_factor=0.1, rotate_factor=10,
         scale_factor=(0.75, 1.0), pad_val=114, distribution='uniform', transform_mode='perspective',
         bbox_keep_corner=False, clip_border=True),
    dict(type='YOLOXMixUp', img_scale=input_size, ratio_range=(0.8, 1.6), pad_val=114.0,
         pre_transform=[dict(type='LoadImage', backend_args=backend_args)]),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupRandomAffine', input_size=input_size, shift_prob=0, rotate_prob=0, scale_prob=0,
         scale_type='long', pad_val=(114, 114, 114), bbox_keep_corner=False, clip_border=True),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='BottomupGetHeatmapMask', get_invalid=True),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline = train_pipeline_stage1
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupResize', input_size=input_size, pad_val=(114, 114, 114)),
    dict(type='PackPoseInputs', meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape', 'input_size',
                                           'input_center', 'input_scale')),
]

# batch size capped by the number of training images
train_dataloader = dict(
    batch_size=32,
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

default_hooks = dict(checkpoint=dict(interval=30, save_best='coco/AP', rule='greater',
                                     max_keep_ckpts=1))
# COCO AP against the whole val file (images without instances included), OKS with the metainfo's sigmas;
# no extra NMS: the model's own output is scored
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json', score_mode='bbox',
                     nms_mode='none')
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json', score_mode='bbox',
                      nms_mode='none')
# the last 20 epoch(s) train on plain images (no mosaic); from epoch 280
# the keypoint losses weigh more (RTMO's schedule, scaled from its 600 epochs)
custom_hooks = [
    dict(type='YOLOXPoseModeSwitchHook', num_last_epochs=20, new_train_pipeline=train_pipeline_stage2,
         priority=48),
    dict(type='RTMOModeSwitchHook', epoch_attributes={280: {'proxy_target_cc': True,
                                                               'loss_mle.loss_weight': 5.0,
                                                               'loss_oks.loss_weight': 10.0}}, priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, strict_load=False,
         priority=49),
]
