# RTMDet-tiny car detector for a GPU: RTMDet's COCO recipe (640x640, cached mosaic and MixUp, batch 32, 300 epochs).
# On a CPU use rtmdet-tiny_carpose-cpu.py (320x320, no mosaic or MixUp): on 2 cores this one took 52 s per
# iteration against its 1.8 s. The detector of the top-down car keypoint pipeline (cars, then RTMPose on each box).
# Trains on the same converted dataset as the RTMPose carpose configs (its car boxes, one class):
#   data/carpose/annotations/{train,val}.json, data/carpose/images/
# mmdet's RTMDet-tiny with num_classes=1, plain BN and no pretrained download (init_cfg=None).
_base_ = ['mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)

data_root = 'data/carpose/'
metainfo = dict(classes=('car', ), palette=[(220, 20, 60)])
norm_cfg = dict(type='BN')

model = dict(
    backbone=dict(norm_cfg=norm_cfg, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    bbox_head=dict(num_classes=1, norm_cfg=norm_cfg))

train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo,
                                     ann_file='annotations/train.json', data_prefix=dict(img='images/')))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
                                   data_prefix=dict(img='images/')))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
