# RTMPose-t trained on Human-Art's real_human group, validated and tested on two splits of the same dataset
# class side by side: real_human and 2D_virtual_human, each scored on its own images by its own CocoMetric.
# CombinedDatasetEvaluator reports humanart-real_human/coco/AP, humanart-2D_virtual_human/coco/AP, ... and
# their mean (mean/coco/AP) and instance-weighted mean (weighted/coco/AP). IndexedCombinedDataset tags each
# sample with its split, so the two splits (both named 'humanart') do not merge as in MMPose's
# MultiDatasetEvaluator. See docs/guides/evaluation-multi.md.
_base_ = ['./rtmpose-t_humanart-real_human-256x192.py']

data_root = 'data/'
val_split = dict(type='HumanArtScenesDataset', data_root=data_root, data_mode='topdown',
                 ann_file='HumanArt/annotations/validation_humanart.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=[])
val_splits = [dict(val_split, groups=['real_human']), dict(val_split, groups=['2D_virtual_human'])]

val_dataloader = dict(
    dataset=dict(_delete_=True, type='IndexedCombinedDataset',
                 metainfo=dict(from_file='configs/_base_/datasets/humanart.py'),
                 datasets=val_splits, pipeline={{_base_.val_pipeline}}, test_mode=True))
test_dataloader = val_dataloader

# no ann_file: each CocoMetric scores its own split's images only
val_evaluator = dict(_delete_=True, type='CombinedDatasetEvaluator',
                     metrics=[dict(type='CocoMetric'), dict(type='CocoMetric')], datasets=val_splits)
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(save_best='mean/coco/AP'))
