"""The text of ``mmpx configs new``'s whole-image configs: RTMO-t/s (one-stage: boxes and keypoints in one pass,
MMPose's rtmo configs) and DEKR with HRNet-w32 (bottom-up: keypoint heatmaps and offsets to each instance's
centre). Everything that depends on the keypoint set follows the metainfo: the head's keypoint count, the OKS
sigmas of RTMO's assigner and loss (read from the same metainfo file), the flip partners, the metric's sigmas.
No pretrained weights (init_cfg=None); DEKR's COCO rescore net is left out (it is trained for COCO's 17 keypoints).
"""

from __future__ import annotations

from pathlib import Path

from mmpx.configs.new import Plan

# RTMO: widen factor and the neck's/head's channels (MMPose's rtmo-t body7 and rtmo-s coco configs)
RTMO = {"rtmo-t": (0.375, 192, (96, 192, 384)), "rtmo-s": (0.5, 256, (128, 256, 512))}


def _side(plan: Plan) -> int:
    return plan.input_size[0]


def _round32(value: float) -> int:
    return max(32, round(value / 32) * 32)


def _runtime(plan: Plan) -> str:
    from mmpx.configs.new_text import _wrap

    why = "\n".join(_wrap(plan.why["epochs"] + f"; validation every {plan.val_interval} epoch(s). Learning rate "
                          f"{plan.lr:.3g}: the model's rate at its default batch, scaled by the square root of a "
                          "smaller batch"))
    if plan.model.startswith("rtmo"):
        optim = f"""base_lr = {plan.lr:.3g}
# AdamW with the transformer encoder of the neck at 5% of the rate and clipped gradients (RTMO)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='ForceDefaultOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True, force_default_settings=True,
                       custom_keys=dict({{'neck.encoder': dict(lr_mult=0.05)}})),
    clip_grad=dict(max_norm=0.1, norm_type=2))
# warm-up over {plan.warmup} steps, then a cosine from half-way down to 5%
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end={plan.warmup}),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size={plan.batch})"""
    else:
        first, second = max(1, round(plan.epochs * 90 / 140)), max(1, round(plan.epochs * 120 / 140))
        optim = f"""base_lr = {plan.lr:.3g}
optim_wrapper = dict(optimizer=dict(type='Adam', lr=base_lr))
# warm-up over {plan.warmup} steps, then the rate falls tenfold at 64% and 86% of the epochs (DEKR's 90 and 120 of
# 140)
param_scheduler = [
    dict(type='LinearLR', begin=0, end={plan.warmup}, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[{first}, {second}], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size={plan.batch})"""
    return "\n".join([f"# runtime\n{why}", f"max_epochs = {plan.epochs}",
                      f"train_cfg = dict(max_epochs=max_epochs, val_interval={plan.val_interval})",
                      "randomness = dict(seed=21)", "", optim])


def _rtmo_model(plan: Plan) -> str:
    s = _side(plan)
    widen, channels, backbone_out = RTMO[plan.model]
    low, high = _round32(s * 0.75), _round32(s * 1.25)
    return f"""# model: RTMO ({plan.model}): CSPDarknet backbone, HybridEncoder neck, RTMOHead; whole images in,
# boxes and keypoints out, no detector. The OKS sigmas of the assigner and the loss come from the metainfo file.
input_size = ({s}, {s})
metafile = metainfo['from_file']
codec = dict(type='YOLOXPoseAnnotationProcessor', input_size=input_size)
widen_factor = {widen}
deepen_factor = 0.33
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', pad_size_divisor=32, mean=[0, 0, 0], std=[1, 1, 1],
        # each batch at a random size from 75% to 125% of the input (multiples of 32)
        batch_augments=[dict(type='BatchSyncRandomResize', random_size_range=({low}, {high}), size_divisor=32,
                             interval=1)]),
    backbone=dict(
        type='CSPDarknet', deepen_factor=deepen_factor, widen_factor=widen_factor, out_indices=(2, 3, 4),
        spp_kernal_sizes=(5, 9, 13), norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish'),
        init_cfg=None),  # no download; --load-from CKPT for your own weights
    neck=dict(
        type='HybridEncoder', in_channels={list(backbone_out)}, deepen_factor=deepen_factor,
        widen_factor=widen_factor, hidden_dim=256, output_indices=[1, 2],
        encoder_cfg=dict(self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
                         ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, ffn_drop=0.0,
                                      act_cfg=dict(type='GELU'))),
        projector=dict(type='ChannelMapper', in_channels=[256, 256], kernel_size=1, out_channels={channels},
                       act_cfg=None, norm_cfg=dict(type='BN'), num_outs=2)),
    head=dict(
        type='RTMOHead',
        num_keypoints={len(plan.names)},  # the metainfo's keypoint count
        featmap_strides=(16, 32),
        head_module_cfg=dict(num_classes=1, in_channels=256, cls_feat_channels=256, channels_per_group=36,
                             pose_vec_channels={channels}, widen_factor=widen_factor, stacked_convs=2,
                             norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish')),
        assigner=dict(type='SimOTAAssigner', dynamic_k_indicator='oks',
                      oks_calculator=dict(type='PoseOKS', metainfo=metafile), use_keypoints_for_center=True),
        prior_generator=dict(type='MlvlPointGenerator', centralize_points=True, strides=[16, 32]),
        dcc_cfg=dict(in_channels={channels}, feat_channels=128, num_bins=(192, 256), spe_channels=128,
                     gau_cfg=dict(s=128, expansion_factor=2, dropout_rate=0.0, drop_path=0.0, act_fn='SiLU',
                                  pos_enc='add')),
        overlaps_power=0.5,
        loss_cls=dict(type='VariFocalLoss', reduction='sum', use_target_weight=True, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum', loss_weight=5.0),
        loss_oks=dict(type='OKSLoss', reduction='none', metainfo=metafile, loss_weight=30.0),
        loss_vis=dict(type='BCELoss', use_target_weight=True, reduction='mean', loss_weight=1.0),
        loss_mle=dict(type='MLECCLoss', use_target_weight=True, loss_weight=1.0),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    test_cfg=dict(input_size=input_size, score_thr=0.1, nms_thr=0.65))"""


