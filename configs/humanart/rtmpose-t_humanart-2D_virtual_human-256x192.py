# RTMPose-t on one Human-Art scenario group: 2D_virtual_human (cartoon, digital art, ink painting, kids
# drawing, mural, oil painting, shadow play, sketch, stained glass, ukiyoe, watercolor).
# Everything else as in rtmpose-t_humanart-real_human-256x192.py.
_base_ = ['./rtmpose-t_humanart-real_human-256x192.py']

groups = ['2D_virtual_human']
train_dataloader = dict(dataset=dict(groups=groups))
val_dataloader = dict(dataset=dict(groups=groups))
test_dataloader = val_dataloader
