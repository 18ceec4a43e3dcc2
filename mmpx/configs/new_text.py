"""The text of ``mmpx configs new``'s config: a :class:`~mmpx.configs.new.Plan` as a complete, commented MMPose
config (RTMPose-t/s/m as in configs/carpose/, or MMPose's SimpleBaseline ResNet-50 heatmap model; the whole-image
models, RTMO and DEKR, by :mod:`mmpx.configs.one_stage_text`)."""

from __future__ import annotations

import math

from mmpx.configs.new import TRAINING, Plan
from mmpx.metainfo.build import DEFAULT_SIGMA

# deepen, widen, head in_channels (MMPose's RTMPose configs)
CSPNEXT = {"rtmpose-t": (0.167, 0.375, 384), "rtmpose-s": (0.33, 0.5, 512), "rtmpose-m": (0.67, 0.75, 768)}


def _wrap(text: str, width: int = 116) -> list[str]:
    lines, line = [], "#"
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = "#"
        line += " " + word
    return lines + [line]


def _metainfo_shown(path: str) -> str:
    """mmpose_ext's own metainfo files by their place in the package, not this machine's path."""
    parts = path.replace("\\", "/").split("/")
    return "mmpose_ext/" + "/".join(parts[-3:]) if parts[-4:-1] == ["mmpose_ext", "datasets", "metainfo"] else path


def _header(plan: Plan, command: str) -> list[str]:
    s, src = plan.stats, plan.source
    k = len(plan.names)
    lines = [f"# {plan.model} for {k} keypoints, {plan.input_size[0]}x{plan.input_size[1]} input (width x height).",
             *_wrap(f"Written by: {command}"), "#"]
    if plan.classes:
        blocks = ", ".join(f"{c.name} (category_id {c.id}: keypoints {c.start}-{c.stop - 1})" for c in plan.classes)
        lines += _wrap(f"Classes: {blocks}. One model predicts the union of their keypoints; each instance is "
                       "trained on its own class's keypoints only (the others have weight 0, the losses use "
                       "use_target_weight=True) and scored on them; flipping swaps keypoints within a class "
                       "(docs/guides/multiclass.md).") + ["#"]
    lines += _wrap(f"Data: {src.root}{src.train} ({s.instances} instances with keypoints in {s.images} images, "
                   f"median box {s.width:.0f}x{s.height:.0f} px); val {src.val}; images under "
                   f"{src.root}{src.images}; metainfo {_metainfo_shown(src.metainfo)}.")
    if not src.held_out:
        lines += _wrap("The training file is also the val and test file: the scores say how well the model fits "
                       "its own data, not how it does on new images. Give a dataset folder with a val split (mmpx "
                       "convert writes one) for a fair score.")
    lines += _wrap("Paths are relative to the folder you run mmpx train in. No pretrained weights are downloaded "
                   "(init_cfg=None); --load-from CKPT starts from a checkpoint of yours.")
    lines += ["#", "# keypoints (index: name -> flip partner):"]
    for i, name in enumerate(plan.names):
        j = plan.flip_indices[i]
        lines.append(f"#   {i:3d}: {name}" + (f" -> {plan.names[j]}" if j != i else ""))
    return lines


def _sigma_lines(plan: Plan) -> list[str]:
    if plan.default_sigmas:
        text = (f"OKS sigmas (the metainfo's, which CocoMetric uses): the default {DEFAULT_SIGMA} for every "
                "keypoint, strict for most: AP is comparable "
                 "between runs on this data, not with published numbers. Estimate yours from images labelled "
                 f"twice: mmpx metainfo sigmas A.json B.json --metainfo {plan.source.metainfo} --write")
    elif plan.coco_metric:
        text = f"OKS sigmas (the metainfo's, which CocoMetric uses): {', '.join(f'{x:g}' for x in plan.sigmas)}."
    else:
        text = ("No OKS sigmas in the metainfo: scored by PCK and EPE, not COCO AP. For COCO AP, estimate sigmas from "
                "images labelled twice (mmpx metainfo sigmas A.json B.json --out M.py) and pass --metainfo M.py")
    return _wrap(text)