def _dekr_model(plan: Plan) -> str:
    s = _side(plan)
    flip = "True" if plan.flip else "False"
    return f"""# model: DEKR with HRNet-w32 (bottom-up): a heatmap per keypoint plus offsets from each instance's
# centre; MMPose's COCO rescore net is left out (trained for COCO's keypoints)
input_size = ({s}, {s})
codec = dict(type='SPR', input_size=input_size, heatmap_size=({s // 4}, {s // 4}), sigma=(4, 2),
             minimal_diagonal_length=32**0.5, generate_keypoint_heatmaps=True, decode_max_instances=30)
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='HRNet', in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ), num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(32, 64)),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                        num_channels=(32, 64, 128)),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                        num_channels=(32, 64, 128, 256), multiscale_output=True)),
        init_cfg=None),  # no download; --load-from CKPT for your own weights
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(
        type='DEKRHead',
        in_channels=480,
        num_keypoints={len(plan.names)},  # the metainfo's keypoint count
        heatmap_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        displacement_loss=dict(type='SoftWeightSmoothL1Loss', use_target_weight=True, supervise_empty=False,
                               beta=1 / 9, loss_weight=0.002),
        decoder=codec),
    test_cfg=dict(multiscale_test=False, flip_test={flip}, nms_dist_thr=0.05, shift_heatmap=True,
                  align_corners=False))
find_unused_parameters = True"""


def _pipelines(plan: Plan) -> str:
    from mmpx.configs.new_text import _wrap

    flip = "    dict(type='RandomFlip', direction='horizontal'),\n" if plan.flip else ""
    note = "\n".join(_wrap("flip: " + plan.why["flip"]))
    if plan.model.startswith("rtmo"):
        mixup = ("""    dict(type='YOLOXMixUp', img_scale=input_size, ratio_range=(0.8, 1.6), pad_val=114.0,
         pre_transform=[dict(type='LoadImage', backend_args=backend_args)]),
""" if plan.model == "rtmo-s" else "")
        return f"""# pipelines: whole images; mosaics of four images{' and mix-up' if mixup else ''} first, plain
# resized images for the last epochs (RTMO); instances without a box or keypoint are dropped
{note}
train_pipeline_stage1 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='Mosaic', img_scale=input_size, pad_val=114.0,
         pre_transform=[dict(type='LoadImage', backend_args=backend_args)]),
    dict(type='BottomupRandomAffine', input_size=input_size, shift_factor=0.1, rotate_factor=10,
         scale_factor=(0.75, 1.0), pad_val=114, distribution='uniform', transform_mode='perspective',
         bbox_keep_corner=False, clip_border=True),
{mixup}    dict(type='YOLOXHSVRandomAug'),
{flip}    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupRandomAffine', input_size=input_size, shift_prob=0, rotate_prob=0, scale_prob=0,
         scale_type='long', pad_val=(114, 114, 114), bbox_keep_corner=False, clip_border=True),
    dict(type='YOLOXHSVRandomAug'),
{flip}    dict(type='BottomupGetHeatmapMask', get_invalid=True),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline = train_pipeline_stage1
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupResize', input_size=input_size, pad_val=(114, 114, 114)),
    dict(type='PackPoseInputs', meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape', 'input_size',
                                           'input_center', 'input_scale')),
]"""
    return f"""# pipelines: whole images, random affine (scale, rotation, shift) to the input size; crowd regions
# are masked out of the heatmap loss (BottomupGetHeatmapMask)
{note}
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
{flip}    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupResize', input_size=codec['input_size'], size_factor=32, resize_mode='expand'),
    dict(type='PackPoseInputs', meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape', 'img_shape',
                                           'input_size', 'input_center', 'input_scale', 'flip', 'flip_direction',
                                           'flip_indices', 'raw_ann_info', 'skeleton_links')),
]"""


