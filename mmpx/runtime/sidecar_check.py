"""The ranges a sidecar's values must keep, checked against each other and against the ONNX graph it describes.

A sidecar edited by hand, damaged, or taken from another model used to run: a 1e9 input size allocated until
memory ran out, a NaN or zero ``std`` gave NaN keypoints, ``flip_indices`` out of range raised an IndexError deep
in the flip test (reported as "unexpected"), a wrong ``num_keypoints`` or ``heatmap_size`` gave keypoints in the
wrong place with exit status 0. :func:`sidecar_problems` lists each such value, naming the field, the value and
what it must be; ``OnnxPoseModel`` refuses the model with one line per problem.
"""

from __future__ import annotations

import json
import math

MAX_INPUT_SIDE = 4096  # pixels; top-down pose models take 192 to 1024. A 4096 x 4096 crop is 192 MiB as float32
HEAD_KINDS = ("heatmap", "simcc")


def _show(value) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _whole(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _get(data: dict, dotted: str):
    value = data
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


class _Problems(list):
    def add(self, field: str, value, why: str) -> None:
        self.append(f"{field} = {_show(value)}: {why}")


def sidecar_problems(sidecar: dict, session=None, flip_test: bool | None = None) -> list[str]:
    """Every out-of-range value of ``sidecar`` as ``FIELD = VALUE: what it must be``, and every disagreement with
    the graph ``session`` (an ONNX Runtime session) loaded, as ``graph ...: ...``; empty when the model can run.

    Args:
        flip_test: the flip test that will be used (None: the sidecar's ``test_cfg.flip_test``); it needs
            ``flip_indices``.
    """
    problems = _Problems()
    k = _num_keypoints(sidecar, problems)
    size = _input_size(sidecar, problems)
    _preprocess(sidecar, problems)
    _keypoint_indices(sidecar, k, flip_test, problems)
    _classes(sidecar, k, problems)
    _codec(sidecar, size, problems)
    if session is not None:
        before = len(problems)
        _graph_input(sidecar, session, size, problems)
        if k is not None and len(problems) == before:  # outputs follow from the input: its problem is the cause
            _graph_outputs(sidecar, session, k, size, problems)
    return list(problems)


def one_stage_problems(sidecar: dict, session=None) -> list[str]:
    """The same checks for a one-stage model's sidecar (``kind`` "one-stage"): keypoints, input size, mean/std,
    pad value, thresholds, and the graph's input and outputs (``boxes``, ``scores``, ``keypoints``, ...)."""
    problems = _Problems()
    k = _num_keypoints(sidecar, problems)
    size = _input_size(sidecar, problems)
    pre = sidecar.get("preprocess")
    if not isinstance(pre, dict):
        problems.add("preprocess", pre, "must be an object with mean, std, bgr_to_rgb, pad_value")
        pre = {}
    for name in ("mean", "std", "pad_value"):
        values = pre.get(name)
        if values is not None and (not isinstance(values, list) or len(values) not in (1, 3)
                                   or not all(_number(v) for v in values)):
            problems.add(f"preprocess.{name}", values, "must be 3 finite numbers (one per colour channel) or 1")
        elif name == "std" and values is not None and not all(v > 0 for v in values):
            problems.add("preprocess.std", values, "must be > 0 (pixels are divided by it)")
    test_cfg = sidecar.get("test_cfg") if isinstance(sidecar.get("test_cfg"), dict) else {}
    for name in ("score_thr", "nms_thr"):
        value = test_cfg.get(name, 0.5)
        if not _number(value) or not 0 <= value <= 1:
            problems.add(f"test_cfg.{name}", value, "must be a number from 0 to 1")
    if session is not None and len(problems) == 0:
        _graph_input(sidecar, session, size, problems)
        outputs = {o.name: _dims(o.shape) for o in session.get_outputs()}
        names = ("boxes", "scores", "keypoints", "keypoint_scores")
        missing = [n for n in names if n not in outputs]
        if missing:
            problems.append(f"graph outputs {list(outputs)}: a one-stage model has {', '.join(names)}")
        elif len(outputs["keypoints"]) == 4 and isinstance(outputs["keypoints"][2], int) \
                and outputs["keypoints"][2] != k:
            problems.append(f"graph output 'keypoints' shape {_show(outputs['keypoints'])}: "
                            f"{outputs['keypoints'][2]} keypoints, but dataset_meta.num_keypoints is {k}")
    return list(problems)


def _num_keypoints(sidecar: dict, problems: _Problems) -> int | None:
    k = _get(sidecar, "dataset_meta.num_keypoints")
    if not _whole(k) or k < 1:
        problems.add("dataset_meta.num_keypoints", k, "must be a whole number >= 1")
        return None
    return int(k)


def _input_size(sidecar: dict, problems: _Problems) -> tuple[int, int] | None:
    size = _get(sidecar, "input.size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(_whole(v) and 1 <= v <= MAX_INPUT_SIDE for v in size)):
        problems.add("input.size", size, f"must be [width, height], whole numbers from 1 to {MAX_INPUT_SIDE}")
        return None
    return int(size[0]), int(size[1])


def _preprocess(sidecar: dict, problems: _Problems) -> None:
    pre = sidecar.get("preprocess")
    if not isinstance(pre, dict):
        problems.add("preprocess", pre, "must be an object with mean, std, bgr_to_rgb, bbox_padding, use_udp")
        return
    for name in ("mean", "std"):
        values = pre.get(name)
        if values is None:
            continue  # no normalisation: mean 0, std 1
        if not isinstance(values, list) or len(values) not in (1, 3) or not all(_number(v) for v in values):
            problems.add(f"preprocess.{name}", values, "must be 3 finite numbers (one per colour channel) or 1")
        elif name == "std" and not all(v > 0 for v in values):
            problems.add("preprocess.std", values, "must be > 0 (pixels are divided by it)")
    padding = pre.get("bbox_padding", 1.25)
    if not _number(padding) or padding <= 0:
        problems.add("preprocess.bbox_padding", padding, "must be a finite number > 0 (MMPose's default: 1.25)")


def _index_list(value, k: int, length: int | None) -> bool:
    return (isinstance(value, list) and (length is None or len(value) == length)
            and all(_whole(i) and 0 <= i < k for i in value))


def _keypoint_indices(sidecar: dict, k: int | None, flip_test: bool | None, problems: _Problems) -> None:
    """``flip_indices`` (one per keypoint, each a keypoint) and ``test_cfg.output_keypoint_indices``."""
    if k is None:
        return
    test_cfg = sidecar.get("test_cfg") if isinstance(sidecar.get("test_cfg"), dict) else {}
    flip = bool(test_cfg.get("flip_test", False)) if flip_test is None else flip_test
    flip_indices = _get(sidecar, "dataset_meta.flip_indices")
    if flip_indices is None and flip:
        problems.add("dataset_meta.flip_indices", None, f"the flip test needs one index per keypoint ({k}); "
                     "or run without it (--no-flip-test)")
    elif flip_indices is not None and not _index_list(flip_indices, k, k):
        problems.add("dataset_meta.flip_indices", flip_indices,
                     f"must list {k} whole numbers from 0 to {k - 1} (the mirror of each keypoint)")
    indices = test_cfg.get("output_keypoint_indices")
    if indices is not None and not _index_list(indices, k, None):
        problems.add("test_cfg.output_keypoint_indices", indices, f"must be whole numbers from 0 to {k - 1}")


def _classes(sidecar: dict, k: int | None, problems: _Problems) -> None:
    """A multi-class model's ``classes``: each class's block must be the model's keypoint names,
    class after class (``<class>/<keypoint>``), or decoding would cut the wrong keypoints."""
    meta = sidecar.get("dataset_meta") if isinstance(sidecar.get("dataset_meta"), dict) else {}
    classes = meta.get("classes")
    if classes is None or k is None:
        return
    from mmpx.errors import MmpxError
    from mmpx.metainfo.classes import keypoint_classes

    id2name = meta.get("keypoint_id2name") if isinstance(meta.get("keypoint_id2name"), dict) else {}
    names = [id2name.get(str(i), id2name.get(i, f"kpt_{i}")) for i in range(k)]
    try:
        keypoint_classes(dict(classes=classes, keypoint_info={i: dict(name=n, id=i) for i, n in enumerate(names)}),
                         "dataset_meta")
    except MmpxError as exc:
        problems.add("dataset_meta.classes", classes, exc.message)


def _codec(sidecar: dict, size: tuple[int, int] | None, problems: _Problems) -> None:
    """The fields the numpy decoders divide or scale by (other codecs are MMPose's own, built from the config)."""
    codec = sidecar.get("codec")
    kind = _get(sidecar, "head.kind")
    if kind not in HEAD_KINDS:
        problems.add("head.kind", kind, f"must be one of {', '.join(HEAD_KINDS)}")
    if not isinstance(codec, dict) or not isinstance(codec.get("type"), str):
        problems.add("codec", codec, "must be an object with a 'type' (the codec's class name)")
        return
    sizes = ["input_size"] + (["heatmap_size"] if codec["type"] in ("MSRAHeatmap", "UDPHeatmap") else [])
    if codec["type"] not in ("SimCCLabel", "MSRAHeatmap", "UDPHeatmap"):
        return
    for name in sizes:
        value = codec.get(name)
        if (not isinstance(value, list) or len(value) != 2
                or not all(_whole(v) and 1 <= v <= MAX_INPUT_SIDE for v in value)):
            problems.add(f"codec.{name}", value, f"must be [width, height], whole numbers from 1 to {MAX_INPUT_SIDE}")
        elif name == "input_size" and size is not None and tuple(value) != size:
            problems.add("codec.input_size", value, f"must equal input.size {list(size)} (the crop the model takes)")
    if codec["type"] == "SimCCLabel":
        ratio = codec.get("simcc_split_ratio", 2.0)
        if not _number(ratio) or not 0 < ratio <= 64:
            problems.add("codec.simcc_split_ratio", ratio, "must be a finite number > 0 and <= 64")


def _dims(shape) -> list:
    """ONNX Runtime's shape: ints for fixed dimensions, names (or None) for free ones."""
    return list(shape) if isinstance(shape, (list, tuple)) else []


def _graph_input(sidecar: dict, session, size: tuple[int, int] | None, problems: _Problems) -> None:
    name = _get(sidecar, "input.name") or "input"
    inputs = {i.name: i for i in session.get_inputs()}
    if name not in inputs:
        problems.add("input.name", name, f"the graph has no such input (it has: {', '.join(inputs) or 'none'})")
        return
    dims = _dims(inputs[name].shape)
    where = f"graph input {name!r} shape {_show(dims)}"
    if len(dims) != 4:
        problems.append(f"{where}: must be 4 dimensions (batch, 3, height, width)")
        return
    batch, channels, h, w = dims
    if isinstance(channels, int) and channels != 3:
        problems.append(f"{where}: must take 3 colour channels, not {channels}")
    fixed = [v for v in (h, w) if isinstance(v, int)]
    if any(not 1 <= v <= MAX_INPUT_SIDE for v in fixed):
        problems.append(f"{where}: height and width must be from 1 to {MAX_INPUT_SIDE}")
    elif size is not None and len(fixed) == 2 and (w, h) != size:
        problems.append(f"{where}: the sidecar's input.size {list(size)} is another size (width, height)")
    if not isinstance(batch, int):
        return
    if _get(sidecar, "input.dynamic_batch"):
        problems.append(f"{where}: a fixed batch of {batch}, but the sidecar's input.dynamic_batch is true (several "
                        "crops per run)")
    elif batch != 1:
        problems.append(f"{where}: a fixed batch of {batch} cannot run one crop at a time")


def _graph_outputs(sidecar: dict, session, k: int, size: tuple[int, int] | None, problems: _Problems) -> None:
    """Keypoints per output and heatmap / SimCC sizes as the numpy decoders read them (fixed dimensions only)."""
    codec = sidecar.get("codec") if isinstance(sidecar.get("codec"), dict) else {}
    kind = codec.get("type")
    outputs = session.get_outputs()
    needed = 2 if kind == "SimCCLabel" else 1
    if len(outputs) < needed:
        problems.append(f"graph outputs {[o.name for o in outputs]}: codec {kind} needs {needed}")
        return
    channels = k * 3 if kind == "UDPHeatmap" and codec.get("heatmap_type") == "combined" else k
    for out in outputs[:needed]:
        dims = _dims(out.shape)
        if kind in ("SimCCLabel", "MSRAHeatmap", "UDPHeatmap") and len(dims) > 1 and isinstance(dims[1], int) \
                and dims[1] != channels:
            problems.append(f"graph output {out.name!r} shape {_show(dims)}: {dims[1]} channels, but "
                            f"dataset_meta.num_keypoints is {k}" + (" (x3: combined UDP heatmaps)" if channels != k
                                                                    else ""))
    first = _dims(outputs[0].shape)
    heatmap = codec.get("heatmap_size")
    valid = isinstance(heatmap, list) and len(heatmap) == 2 and all(_whole(v) and v >= 1 for v in heatmap)
    if kind in ("MSRAHeatmap", "UDPHeatmap") and len(first) == 4 and valid \
            and all(isinstance(v, int) for v in first[2:]) and list(first[:1:-1]) != heatmap:
        problems.append(f"graph output {outputs[0].name!r} shape {_show(first)}: heatmaps of {first[3]} x "
                        f"{first[2]}, but codec.heatmap_size is {_show(heatmap)}")
    ratio = codec.get("simcc_split_ratio", 2.0)
    if kind == "SimCCLabel" and size is not None and _number(ratio):
        for out, side in zip(outputs[:2], size, strict=False):
            dims = _dims(out.shape)
            if len(dims) == 3 and isinstance(dims[2], int) and dims[2] != int(side * ratio):
                problems.append(f"graph output {out.name!r} shape {_show(dims)}: {dims[2]} bins, but input.size "
                                f"{list(size)} x codec.simcc_split_ratio {ratio} gives {int(side * ratio)}")


__all__ = ["MAX_INPUT_SIDE", "one_stage_problems", "sidecar_problems"]
