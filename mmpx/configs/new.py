"""``mmpx configs new``'s choices: a training config for any keypoint set, from a dataset's metainfo and the
statistics of its training boxes. Torch-free; :mod:`mmpx.configs.new_text` renders the plan as a config file.

What is chosen and why (docs/guides/configs.md):
- input size: 256 on the long side, the other side from the median width/height of the train boxes, a multiple
  of 32 (the backbones' stride); square when the boxes' shapes vary a lot (a hand open or closed);
- head channels and flip: the metainfo's keypoint count and left/right swaps (flip is off when it pairs none);
- several classes (a metainfo with ``classes``): the head predicts their union, the dataset and metric are mmpx's
  multi-class ones (each instance supervised and scored on its own class's keypoints);
- schedule: at least RTMPose's 210 epochs, more for a small set so that it still takes some thousands of steps;
  batch size capped by the number of training instances;
- one-stage (RTMO) and bottom-up (DEKR) models see whole images: the input is square (640 for RTMO, 512 for DEKR
  as in MMPose, or ``--input-size N``), the batch is capped by the number of training images, and the config is
  rendered by :mod:`mmpx.configs.one_stage_text`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError
from mmpx.metainfo import KeypointClass, keypoint_classes, keypoint_names, load_metainfo, validate_metainfo
from mmpx.metainfo.build import DEFAULT_SIGMA

TOP_DOWN = ("rtmpose-t", "rtmpose-s", "rtmpose-m", "heatmap-resnet50")
ONE_STAGE = ("rtmo-t", "rtmo-s")  # whole images in, boxes and keypoints out (RTMO)
BOTTOM_UP = ("dekr-hrnet-w32", )  # whole images in, keypoints grouped by their centre (DEKR)
MODELS = TOP_DOWN + ONE_STAGE + BOTTOM_UP
# whole-image models: MMPose's input side for each
WHOLE_IMAGE_SIDE = {"rtmo-t": 640, "rtmo-s": 640, "dekr-hrnet-w32": 512}
STRIDE = 32  # every backbone here downsamples by 32: input sides must divide by it
LONG_SIDE = 256  # RTMPose's and SimpleBaseline's long side
MIN_SIDE = 128
SPREAD = 2.0  # p90/p10 of the boxes' width/height above this: a square input
MIN_EPOCHS, MAX_EPOCHS, MIN_STEPS = 210, 1500, 3000
# per model: default batch size, base learning rate at that batch size
TRAINING = {"rtmpose-t": (64, 4e-3), "rtmpose-s": (64, 4e-3), "rtmpose-m": (64, 4e-3),
            "heatmap-resnet50": (32, 5e-4),
            # RTMO: 4e-3 at 256 images (8 GPUs x 32), per GPU 32, scaled by sqrt(32/256); DEKR: 1e-3 at 8 x 10
            "rtmo-t": (32, 1.4e-3), "rtmo-s": (32, 1.4e-3), "dekr-hrnet-w32": (10, 1e-3)}
MIN_EPOCHS_OF = {"rtmo-t": 600, "rtmo-s": 600, "dekr-hrnet-w32": 140}  # the others: MIN_EPOCHS


@dataclass(frozen=True)
class DataSource:
    """Where the data is, as the config will name it (paths relative to the folder ``mmpx train`` runs in,
    when given so).

    Attributes:
        root: ``data_root``; train, val, test: annotation files under it; images: ``data_prefix.img``;
        metainfo: ``metainfo=dict(from_file=...)``; held_out: whether val is another file than train.
    """

    root: str
    train: str
    val: str
    test: str
    images: str
    metainfo: str
    held_out: bool


@dataclass(frozen=True)
class BoxStats:
    """The training instances that have keypoints: count, images, median width/height and its 10th/90th
    percentiles, median box size in pixels."""

    instances: int
    images: int
    ratio: float
    p10: float
    p90: float
    width: float
    height: float


@dataclass(frozen=True)
class Plan:
    """Everything the config says, with the reason for each choice (``why``, rendered as comments)."""

    model: str
    source: DataSource
    stats: BoxStats
    names: list[str]
    sigmas: list[float]
    flip_indices: list[int]
    flip: bool
    input_size: tuple[int, int]
    epochs: int
    batch: int
    val_batch: int
    lr: float
    warmup: int
    val_interval: int
    load_from: str | None
    coco_metric: bool = True
    why: dict[str, str] = field(default_factory=dict)
    classes: list[KeypointClass] | None = None  # a multi-class metainfo's classes, in the union's order
    train_images: int = 0  # images in the training file, with or without instances (whole-image models)
    visibility: bool = False  # the head also predicts seen/hidden per keypoint (mmpx.configs.visibility)

    @property
    def whole_image(self) -> bool:
        """One-stage or bottom-up: the model sees whole images, not one crop per instance."""
        return self.model in ONE_STAGE + BOTTOM_UP

    @property
    def pairs(self) -> int:
        return sum(1 for i, j in enumerate(self.flip_indices) if i < j)

    @property
    def default_sigmas(self) -> bool:
        return self.coco_metric and all(abs(s - DEFAULT_SIGMA) < 1e-9 for s in self.sigmas)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil((self.train_images if self.whole_image else self.stats.instances) / self.batch)


def _shown(path: Path) -> str:
    """A path as the config writes it: relative paths stay relative (to where mmpx train runs), MMPose's own
    metainfo files in the form MMPose resolves from any folder."""
    parts = Path(os.path.abspath(path)).parts
    if ".mim" in parts and parts[parts.index(".mim") + 1:][:1] == ("configs",):
        return "/".join(parts[parts.index(".mim") + 1:])
    return path.as_posix()


def find_data(data: Path, metainfo: Path | None = None, images: Path | None = None) -> DataSource:
    """The files of ``data``: a folder as ``mmpx convert`` writes it, or one COCO annotation file.

    Raises:
        MmpxError: a missing file, or a COCO file without ``--metainfo``.
    """
    if data.is_dir():
        ann = data / "annotations"
        for name in ("train.json", "val.json"):
            if not (ann / name).is_file():
                raise MmpxError(f"--data {data}: no annotations/{name}", "give a folder that mmpx convert wrote "
                                "(annotations/train.json, val.json, images/, metainfo.py), or a COCO .json file")
        meta = metainfo or data / "metainfo.py"
        img = images or data / "images"
        test = "annotations/test.json" if (ann / "test.json").is_file() else "annotations/val.json"
        root, train, val = data, "annotations/train.json", "annotations/val.json"
    elif data.is_file() and data.suffix == ".json":
        if metainfo is None:
            raise MmpxError(f"--data {data}: a COCO file needs --metainfo (its keypoint names, swaps and sigmas)",
                            f"make one: mmpx metainfo from-coco {data} metainfo.py, then add --metainfo metainfo.py")
        meta, img, root = metainfo, images or data.parent, data.parent
        train = val = test = data.name
    else:
        raise MmpxError(f"--data {data} is neither a dataset folder nor a COCO .json file",
                        "give the folder mmpx convert wrote, or an annotation file with --metainfo")
    if not meta.is_file():
        raise MmpxError(f"metainfo file {meta} does not exist", "mmpx metainfo from-coco ANN.json metainfo.py "
                        "writes one (or pass --metainfo)")
    if not img.is_dir():
        raise MmpxError(f"image folder {img} does not exist", "pass --images DIR (the folder file_name is under)")
    prefix = os.path.relpath(img, root) if not img.is_absolute() or root.is_absolute() else img.as_posix()
    prefix = "" if prefix == "." else prefix.rstrip("/") + "/"
    return DataSource(_shown(root).rstrip("/") + "/", train, val, test, prefix, _shown(meta), train != val)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def box_stats(ann_path: Path, keypoints: int | list[KeypointClass]) -> BoxStats:
    """Statistics of the instances of ``ann_path`` that have a box and at least one labelled keypoint.

    ``keypoints``: the metainfo's count, or its classes (each annotation then holds its category's count).

    Raises:
        MmpxError: unreadable JSON, keypoint arrays of another length than the metainfo's (or than their class's),
            an annotation of a category that is not a class, no usable instance.
    """
    try:
        data = json.loads(ann_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise MmpxError(f"{ann_path}: not a readable COCO file ({type(exc).__name__})",
                        "check it with mmpx check data") from None
    ratios, widths, heights, images = [], [], [], set()
    for i, ann in enumerate(data.get("annotations") or [] if isinstance(data, dict) else []):
        kpts, box = ann.get("keypoints"), ann.get("bbox")
        if not isinstance(kpts, list) or not isinstance(box, list) or len(box) != 4:
            continue
        _check_length(ann_path, i, ann, keypoints)
        if not all(_number(v) for v in box[2:] + kpts[2::3]):  # a malformed record: mmpx check data names it
            continue
        if box[2] > 0 and box[3] > 0 and any(v > 0 for v in kpts[2::3]):
            ratios.append(box[2] / box[3])
            widths.append(box[2])
            heights.append(box[3])
            images.add(ann.get("image_id"))
    if not ratios:
        raise MmpxError(f"{ann_path}: no annotation with a box and a labelled keypoint",
                        "mmpx check data lists what is wrong with the file")
    return BoxStats(len(ratios), len(images), _quantile(ratios, 0.5), _quantile(ratios, 0.1),
                    _quantile(ratios, 0.9), _quantile(widths, 0.5), _quantile(heights, 0.5))


def _check_length(ann_path: Path, i: int, ann: dict, keypoints: int | list[KeypointClass]) -> None:
    kpts = ann["keypoints"]
    if isinstance(keypoints, int):
        if len(kpts) != 3 * keypoints:
            raise MmpxError(f"{ann_path}: annotations[{i}].keypoints has {len(kpts) // 3} keypoints, the metainfo "
                            f"{keypoints}", "give the metainfo of this data (mmpx metainfo from-coco ANN.json M.py)")
        return
    cls = next((c for c in keypoints if c.id == ann.get("category_id")), None)
    if cls is None:
        raise MmpxError(f"{ann_path}: annotations[{i}] has category_id {ann.get('category_id')!r}, not a class of the "
                        f"metainfo ({', '.join(f'{c.name}={c.id}' for c in keypoints)})",
                        f"mmpx check data {ann_path} --metainfo METAINFO lists every problem")
    if len(kpts) != 3 * len(cls.keypoints):
        raise MmpxError(f"{ann_path}: annotations[{i}].keypoints has {len(kpts) // 3} keypoints, its class "
                        f"{cls.name!r} {len(cls.keypoints)}",
                        f"mmpx check data {ann_path} --metainfo METAINFO lists every problem")


def auto_input_size(stats: BoxStats) -> tuple[tuple[int, int], str]:
    """(width, height) and why: the long side 256, the short one from the median box shape, in steps of 32."""
    if stats.p90 / stats.p10 > SPREAD:
        return (LONG_SIDE, LONG_SIDE), (f"square: the train boxes' width/height runs from {stats.p10:.2f} to "
                                        f"{stats.p90:.2f} (10th-90th percentile), too varied for one shape")
    short_ratio = min(stats.ratio, 1 / stats.ratio)
    short = min(LONG_SIDE, max(MIN_SIDE, round(LONG_SIDE * short_ratio / STRIDE) * STRIDE))
    size = (LONG_SIDE, short) if stats.ratio >= 1 else (short, LONG_SIDE)
    return size, (f"the train boxes' median width/height is {stats.ratio:.2f} (10th-90th percentile "
                  f"{stats.p10:.2f}-{stats.p90:.2f}): long side {LONG_SIDE}, short side rounded to a multiple of "
                  f"{STRIDE}, at least {MIN_SIDE}")


def parse_input_size(text: str) -> tuple[int, int]:
    """``WxH`` (multiples of 32, at least 64)."""
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise MmpxError(f"--input-size {text!r}: expected auto or WIDTHxHEIGHT", "e.g. --input-size 256x192")
    size = (int(w), int(h))
    if any(s < 64 or s % STRIDE for s in size):
        near = "x".join(str(max(64, round(s / STRIDE) * STRIDE)) for s in size)
        raise MmpxError(f"--input-size {text}: both sides must be multiples of {STRIDE} and at least 64 (the "
                        f"backbone downsamples by {STRIDE})", f"e.g. --input-size {near}")
    return size


def parse_side(text: str) -> tuple[int, int]:
    """A whole-image model's ``--input-size``: ``N`` or ``NxN`` (square, a multiple of 32, at least 64)."""
    w, _, h = text.lower().partition("x")
    size = parse_input_size(f"{w}x{h or w}") if w.isdigit() and (not h or h.isdigit()) else None
    if size is None or size[0] != size[1]:
        raise MmpxError(f"--input-size {text!r}: a whole-image model takes a square input, N or NxN",
                        "e.g. --input-size 640 (RTMO) or --input-size 512 (DEKR)")
    return size


