# __CLASS__ + a heatmap head for the 8 car keypoints at 96x96: `mmpx train __NAME__-net-carpose` (after pointing
# data_root at a converted car set, e.g. `mmpx quickstart`'s WORK/data, or --cfg-options ...data_root=...).
# Inherit it in your own config with _base_ = ['mmpx::__NAME__-net-carpose'].
_base_ = ['mmpose::_base_/default_runtime.py']
# MMPose's own tools/train.py registers the classes through custom_imports (mmpx train loads plugins itself)
custom_imports = dict(imports=[
    'mmpose_ext',
    __IMPORTS__
], allow_failed_imports=False)

data_root = 'data/carpose/'
max_epochs = 20
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True)]

codec = dict(type='MSRAHeatmap', input_size=(96, 96), heatmap_size=(24, 24), sigma=1.5)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    # stride 16 at 96x96: 6x6 features; two deconvolutions make the 24x24 heatmaps
    backbone=dict(type='__CLASS__', widths=(32, 64, 128)),  # a plain nn.Module: no init_cfg
    head=dict(type='HeatmapHead', in_channels=128, out_channels=8, deconv_out_channels=(64, 64),
              deconv_kernel_sizes=(4, 4), loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    __TRANSFORM_STEP__
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
# __DATASET_NOTE__
dataset = dict(type='__DATASET__', data_root=data_root, data_mode='topdown', data_prefix=dict(img='images/'))
train_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, ann_file='annotations/train.json', pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, num_workers=1, persistent_workers=True, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, ann_file='annotations/val.json', test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PCKAccuracy', thr=0.05, norm_item='bbox')]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=1, save_best='PCK',
                                     rule='greater'))
