# RTMDet-tiny car detector for a CPU: rtmdet-tiny_carpose.py at 320x320 without mosaic or MixUp, 12 epochs.
# Which one to use: this one on a laptop or any machine without a GPU; rtmdet-tiny_carpose.py (RTMDet's own COCO
# recipe: 640x640, cached mosaic and MixUp, batch 32, a 1000-iteration warm-up, 300 epochs) on a GPU. On 2 CPU
# cores this one took 1.8 s per iteration (0.23 s per image), the 640 recipe 52 s (1.6 s per image), days per
# run; benchmarks/detector_cpu.py measures both.
# Same data as the other carpose configs: data/carpose/annotations/{train,val}.json, data/carpose/images/.
#
# Why each change: the network costs about 4x less per image at 320 than at 640; mosaic and MixUp build each
# sample from 4-5 images (loading, decoding and resizing them), and the cached variants keep them in every worker;
# a 1000-iteration warm-up and a cosine from epoch 150 of 300 would never end on a short run; batch 8 with 2
# workers fits a laptop's cores and memory (the 640 recipe's training process held over 5 GB). The network is the same;
# infer with the config you trained with, as each tests at its own size.
_base_ = ['./rtmdet-tiny_carpose.py']

input_size = (320, 320)
max_epochs = 12
base_lr = 1e-3  # AdamW at batch 8; RTMDet's 4e-3 is for batch 256
batch_size = 8

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=input_size, ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=input_size),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=input_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=input_size, keep_ratio=True),
    dict(type='Pad', size=input_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=batch_size, num_workers=2, persistent_workers=True, pin_memory=False,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True, pin_memory=False,
                      dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=max_epochs, val_interval=4, dynamic_intervals=None)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=batch_size)
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=2, save_best='coco/bbox_mAP'),
                     logger=dict(interval=10))
# EMA as in RTMDet; no PipelineSwitchHook: there is no mosaic to switch off for the last epochs
custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, priority=49)]
