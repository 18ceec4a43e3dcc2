# RTMDet-tiny detector of cars and bicycles for a CPU: two classes, rtmdet-tiny_carpose-cpu.py's recipe (320x320, no
# mosaic or MixUp, 12 epochs). The detector of the multi-class top-down pipeline: it finds each car and bicycle with
# its class (label 0 car, 1 bicycle), then rtmpose-t_street.py predicts the keypoints of each box's class.
# Same data as rtmpose-t_street.py (made by `mmpx data synth street data/street-raw -n 400` and
# `mmpx convert labelme data/street-raw data/street --classes car,bicycle`):
#   data/street/annotations/{train,val}.json, data/street/images/
# The keypoint file is read as detection data: mmdet's CocoDataset keeps the boxes of the categories named in
# metainfo.classes (car, category_id 1; bicycle, category_id 2), in that order, and ignores the keypoints.
# For a GPU, inherit rtmdet-tiny_carpose.py the same way (its 640x640 recipe). No pretrained download (init_cfg=None).
_base_ = ['../carpose/rtmdet-tiny_carpose-cpu.py']

data_root = 'data/street/'
metainfo = dict(classes=('car', 'bicycle'), palette=[(220, 20, 60), (0, 128, 255)])

model = dict(bbox_head=dict(num_classes=2))

train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
