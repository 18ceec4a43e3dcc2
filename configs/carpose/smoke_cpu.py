# CPU smoke test: RTMPose-t on synthetic cars at 128x128, a few epochs, in about a minute on 2 cores.
# It checks the whole path (synthesise -> convert -> train -> evaluate), not accuracy:
#   mmpx data synth carpose data/carpose_synth_labelme --n 200 --seed 0
#   mmpx convert labelme data/carpose_synth_labelme data/carpose_synth --category car \
#       --metainfo mmpose_ext::datasets/metainfo/carpose.py --images copy
#   mmpx train carpose-smoke_cpu --work-dir work_dirs/smoke_cpu
_base_ = ['./rtmpose-t_carpose-256x256.py']

data_root = 'data/carpose_synth/'
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(optimizer=dict(lr=4e-3, weight_decay=0.))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20)]
auto_scale_lr = dict(base_batch_size=16)

codec = dict(type='SimCCLabel', input_size=(128, 128), sigma=(2.83, 2.83), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
model = dict(
    head=dict(input_size=codec['input_size'], in_featuremap_size=(4, 4), decoder=codec),
    test_cfg=dict(flip_test=False))

# light augmentation only: the point is speed
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', scale_factor=[0.8, 1.2], rotate_factor=15),
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
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

default_hooks = dict(checkpoint=dict(interval=5, save_best=None, max_keep_ckpts=1),
                     logger=dict(interval=10))
custom_hooks = []  # no EMA and no pipeline switch in a run this short