def _runtime(plan: Plan) -> str:
    stage2 = max(1, round(plan.epochs / 7))
    if plan.model.startswith("rtmpose"):
        optim = f"""base_lr = {plan.lr:.3g}
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
# warm-up over {plan.warmup} steps, then the rate stays until half-way and falls on a cosine to 5% (RTMPose)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end={plan.warmup}),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]"""
    else:
        first, second = max(1, round(plan.epochs * 170 / 210)), max(1, round(plan.epochs * 200 / 210))
        optim = f"""base_lr = {plan.lr:.3g}
optim_wrapper = dict(optimizer=dict(type='Adam', lr=base_lr))
# warm-up over {plan.warmup} steps, then the rate falls tenfold at 81% and 95% of the epochs (SimpleBaseline's 170
# and 200 of 210)
param_scheduler = [
    dict(type='LinearLR', begin=0, end={plan.warmup}, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[{first}, {second}], gamma=0.1, by_epoch=True),
]"""
    why = "\n".join(_wrap(plan.why["epochs"] + f"; validation every {plan.val_interval} epoch(s), about 20 in all."
                          f" Learning rate {plan.lr:.3g}: the model's default at batch "
                          f"{_default_batch(plan)}, scaled by the square root of a "
                          "smaller batch"))
    lines = [f"# runtime\n{why}", f"max_epochs = {plan.epochs}"]
    if plan.model.startswith("rtmpose"):
        lines.append(f"stage2_num_epochs = {stage2}  # the last epochs train on milder augmentation (RTMPose)")
    lines += [f"train_cfg = dict(max_epochs=max_epochs, val_interval={plan.val_interval})",
              "randomness = dict(seed=21)", "", optim,
              f"auto_scale_lr = dict(base_batch_size={_default_batch(plan)})"]
    return "\n".join(lines)


def _default_batch(plan: Plan) -> int:
    return TRAINING[plan.model][0]


def _count_note(plan: Plan) -> str:
    return "the union of the classes' keypoints" if plan.classes else "the metainfo's keypoint count"


def _model(plan: Plan) -> str:
    w, h = plan.input_size
    k = len(plan.names)
    flip = "True" if plan.flip else "False"
    if plan.model.startswith("rtmpose"):
        deepen, widen, channels = CSPNEXT[plan.model]
        # SimCC's label sigma grows with the square root of the side (RTMPose: 4.9 at 192, 5.66 at 256)
        sigma = tuple(round(5.66 * math.sqrt(s / 256), 2) for s in (w, h))
        return f"""# codec and model: SimCC, sigma growing with the square root of each side as in RTMPose's configs
codec = dict(type='SimCCLabel', input_size=({w}, {h}), sigma={sigma}, simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor={deepen}, widen_factor={widen},
        out_indices=(4, ), channel_attention=True,
        norm_cfg=dict(type='BN'),  # plain BN: SyncBN needs a distributed run
        act_cfg=dict(type='SiLU'),
        init_cfg=None),  # no download; load_from or mmpx train --load-from for your own weights
    head=dict(
        type='RTMCCHead',
        in_channels={channels},
        out_channels={k},  # {_count_note(plan)}
        input_size=codec['input_size'],
        in_featuremap_size=tuple(s // 32 for s in codec['input_size']),
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0.,
                     act_fn='SiLU', use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test={flip}))"""
    return f"""# codec and model: heatmaps at a quarter of the input (SimpleBaseline, MMPose's td-hm_res50 configs)
codec = dict(type='MSRAHeatmap', input_size=({w}, {h}), heatmap_size=({w // 4}, {h // 4}), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=50, init_cfg=None),  # no download; load_from for your own weights
    head=dict(
        type='HeatmapHead',
        in_channels=2048,
        out_channels={k},  # {_count_note(plan)}
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test={flip}, flip_mode='heatmap', shift_heatmap=True))"""


def _pipelines(plan: Plan) -> str:
    flip = "    dict(type='RandomFlip', direction='horizontal'),\n" if plan.flip else ""
    if plan.model.startswith("rtmpose"):
        def train(scale: str, rotate: int, dropout: str, shift: str = "") -> str:
            return f"""[
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
{flip}    dict(type='RandomBBoxTransform', {shift}scale_factor={scale}, rotate_factor={rotate}),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
             min_width=0.2, p={dropout}),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]"""
        stages = (f"train_pipeline = {train('[0.6, 1.4]', 30, '1.')}\n"
                  f"train_pipeline_stage2 = {train('[0.75, 1.25]', 20, '0.5', 'shift_factor=0., ')}")
    else:
        stages = f"""train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
{flip}    dict(type='RandomBBoxTransform', rotate_factor=30),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]"""
    flip_note = "\n".join(_wrap("flip: " + plan.why["flip"] + (
        "; MMPose takes the flip partners (flip_indices) from the metainfo's swaps, listed at the top" if plan.flip
        else "")))
    return f"""# pipelines: no half-body crops (a person's upper/lower body means nothing for other skeletons), rotation
# up to 30 degrees rather than RTMPose's 80
{flip_note}
{stages}
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]"""


