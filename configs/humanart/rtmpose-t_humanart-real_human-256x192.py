# RTMPose-t on one Human-Art scenario group: real_human (acrobatics, cosplay, dance, drama, movie).
# MMPose's rtmpose-t_8xb256-420e_humanart-256x192.py with HumanArtScenesDataset selecting the group, plain BN
# and no pretrained download (init_cfg=None). The 2D_virtual_human and 3D_virtual_human configs inherit this.
# Data layout as in MMPose: data/HumanArt/annotations/{training,validation}_humanart.json and
# data/HumanArt/images/<group>/<scenario>/...; a copy without the HumanArt/images/ folders also works
# (HumanArtScenesDataset strips that prefix from file_name when the files are not found with it).
_base_ = ['mmpose::body_2d_keypoint/rtmpose/humanart/rtmpose-t_8xb256-420e_humanart-256x192.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)

groups = ['real_human']

model = dict(backbone=dict(norm_cfg=dict(type='BN'), init_cfg=None))

dataset_type = 'HumanArtScenesDataset'
train_dataloader = dict(dataset=dict(type=dataset_type, groups=groups,
                                     ann_file='HumanArt/annotations/training_humanart.json'))
val_dataloader = dict(dataset=dict(type=dataset_type, groups=groups))
test_dataloader = val_dataloader

# no ann_file: the metric scores the selected images only (the full validation file would count every other
# scenario's people as missed)
val_evaluator = dict(_delete_=True, type='CocoMetric')
test_evaluator = val_evaluator
