# RTMPose-l for 8 car keypoints, 256x256: rtmpose-t_carpose-256x256.py (data layout documented there) with a
# larger CSPNeXt (deepen 1., widen 1.) and a head of matching width.
_base_ = ['./rtmpose-t_carpose-256x256.py']

model = dict(
    backbone=dict(deepen_factor=1., widen_factor=1.),
    head=dict(in_channels=1024))
