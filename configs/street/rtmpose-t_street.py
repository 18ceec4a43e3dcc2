# RTMPose-t for cars and bicycles in one model (MultiClassCocoDataset), 128x128: 14 keypoints, the classes' union.
# Classes: car (category_id 1: keypoints 0-7), bicycle (category_id 2: keypoints 8-13). Each instance is trained on
# its own class's keypoints only (the others have weight 0, the losses use use_target_weight=True) and scored on
# them (coco/car/AP, coco/bicycle/AP; coco/AP is their mean); flipping swaps keypoints within a class
# (docs/guides/multiclass.md).
#
# Data layout (synthetic street scenes; the same commands convert your own labelme folder):
#   mmpx data synth street data/street-raw -n 400
#   mmpx convert labelme data/street-raw data/street --classes car,bicycle
# which writes
#   data/street/annotations/train.json   COCO keypoints, one category per class (8 keypoints a car, 6 a bicycle)
#   data/street/annotations/val.json
#   data/street/images/                  the images named in file_name
#   data/street/metainfo.py              the multi-class metainfo (keypoint names in sorted order, as below)
# Paths are relative to the folder you run mmpx train in; change data_root and metainfo with --cfg-options.
# Written by `mmpx configs new --data data/street --model rtmpose-t --input-size 128x128 --epochs 60`, then made
# CPU-friendly: 128x128 (the synthetic boxes are about 107x65 px), batch 32 with 2 workers, 60 epochs (about 1300
# steps on 400 images), a 100-step warm-up. On a GPU raise the batch and the epochs (configs new's default: 280).
# No pretrained weights are downloaded (init_cfg=None); --load-from CKPT starts from a checkpoint of yours.
#
# keypoints (index: name -> flip partner):
#     0: car/left_front_bumper -> car/right_front_bumper
#     1: car/left_front_tire -> car/right_front_tire
#     2: car/left_rear_bumper -> car/right_rear_bumper
#     3: car/left_rear_tire -> car/right_rear_tire
#     4: car/right_front_bumper -> car/left_front_bumper
#     5: car/right_front_tire -> car/left_front_tire
#     6: car/right_rear_bumper -> car/left_rear_bumper
#     7: car/right_rear_tire -> car/left_rear_tire
#     8: bicycle/front_wheel
#     9: bicycle/left_handlebar -> bicycle/right_handlebar
#    10: bicycle/pedals
#    11: bicycle/rear_wheel
#    12: bicycle/right_handlebar -> bicycle/left_handlebar
#    13: bicycle/saddle
# OKS sigmas: the converter's default 0.025 for every keypoint: AP is comparable between runs on this data only.

_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)

# runtime
# 60 epochs of about 22 steps at batch 32; validation every 10 epochs. Learning rate 0.004 as configs new
# writes it (the model's default at batch 64 scaled by the square root of a smaller batch)
max_epochs = 60
stage2_num_epochs = 10  # the last epochs train on milder augmentation (RTMPose)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
randomness = dict(seed=21)

base_lr = 0.004
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
# warm-up over 100 steps, then the rate stays until half-way and falls on a cosine to 5% (RTMPose)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=32)

# codec and model: SimCC, sigma growing with the square root of each side as in RTMPose's configs
codec = dict(type='SimCCLabel', input_size=(128, 128), sigma=(4.0, 4.0), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.167, widen_factor=0.375,
        out_indices=(4, ), channel_attention=True,
        norm_cfg=dict(type='BN'),  # plain BN: SyncBN needs a distributed run
        act_cfg=dict(type='SiLU'),
        init_cfg=None),  # no download; load_from or mmpx train --load-from for your own weights
    head=dict(
        type='RTMCCHead',
        in_channels=384,
        out_channels=14,  # the union of the classes' keypoints
        input_size=codec['input_size'],
        in_featuremap_size=tuple(s // 32 for s in codec['input_size']),
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0.,
                     act_fn='SiLU', use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# data: MultiClassCocoDataset (mmpose_ext) reads a COCO file of several categories and puts each instance into its
# class's block of the union; the metainfo lists the classes and gives names, swaps, sigmas and weights
dataset_type = 'MultiClassCocoDataset'
data_mode = 'topdown'
data_root = 'data/street/'
metainfo = dict(from_file='data/street/metainfo.py')
backend_args = dict(backend='local')

# pipelines: no half-body crops (a person's upper/lower body means nothing for other skeletons), rotation
# up to 30 degrees rather than RTMPose's 80
# flip: the metainfo pairs 5 left/right keypoint(s); MMPose takes the flip partners (flip_indices) from the
# metainfo's swaps, listed at the top
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', scale_factor=[0.6, 1.4], rotate_factor=30),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
             min_width=0.2, p=1.),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.75, 1.25], rotate_factor=20),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
             min_width=0.2, p=0.5),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/train.json', data_prefix=dict(img='images/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/val.json', data_prefix=dict(img='images/'), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader

# metric: COCO AP and AR for each class on its own keypoints with its own sigmas, and PCK@0.05 per class; coco/AP is
# the mean over the classes; the best checkpoint by coco/AP is kept
default_hooks = dict(checkpoint=dict(interval=10, save_best='coco/AP', rule='greater',
                                     max_keep_ckpts=1))
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook', switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
val_evaluator = [dict(type='MultiClassCocoMetric'), dict(type='MultiClassPCKAccuracy', thr=0.05)]
test_evaluator = val_evaluator
