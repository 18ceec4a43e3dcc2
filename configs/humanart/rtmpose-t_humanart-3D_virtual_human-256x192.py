# RTMPose-t on one Human-Art scenario group: 3D_virtual_human (garage kits, relief, sculpture).
# Everything else as in rtmpose-t_humanart-real_human-256x192.py.
_base_ = ['./rtmpose-t_humanart-real_human-256x192.py']

groups = ['3D_virtual_human']
train_dataloader = dict(dataset=dict(groups=groups))
val_dataloader = dict(dataset=dict(groups=groups))
test_dataloader = val_dataloader
