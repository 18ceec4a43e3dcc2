"""Does a checkpoint fit a model? mmengine loads with ``strict=False`` and only logs missing keys, so a checkpoint
of another architecture or keypoint count used to give metrics of random weights with exit code 0."""

from __future__ import annotations

from mmpx.errors import CheckpointError


def state_dict_of(ckpt, path: str) -> dict:
    """The weights of a loaded checkpoint (``state_dict`` or the dict itself), without DDP's ``module.``."""
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict",
                              "pass a .pth written by MMPose / mmpx train")
    state = ckpt.get("state_dict", ckpt)
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path} holds no weights (no 'state_dict')", "give a checkpoint that mmengine saved")
    return {k.removeprefix("module."): v for k, v in state.items()}


def check_fits(model, state: dict, path: str, what: str = "the model", meta: dict | None = None,
               head_keypoints: int | None = None) -> None:
    """Raise :class:`CheckpointError` unless every parameter of ``model`` is in ``state`` with its shape.

    Args:
        model: the model (a DDP wrapper is unwrapped).
        state: the checkpoint's tensors (:func:`state_dict_of`).
        path: the checkpoint, for the message.
        what: what the model comes from (``config X``), for the message.
        meta: the checkpoint's ``meta.dataset_meta``, to name keypoint counts in the message.
        head_keypoints: the keypoints the model's head predicts, likewise.
    """
    model = getattr(model, "module", model)
    state = {n: v for n, v in state.items() if hasattr(v, "shape")}  # tensors only
    own = model.state_dict()
    wrong = [(n, tuple(v.shape), tuple(own[n].shape)) for n, v in state.items()
             if n in own and tuple(v.shape) != tuple(own[n].shape)]
    if wrong:
        name, got, want = wrong[0]
        k_ckpt = meta.get("num_keypoints") if isinstance(meta, dict) else None
        detail = (f"it was trained for {k_ckpt} keypoints and the config's head predicts {head_keypoints}"
                  if k_ckpt is not None and head_keypoints is not None and k_ckpt != head_keypoints else
                  f"{len(wrong)} tensor(s) differ in shape, e.g. {name}: {list(got)} in the file, {list(want)} in "
                  "the model")
        raise CheckpointError(f"checkpoint {path} does not fit {what}: {detail}",
                              "use the config the checkpoint was trained with (its keypoint count and head)")
    if not any(n in own for n in state):
        raise CheckpointError(f"checkpoint {path} has no tensor named as in {what}: it is another kind of model",
                              f"use the config it was trained with (model tensors look like {next(iter(own), '?')}, "
                              f"the file's like {next(iter(state), '?')})")
    missing = [n for n, _ in model.named_parameters() if n not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {len(missing)} parameter(s) of {what}, e.g. {missing[0]}: "
                              "they would keep random values", "use the config the checkpoint was trained with")


def read_checkpoint(path) -> dict:
    """Load a checkpoint under the safe-load allow-list and make sure it holds weights (``mmpx test`` and
    ``train --resume/--load-from`` do it before the runner is built, so a damaged file is named before anything
    is written; not kept: holding a large checkpoint through a run would cost its size in memory).

    Raises:
        CheckpointError: unreadable, damaged, not a dict, or without weights; the message names the file.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    ckpt = _load_checkpoint(str(path), map_location="cpu")
    state_dict_of(ckpt, str(path))
    return ckpt


def _names(meta) -> list[str] | None:
    """Keypoint names in index order from a parsed MMPose metainfo (``keypoint_id2name``), or None."""
    id2name = meta.get("keypoint_id2name") if isinstance(meta, dict) else None
    if not isinstance(id2name, dict) or not id2name:
        return None
    try:
        return [str(id2name[i]) for i in range(len(id2name))]
    except KeyError:  # ids that are not 0..K-1: nothing sure to compare
        return None


def check_keypoint_names(ckpt_meta, data_meta, path: str, where: str) -> str | None:
    """Compare the keypoints a checkpoint was trained on with those of the data it is tested on.

    The same names in another order mean every per-keypoint figure is measured against the wrong keypoint, with
    exit code 0: a :class:`CheckpointError`. Other names of the same count may be a renaming (numbered names
    against MMPose's own), so they are returned as a warning; None when they agree or either side has no names.
    """
    trained, data = _names(ckpt_meta), _names(data_meta)
    if trained is None or data is None or trained == data or len(trained) != len(data):
        return None  # a different count is the head's shape mismatch, said by check_fits
    i = next(k for k, (a, b) in enumerate(zip(trained, data, strict=True)) if a != b)
    if sorted(trained) == sorted(data):
        raise CheckpointError(f"checkpoint {path} was trained with the keypoints in another order than {where}: "
                              f"keypoint {i} is {trained[i]!r} in the checkpoint and {data[i]!r} in the data, so "
                              "every figure would compare the wrong keypoints",
                              "test with the metainfo the checkpoint was trained with (its order), or convert "
                              "the data again with that metainfo (--metainfo)")
    differ = sum(a != b for a, b in zip(trained, data, strict=True))
    return (f"checkpoint {path} was trained on other keypoint names than {where} ({differ} of {len(data)} differ; "
            f"keypoint {i}: {trained[i]!r} in the checkpoint, {data[i]!r} in the data): the figures assume "
            "keypoint k is the same point in both")


def check_checkpoint_fits(model, checkpoint: str, what: str = "the model", resume: bool = False) -> dict | None:
    """Load ``checkpoint`` (under the safe-load allow-list) and :func:`check_fits` it against ``model``; returns
    its ``meta.dataset_meta`` (None when it has none).

    With ``resume`` it must also hold the training state mmengine resumes from (``message_hub``, ``optimizer``).
    """
    ckpt = read_checkpoint(checkpoint)
    meta = (ckpt.get("meta") or {}).get("dataset_meta") if isinstance(ckpt, dict) else None
    head = getattr(getattr(model, "module", model), "head", None)
    check_fits(model, state_dict_of(ckpt, str(checkpoint)), str(checkpoint), what, meta,
               getattr(head, "out_channels", None))
    if resume and not {"message_hub", "optimizer"} <= set(ckpt):
        raise CheckpointError(f"checkpoint {checkpoint} holds weights but no training state (message_hub, "
                              "optimizer): it cannot be resumed", f"start from its weights: --load-from {checkpoint}")
    return meta if isinstance(meta, dict) else None


__all__ = ["check_checkpoint_fits", "check_fits", "check_keypoint_names", "read_checkpoint", "state_dict_of"]
