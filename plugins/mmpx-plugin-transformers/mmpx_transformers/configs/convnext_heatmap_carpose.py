# A small ConvNeXt from transformers (HFBackbone) with a heatmap head (HeatmapHead)
# for the 8 car keypoints of `mmpx data synth carpose` + `mmpx convert labelme`, at 128x128, from scratch.
#
#   mmpx train transformers-convnext-heatmap-carpose --work-dir work_dirs/convnext_heatmap
#   (data in data/carpose/; elsewhere: --cfg-options train_dataloader.dataset.data_root=DATA/
#    val_dataloader.dataset.data_root=DATA/ test_dataloader.dataset.data_root=DATA/)
#   your own config: _base_ = ['mmpx::transformers-convnext-heatmap-carpose'], then the three data_roots
#   MMPose's tools/train.py runs this file as is (custom_imports below); its path:
#   mmpx configs path transformers-convnext-heatmap-carpose
#
# The head settings follow from the backbone: `mmpx transformers-info convnext -c hidden_sizes=[32,64,128,256]
# -c depths=[1,1,2,1] --input-size 128 128` prints in_channels=256, a 4x4 map
# (stride 32) and 3 deconv layers (4 -> 8 -> 16 -> 32) for the usual heatmap_size of input / 4.
_base_ = ['mmpose::_base_/default_runtime.py']

# mmpose_ext first (its compatibility fixes run before mmpose is used), then the module registering
# HFBackbone
custom_imports = dict(imports=['mmpose_ext', 'mmpx_transformers.backbone'], allow_failed_imports=False)

data_root = 'data/carpose/'
max_epochs = 60
base_lr = 2e-3
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
randomness = dict(seed=0)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=base_lr * 0.05, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=32)

input_size = (128, 128)
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32), sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    # HF ConvNeXt/ResNet weights expect ImageNet mean/std on 0-1 RGB; these are the same in 0-255 (BGR input)
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='HFBackbone',
        model_type='convnext',
        config=dict(num_channels=3, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 2, 1]),
        out_indices=(-1, ),
        weights=None,  # or a save_pretrained folder / .safetensors of the same architecture (never a Hub id)
        init_cfg=None),
    head=dict(
        type='HeatmapHead',
        in_channels=256,
        out_channels=8,
        # three deconvolutions double the 4x4 map three times: 32x32, the codec's heatmap_size
        deconv_out_channels=(64, 64, 64),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
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
dataset = dict(type='CarPoseDataset', data_root=data_root, data_mode='topdown',
               data_prefix=dict(img='images/'))
train_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, ann_file='annotations/train.json', pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, num_workers=1, persistent_workers=True, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, ann_file='annotations/val.json', test_mode=True,
                                   pipeline=val_pipeline))
test_dataloader = val_dataloader
# CocoMetric without ann_file reads the validation dataset's own, so only the datasets name data_root
val_evaluator = [dict(type='PCKAccuracy', thr=0.05, norm_item='bbox'), dict(type='CocoMetric')]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_best='PCK',
                                     rule='greater'),
                     logger=dict(type='LoggerHook', interval=10))
