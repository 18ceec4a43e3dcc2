# A small ConvNeXt from transformers (HFBackbone) with RTMPose's SimCC head (RTMCCHead)
# for the 8 car keypoints of `mmpx data synth carpose` + `mmpx convert labelme`, at 128x128, from scratch.
#
#   mmpx train transformers-convnext-rtmcc-carpose --work-dir work_dirs/convnext_rtmcc
#   (data in data/carpose/; elsewhere: --cfg-options train_dataloader.dataset.data_root=DATA/
#    val_dataloader.dataset.data_root=DATA/ test_dataloader.dataset.data_root=DATA/)
#   your own config: _base_ = ['mmpx::transformers-convnext-rtmcc-carpose'], then the three data_roots
#   MMPose's tools/train.py runs this file as is (custom_imports below); its path:
#   mmpx configs path transformers-convnext-rtmcc-carpose
#
# The head settings follow from the backbone: `mmpx transformers-info convnext -c hidden_sizes=[32,64,128,256]
# -c depths=[1,1,2,1] --input-size 128 128` prints in_channels=256 and
# in_featuremap_size=(4, 4) (stride 32).
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
# sigma in SimCC bins (2 per pixel): RTMPose's 4.9 at 192 wide, scaled to 128
codec = dict(type='SimCCLabel', input_size=input_size, sigma=(3.3, 3.3), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)

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
        type='RTMCCHead',
        in_channels=256,
        out_channels=8,
        input_size=codec['input_size'],
        in_featuremap_size=tuple(s // 32 for s in codec['input_size']),
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=3,
        gau_cfg=dict(hidden_dims=128, s=64, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn='SiLU',
                     use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

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
