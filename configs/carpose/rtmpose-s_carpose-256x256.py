# RTMPose-s for 8 car keypoints, 256x256: rtmpose-t_carpose-256x256.py (data layout documented there) with a
# larger CSPNeXt (deepen 0.33, widen 0.5) and a head of matching width.
_base_ = ['./rtmpose-t_carpose-256x256.py']

model = dict(
    backbone=dict(deepen_factor=0.33, widen_factor=0.5),
    head=dict(in_channels=512))