def _packaged(metainfo: str) -> str | None:
    """The file name of one of mmpose_ext's own metainfo files (``mmpose_ext/datasets/metainfo/NAME.py``), else
    None: such a file is named where the package is installed, not by this machine's path."""
    parts = Path(metainfo).parts
    return parts[-1] if parts[-4:-1] == ("mmpose_ext", "datasets", "metainfo") else None


def _metainfo_line(plan: Plan) -> str:
    name = _packaged(plan.source.metainfo)
    if name is None:
        return f"metainfo = dict(from_file={plan.source.metainfo!r})"
    return f"""# mmpose_ext's own {name}, wherever the package is installed (the find_spec does not import it)
import importlib.util as _util  # noqa: E402
import os.path as _osp  # noqa: E402

metainfo = dict(from_file=_osp.join(_osp.dirname(_util.find_spec('mmpose_ext').origin), 'datasets', 'metainfo',
                                    {name!r}))"""


def _data_head(plan: Plan) -> str:
    src = plan.source
    return f"""# data: CocoDataset in bottom-up mode: one sample per image with all its instances; the metainfo
# gives names, swaps and sigmas. Every instance of a training image must be labelled: an unlabelled one is taught
# as background. Crowd regions (iscrowd=1) are ignored; images without instances are used for evaluation only.
dataset_type = 'CocoDataset'
data_mode = 'bottomup'
data_root = {src.root!r}
{_metainfo_line(plan)}
backend_args = dict(backend='local')"""


def _loaders(plan: Plan) -> str:
    from mmpx.configs.new_text import loaders_text

    return "# batch size capped by the number of training images\n" + loaders_text(plan.source, plan.batch, 1, 2)


def _hooks(plan: Plan) -> str:
    src = plan.source
    load = (f"load_from = {plan.load_from!r}  # weights to start from (not the optimizer state)\n"
            if plan.load_from else "")
    score = "bbox" if plan.model.startswith("rtmo") else "keypoint"
    common = f"""default_hooks = dict(checkpoint=dict(interval={plan.val_interval}, save_best='coco/AP', rule='greater',
                                     max_keep_ckpts=1))
# COCO AP against the whole val file (images without instances included), OKS with the metainfo's sigmas;
# no extra NMS: the model's own output is scored
val_evaluator = dict(type='CocoMetric', ann_file=data_root + {src.val!r}, score_mode={score!r},
                     nms_mode='none')
test_evaluator = dict(type='CocoMetric', ann_file=data_root + {src.test!r}, score_mode={score!r},
                      nms_mode='none')
{load}"""
    if not plan.model.startswith("rtmo"):
        return common
    last = max(1, round(plan.epochs * 20 / 600))
    switch = max(1, round(plan.epochs * 280 / 600))
    return common + f"""# the last {last} epoch(s) train on plain images (no mosaic); from epoch {switch}
# the keypoint losses weigh more (RTMO's schedule, scaled from its 600 epochs)
custom_hooks = [
    dict(type='YOLOXPoseModeSwitchHook', num_last_epochs={last}, new_train_pipeline=train_pipeline_stage2,
         priority=48),
    dict(type='RTMOModeSwitchHook', epoch_attributes={{{switch}: {{'proxy_target_cc': True,
                                                               'loss_mle.loss_weight': 5.0,
                                                               'loss_oks.loss_weight': 10.0}}}}, priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, strict_load=False,
         priority=49),
]
"""


def render_whole_image(plan: Plan, head: list[str]) -> str:
    """The config file's text for a one-stage or bottom-up plan; ``head`` is the commented header."""
    from mmpx.configs.new_text import _wrap

    s = plan.input_size
    size_note = "\n".join(_wrap(f"input size {s[0]}x{s[1]}: " + plan.why["input_size"]))
    model = _rtmo_model(plan) if plan.model.startswith("rtmo") else _dekr_model(plan)
    # the data's names first: RTMO's model reads metainfo['from_file'] for its OKS sigmas, the pipelines the codec
    parts = ["\n".join(head),
             "_base_ = ['mmpose::_base_/default_runtime.py']\n"
             "custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)\n"
             "default_scope = 'mmpose'",
             _runtime(plan), _data_head(plan), size_note + "\n" + model, _pipelines(plan), _loaders(plan),
             _hooks(plan)]
    return "\n\n".join(parts).rstrip() + "\n"