def flip_indices(info: dict) -> list[int]:
    """MMPose's ``flip_indices`` for ``info``, as its ``parse_pose_metainfo`` derives them from the swaps."""
    entries = sorted(info["keypoint_info"].values(), key=lambda kp: kp["id"])
    index = {kp["name"]: kp["id"] for kp in entries}
    return [index[kp["swap"]] if kp.get("swap") else kp["id"] for kp in entries]


def schedule(model: str, instances: int, epochs: str | int) -> tuple[int, int, float, int, int, str]:
    """(epochs, batch, lr, warmup steps, val interval, why)."""
    default_batch, base_lr = TRAINING[model]
    batch = max(1, min(default_batch, instances))
    steps = math.ceil(instances / batch)
    least = MIN_EPOCHS_OF.get(model, MIN_EPOCHS)
    what, whose = ("images", f"{model}'s") if model in WHOLE_IMAGE_SIDE else ("instances", "RTMPose's")
    if epochs == "auto":
        n = min(MAX_EPOCHS, max(least, math.ceil(MIN_STEPS / steps / 10) * 10))
        why = (f"{instances} train {what}, batch {batch}: {steps} step(s) an epoch; at least {least} "
               f"epochs ({whose} schedule) and at least {MIN_STEPS} steps, at most {MAX_EPOCHS} epochs")
    else:
        n, why = int(epochs), f"--epochs {epochs}"
    # Adam-type optimisers: scale the rate by the square root of the batch below the default, not linearly
    lr = base_lr * math.sqrt(batch / default_batch)
    warmup = max(1, min(1000 if model.startswith("rtmpose") else 500, n * steps // 10))
    return n, batch, lr, warmup, max(1, round(n / 20)), why


def plan_config(data: Path, model: str, metainfo: Path | None = None, images: Path | None = None,
                input_size: str = "auto", epochs: str = "auto", load_from: Path | None = None,
                flip: str = "auto") -> Plan:
    """Every choice of the config for ``data`` and ``model``.

    Raises:
        MmpxError: an unknown model, bad sizes or epochs, a metainfo with errors or not matching the data.
    """
    if model not in MODELS:
        raise MmpxError(f"--model {model!r} is not one of {', '.join(MODELS)}",
                        "e.g. --model rtmpose-t (top-down) or --model rtmo-t (one-stage, docs/guides/one-stage.md)")
    if epochs != "auto" and (not str(epochs).isdigit() or int(epochs) < 1):
        raise MmpxError(f"--epochs {epochs!r}: expected auto or a positive whole number", "e.g. --epochs 300")
    if flip not in ("auto", "yes", "no"):
        raise MmpxError(f"--flip {flip!r}: expected auto, yes or no", "e.g. --flip yes")
    if load_from is not None and not load_from.is_file():
        raise MmpxError(f"--load-from {load_from} does not exist", "give the path of a .pth checkpoint")
    source = find_data(data, metainfo, images)
    meta_file = metainfo if metainfo is not None else data / "metainfo.py"
    info = load_metainfo(meta_file)
    errors = [p for p in validate_metainfo(info, str(meta_file)) if p.severity == "error"]
    if errors:
        raise MmpxError(f"{meta_file}: {errors[0].where}: {errors[0].message}",
                        errors[0].hint or f"mmpx metainfo check {meta_file} lists every problem")
    names = keypoint_names(info)
    classes = keypoint_classes(info, str(meta_file))
    train_file = Path(source.root) / source.train if not data.is_file() else data
    stats = box_stats(train_file, classes or len(names))
    indices = flip_indices(info)
    why = {}
    whole = model in WHOLE_IMAGE_SIDE
    if whole:
        if classes:
            raise MmpxError(f"{meta_file}: --model {model} predicts one class; this metainfo has "
                            f"{len(classes)}", "give a one-class metainfo, or a top-down model (e.g. rtmpose-t)")
        side = WHOLE_IMAGE_SIDE[model]
        size, why["input_size"] = ((side, side), f"{side}, the input side of MMPose's {model} configs; whole "
                                   "images are resized to fit it") if input_size == "auto" else \
            (parse_side(input_size), f"--input-size {input_size}")
    elif input_size == "auto":
        size, why["input_size"] = auto_input_size(stats)
    else:
        size, why["input_size"] = parse_input_size(input_size), f"--input-size {input_size}"
    images_count = _image_count(train_file, data) if whole else 0
    n, batch, lr, warmup, interval, why["epochs"] = schedule(model, images_count or stats.instances, epochs)
    pairs = sum(1 for i, j in enumerate(indices) if i < j)
    on = flip == "yes" or (flip == "auto" and pairs > 0)
    why["flip"] = (f"--flip {flip}" if flip != "auto" else
                   f"the metainfo pairs {pairs} left/right keypoint(s)" if on else
                   "the metainfo pairs no keypoints left/right, so a mirrored image would keep each label on the "
                   "wrong side for a two-sided object: no flip (--flip yes for objects without sides, e.g. a hand)")
    val_count = stats.instances if not source.held_out else _count(Path(source.root) / source.val, data)
    sigmas = [float(s) for s in info.get("sigmas") or []]
    # OKS needs a sigma per keypoint; MMPose's own face and hand metainfo files have none (they score by PCK/NME)
    coco = len(sigmas) == len(names)
    why["metric"] = ("COCO AP: OKS with the metainfo's sigmas" if coco else
                     f"PCK@0.05 of the box and EPE: the metainfo has {len(sigmas)} sigmas for {len(names)} "
                     "keypoints, and COCO AP (OKS) needs one per keypoint (mmpx metainfo sigmas estimates them)")
    if classes and coco:
        why["metric"] = ("COCO AP and AR for each class on its own keypoints with its own sigmas, and PCK@0.05 per "
                         "class; coco/AP is the mean over the classes")
    if whole and not coco:
        raise MmpxError(f"{meta_file}: --model {model} needs one OKS sigma per keypoint ({len(names)}), the metainfo "
                        f"has {len(sigmas)}", "estimate them: mmpx metainfo sigmas A.json B.json --out M.py, or "
                        "write the default 0.05 per keypoint into the metainfo's sigmas")
    val_batch = 1 if whole else max(1, min(32, val_count))  # whole images of different sizes: one at a time
    return Plan(model, source, stats, names, sigmas, indices, on, size, n, batch, val_batch, lr,
                warmup, interval, _shown(load_from) if load_from else None, coco, why, classes, images_count)


def _image_count(ann_path: Path, data: Path) -> int:
    try:
        images = json.loads(ann_path.read_text(encoding="utf-8")).get("images") or []
    except (OSError, ValueError, AttributeError):
        raise MmpxError(f"{ann_path}: not a readable COCO file", f"mmpx check data {data}") from None
    return max(1, len(images))


def _count(ann_path: Path, data: Path) -> int:
    try:
        anns = json.loads(ann_path.read_text(encoding="utf-8")).get("annotations") or []
    except (OSError, ValueError, AttributeError):
        raise MmpxError(f"{ann_path}: not a readable COCO file", f"mmpx check data {data}") from None
    return max(1, len(anns))
