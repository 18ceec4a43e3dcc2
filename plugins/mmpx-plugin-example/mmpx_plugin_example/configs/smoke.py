# A top-down heatmap model on the synthetic kites that trains on a CPU in seconds: a smoke test of the whole
# path (plugin backbone and dataset, MMPose head, codec, CocoMetric) and a template for plugin configs.
#
#   mmpx train "$(mmpx example-info --config smoke)" --work-dir work_dirs/example_smoke
#   python .../mmpose/.mim/tools/train.py <this file> --work-dir ...   (custom_imports registers the classes)
_base_ = ['mmpose::_base_/default_runtime.py']

# mmpose_ext first: its compatibility fixes must run before mmpose is used
custom_imports = dict(
    imports=['mmpose_ext', 'mmpx_plugin_example.backbone', 'mmpx_plugin_example.dataset'],
    allow_failed_imports=False)

max_epochs = 6
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, eta_min=1e-4,
                        by_epoch=True, convert_to_iter_based=True)]
auto_scale_lr = dict(base_batch_size=16)
randomness = dict(seed=0)

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='coco/AP', rule='greater'),
    logger=dict(type='LoggerHook', interval=8))
log_processor = dict(window_size=8)

codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1.5, unbiased=True)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ExampleTinyNet', widths=(16, 32, 64), strides=(2, 2, 2), init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=64, out_channels=4, deconv_out_channels=(32, ),
              deconv_kernel_sizes=(4, ), loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec, init_cfg=None),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
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

train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ExampleShapesDataset', num_samples=128, img_size=96, seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ExampleShapesDataset', num_samples=64, img_size=96, seed=1, test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader

# no ann_file: the metric builds its ground truth from each sample's raw_ann_info
val_evaluator = dict(type='CocoMetric')
test_evaluator = val_evaluator
