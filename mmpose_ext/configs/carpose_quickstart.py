# The quickstart's model: a small ResNet-18 top-down heatmap model for the 8 car keypoints at 96x96, trained from
# scratch on the CPU (no pretrained weights can be downloaded). `mmpx quickstart` writes WORK/config.py, which
# inherits this file and sets data_root. Why this and not RTMPose-t: from scratch on 2 CPU cores, RTMPose-t
# (SimCC) was at PCK@0.05 0.06 after 3 minutes; this model passes 0.9 within the 5-minute budget
# (docs/guides/quickstart.md has the measurements). Why 96x96 with 3 ResNet stages and 64-channel deconvolutions:
# 2.6x less time per iteration than the full ResNet-18 at 128x128, and it learned faster per iteration too.
# 22 epochs: 20 ended at PCK 0.906-0.909, 24 at 0.922 but in 280 s of the 300.
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)

data_root = 'data/carpose/'
max_epochs = 22
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=6)
randomness = dict(seed=0)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]

codec = dict(type='MSRAHeatmap', input_size=(96, 96), heatmap_size=(24, 24), sigma=1.5)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, num_stages=3, out_indices=(2, ), strides=(1, 2, 2),
                  dilations=(1, 1, 1), init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=256, out_channels=8, deconv_out_channels=(64, 64),
              deconv_kernel_sizes=(4, 4), loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),  # swaps left and right keypoints (the metainfo's swaps)
    dict(type='RandomBBoxTransform', scale_factor=[0.85, 1.15], rotate_factor=10, shift_factor=0.1),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
dataset = dict(type='CarPoseDataset', data_root=data_root, data_mode='topdown', data_prefix=dict(img='images/'))
# one loader worker: on 2 cores it overlaps image decoding with the model's step; more would only compete.
# Persistent: starting a worker every epoch made the 20 epochs 17 s slower here.
train_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, ann_file='annotations/train.json', pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, num_workers=1, persistent_workers=True, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, ann_file='annotations/val.json', test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PCKAccuracy', thr=0.05, norm_item='bbox'),
                 dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json')]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=6, max_keep_ckpts=1, save_best='PCK',
                                     rule='greater'),
                     logger=dict(type='LoggerHook', interval=10))
# channels-last weights: oneDNN's CPU convolutions run this model 1.19x faster per step (mmpose_ext.engine)
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='ChannelsLastHook')]