def _data(plan: Plan) -> str:
    src = plan.source
    if plan.classes:
        what = ("# data: MultiClassCocoDataset (mmpose_ext) reads a COCO file of several categories and puts each "
                "instance into its\n# class's block of the union; the metainfo lists the classes and gives names, "
                "swaps, sigmas and weights\ndataset_type = 'MultiClassCocoDataset'")
    else:
        what = ("# data: CocoDataset reads any COCO keypoint file; the metainfo gives names, swaps, sigmas and weights"
                "\ndataset_type = 'CocoDataset'")
    return f"""{what}
data_mode = 'topdown'
data_root = {src.root!r}
metainfo = dict(from_file={src.metainfo!r})
backend_args = dict(backend='local')

{_pipelines(plan)}

# batch sizes are capped by the number of instances: a batch larger than the data would repeat nothing
{loaders_text(src, plan.batch, plan.val_batch, 4)}"""


def loaders_text(src, batch: int, val_batch: int, val_workers: int) -> str:
    """The train, val and test dataloaders of a generated config (``src``: the plan's data source)."""
    def evaluation(batch_size: int, ann: str) -> str:
        return f"""dict(
    batch_size={batch_size},
    num_workers={val_workers},
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file={ann!r}, data_prefix=dict(img={src.images!r}), test_mode=True,
                 pipeline=val_pipeline))"""

    return f"""train_dataloader = dict(
    batch_size={batch},
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file={src.train!r}, data_prefix=dict(img={src.images!r}), pipeline=train_pipeline))
val_dataloader = {evaluation(val_batch, src.val)}
test_dataloader = {evaluation(val_batch, src.test)}"""


def _hooks(plan: Plan) -> str:
    switch = ("""    dict(type='mmdet.PipelineSwitchHook', switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
""" if plan.model.startswith("rtmpose") else "")
    load = (f"load_from = {plan.load_from!r}  # weights to start from (not the optimizer state)\n"
            if plan.load_from else "")
    best = "coco/AP" if plan.coco_metric else "PCK"
    if plan.classes:  # mmpose_ext's metrics: each class on its own keypoints
        evaluator = ("[dict(type='MultiClassCocoMetric'), dict(type='MultiClassPCKAccuracy', thr=0.05)]"
                     if plan.coco_metric else "[dict(type='MultiClassPCKAccuracy', thr=0.05), dict(type='EPE')]")
    else:
        evaluator = ("dict(type='CocoMetric')" if plan.coco_metric else
                     "[dict(type='PCKAccuracy', thr=0.05, norm_item='bbox'), dict(type='EPE')]")
    metric = "\n".join(_wrap("metric: " + plan.why["metric"] + f"; the best checkpoint by {best} is kept"))
    return f"""{metric}
default_hooks = dict(checkpoint=dict(interval={plan.val_interval}, save_best='{best}', rule='greater',
                                     max_keep_ckpts=1))
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, priority=49),
{switch}]
val_evaluator = {evaluator}
test_evaluator = val_evaluator
{load}"""


def render(plan: Plan, command: str) -> str:
    """The config file's text."""
    if plan.whole_image:
        from mmpx.configs.one_stage_text import render_whole_image

        return render_whole_image(plan, _header(plan, command) + _sigma_lines(plan))
    s = plan.input_size
    size_note = "\n".join(_wrap(f"input size {s[0]}x{s[1]}: " + plan.why["input_size"]))
    parts = ["\n".join(_header(plan, command) + _sigma_lines(plan)),
             "_base_ = ['mmpose::_base_/default_runtime.py']\n"
             "custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)",
             _runtime(plan), size_note + "\n" + _model(plan), _data(plan), _hooks(plan)]
    text = "\n\n".join(parts).rstrip() + "\n"
    if plan.visibility:
        from mmpx.configs.visibility import visibility_text

        text = visibility_text(text)
    return text
