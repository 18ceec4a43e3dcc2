"""A top-down config that also predicts each keypoint's visibility: seen (labelled ``v=2``) or hidden (``v=1``).

Two steps make it (docs/guides/visibility.md): the head is wrapped in mmpose-ext's ``VisibilityHead`` (MMPose's
``VisPredictHead``, the original head as its ``pose_cfg``, a BCE loss weighted so that unlabelled keypoints do not
count), and every training pipeline gets ``KeypointVisibility`` before ``PackPoseInputs``, which adds the
annotation's seen/hidden flag (MMPose's datasets fold it into "labelled") to the packed labels.
:func:`add_visibility` does both to a loaded config (a dict, any top-down config); :func:`visibility_text` to the
text ``mmpx configs new`` writes. Torch-free.
"""

from __future__ import annotations

import io
import re
import tokenize

from mmpx.errors import ConfigError

HEAD = "VisibilityHead"
TRANSFORM = "KeypointVisibility"
WRAPPED = (HEAD, "VisPredictHead")
LOSS = "dict(type='BCELoss', use_target_weight=True, use_sigmoid=True)"
NOTE = ("# visibility: the head also predicts, per keypoint, the probability that it is seen (labelled v=2: in "
        "labelme, a\n# point without the _occluded suffix or flag) rather than hidden (v=1); unlabelled points (v=0) "
        "and points outside\n# the crop do not count (mmpose_ext VisibilityHead, docs/guides/visibility.md)")


def _pipelines(cfg) -> list[list]:
    """The training pipelines of ``cfg``: the train dataset's and a PipelineSwitchHook's."""
    found = []
    dataset = (cfg.get("train_dataloader") or {}).get("dataset") or {}
    for ds in [dataset, *(dataset.get("datasets") or [])]:
        if isinstance(ds.get("pipeline"), list):
            found.append(ds["pipeline"])
    for hook in cfg.get("custom_hooks") or []:
        if isinstance(hook, dict) and isinstance(hook.get("switch_pipeline"), list):
            found.append(hook["switch_pipeline"])
    return found


def add_visibility(cfg, where: str = "config"):
    """``cfg`` (a loaded config: a dict or mmengine ``Config``) changed in place to predict visibility, and returned.

    Raises:
        ConfigError: not a top-down model, a head already wrapped, or no training pipeline to add the flags to.
    """
    model = cfg.get("model") or {}
    head = model.get("head") or {}
    if model.get("type") != "TopdownPoseEstimator":
        raise ConfigError(f"{where}: model.type is {model.get('type')!r}; visibility is added to top-down models",
                          "use a top-down config (model.type='TopdownPoseEstimator')")
    if head.get("type") in WRAPPED:
        raise ConfigError(f"{where}: model.head is already a {head.get('type')}", "leave out --visibility")
    pipelines = _pipelines(cfg)
    if not pipelines:
        raise ConfigError(f"{where}: no train_dataloader.dataset.pipeline to add {TRANSFORM} to",
                          "use a config with a training pipeline")
    model["head"] = dict(type=HEAD, pose_cfg=dict(head),
                         loss=dict(type="BCELoss", use_target_weight=True, use_sigmoid=True))
    for pipeline in pipelines:
        if not any(isinstance(step, dict) and step.get("type") == TRANSFORM for step in pipeline):
            pack = [i for i, step in enumerate(pipeline)
                    if isinstance(step, dict) and step.get("type") == "PackPoseInputs"]
            pipeline.insert(pack[-1] if pack else len(pipeline), dict(type=TRANSFORM))
    return cfg


def _closing(text: str, start: int) -> int:
    """The offset just past the parenthesis that closes the one at ``start`` (strings and comments skipped)."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        pos = offsets[tok.start[0] - 1] + tok.start[1]
        if pos < start or tok.type != tokenize.OP:
            continue
        depth += {"(": 1, ")": -1}.get(tok.string, 0)
        if depth == 0:
            return pos + 1
    raise ConfigError("the config text has an unclosed parenthesis", "report this with the command line")


def visibility_text(text: str) -> str:
    """The text of a config ``mmpx configs new`` rendered, with the head wrapped and ``KeypointVisibility`` before
    ``PackPoseInputs`` in each training pipeline (``train_pipeline``, ``train_pipeline_stage2``).

    Raises:
        ConfigError: the text has no ``head=dict(`` in its model or no training pipeline (not the generator's).
    """
    match = re.search(r"^    head=dict\(\n", text, flags=re.M)
    if match is None:
        raise ConfigError("the generated config has no model head to wrap", "report this with the command line")
    end = _closing(text, match.end() - 2)
    body = text[match.end():end - 1]
    inner = "".join("    " + line if line.strip() else line for line in body.splitlines(keepends=True))
    head = (f"    head=dict(\n        type='{HEAD}',  # the pose head below plus a visibility probability per "
            f"keypoint\n        pose_cfg=dict(\n{inner}),\n        loss={LOSS})")
    text = text[:match.start()] + head + text[end:]
    out, in_train, added = [], False, 0
    for line in text.splitlines(keepends=True):
        if re.match(r"^train_pipeline\w* = \[$", line.rstrip("\n")):
            in_train = True
        if in_train and line.strip().startswith("dict(type='PackPoseInputs'"):
            out.append(f"    dict(type='{TRANSFORM}'),  # the seen (v=2) / hidden (v=1) labels, packed with the rest\n")
            in_train, added = False, added + 1
        out.append(line)
    if not added:
        raise ConfigError("the generated config has no training pipeline ending with PackPoseInputs",
                          "report this with the command line")
    text = "".join(out)
    return text.replace("\n# codec and model:", f"\n{NOTE}\n# codec and model:", 1)


def visibility_plan(plan):
    """``plan`` (a :class:`~mmpx.configs.new.Plan`) with ``visibility`` on, for ``mmpx configs new --visibility``.

    Raises:
        ConfigError: a whole-image model (one-stage, bottom-up) or several classes, which the visibility head does
            not take.
    """
    import dataclasses

    if plan.whole_image:
        raise ConfigError(f"--visibility: --model {plan.model} sees whole images; the visibility head is for "
                          "top-down models", "use a top-down model (e.g. --model rtmpose-t), or leave out --visibility")
    if plan.classes:
        raise ConfigError(f"--visibility: the metainfo has {len(plan.classes)} classes; the visibility flags are read "
                          "in the annotation's keypoint order, one class", "leave out --visibility for this data")
    return dataclasses.replace(plan, visibility=True)
