"""Look at a dataset as a config builds it: the raw annotations, or what the model is fed after the pipeline.

``original`` mode draws each sample's image (a file, or an array in ``data_info['img']`` for in-memory datasets)
with its ground-truth boxes, keypoints and skeleton, straight from the dataset's ``data_info``: no transform runs.
``transformed`` mode runs the phase's pipeline, augmentations included, and draws the ``inputs`` tensor that
``PackPoseInputs`` packs, the keypoints moved into it, and the training targets ``GenerateTarget`` made:
heatmaps (MSRA/UDP/...) as a colour overlay, SimCC labels as their 1-D x and y distributions in strips added
below and to the right of the image (one curve per keypoint, in its colour, aligned with the image's pixels).

With several classes (``MultiClassCocoDataset``: each sample one instance of its ``category_id``'s class, its
keypoints in that class's block of the union), each instance is drawn with its own class's keypoints only, its
skeleton and colours and its class's name at its box; ``SampleView.keypoints`` then holds that class's keypoints.

An image is enlarged by the largest integer factor that keeps its longer side within 256 pixels (64 -> 256,
96 -> 192, 160 and larger unchanged), nearest neighbour, so that small inputs (64x64) stay readable.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mmpx.atomic import clean_stale, replace_dir, tmp_name
from mmpx.atomic.guard import check_apart
from mmpx.atomic.lock import hold
from mmpx.atomic.stale import new_tmp_dir, release
from mmpx.errors import ConfigError, MmpxError

PHASES = ("train", "val", "test")
MODES = ("original", "transformed")
MIN_SIDE = 256  # enlarge images by the largest integer factor within this (nearest neighbour keeps pixels honest)
STRIP = 48  # height of the SimCC distribution strips
JPEG_QUALITY = 95


@dataclass
class SampleView:
    """One drawn sample. ``keypoints`` (N,K,2) are in the coordinates of the written image."""

    index: int
    name: str
    path: Path
    keypoints: np.ndarray
    visible: np.ndarray
    image_size: tuple[int, int]  # (width, height) of the image part, strips excluded
    target: str | None = None  # 'heatmap', 'simcc' or None
    class_name: str | None = None  # the instance's class (several classes), its keypoints only in ``keypoints``


@dataclass
class BrowseResult:
    folder: Path
    sheet: Path
    samples: list[SampleView] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (index, why): a transform dropped the sample


def build_dataset(config: str | Path, phase: str, cfg_options: list[str] | None = None):
    """Build ``<phase>_dataloader.dataset`` of a config, with mmpose-ext and the plugins registered."""
    from mmpose_ext.config import load_config

    cfg = load_config(config, cfg_options)  # plugins registered, overrides applied
    key = f"{phase}_dataloader"
    loader = cfg.get(key)
    if not loader or not loader.get("dataset"):
        present = [p for p in PHASES if (cfg.get(f"{p}_dataloader") or {}).get("dataset")]
        raise ConfigError(
            f"config {config} has no {key}.dataset",
            f"this config has: --phase {' or '.join(present)}" if present else "add a dataloader with a dataset",
        )
    from mmengine.registry import init_default_scope

    from mmpose_ext.registry import DATASETS

    init_default_scope(cfg.get("default_scope") or "mmpose")
    spec = loader["dataset"]
    try:
        with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints progress; stdout is for the paths
            dataset = DATASETS.build(spec)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        files = {k: spec.get(k) for k in ("data_root", "ann_file") if spec.get(k)}
        raise ConfigError(
            f"config {config}: {key}.dataset (type {spec.get('type')!r}"
            + "".join(f", {k}={v!r}" for k, v in files.items())
            + f") could not be built: {type(exc).__name__}: {first}",
            f"fix {key}.dataset in the config or override it, e.g. --cfg-options {key}.dataset.data_root=DIR",
        ) from exc
    if len(dataset) == 0:
        raise MmpxError(f"config {config}: {key}.dataset is empty", "check its ann_file and filter_cfg")
    return dataset


def browse(
    config: str | Path,
    phase: str = "train",
    mode: str = "original",
    max_samples: int = 16,
    out_dir: str | Path | None = None,
    cfg_options: list[str] | None = None,
    seed: int = 0,
) -> BrowseResult:
    """Draw up to ``max_samples`` samples (the first ones) of a config's dataset.

    Writes ``<out_dir>/<phase>_<mode>/<index>_<name>.jpg`` per sample and ``contact_sheet.jpg``; the folder is
    replaced as a whole, only once every image is written. ``seed`` seeds the augmentations (``transformed``).

    Raises:
        MmpxError / ConfigError: bad phase, mode or ``max_samples``, no such dataloader, a dataset that does not
            build, an image that cannot be read, a pipeline step that fails.
    """
    if phase not in PHASES:
        raise MmpxError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}", "--phase train|val|test")
    if mode not in MODES:
        raise MmpxError(f"mode must be one of {', '.join(MODES)}, got {mode!r}", "--mode original|transformed")
    if max_samples < 1:
        raise MmpxError(f"--max must be at least 1, got {max_samples}", "e.g. --max 16")
    dataset = build_dataset(config, phase, cfg_options)
    metainfo = dict(dataset.metainfo)
    if mode == "transformed":
        from mmengine.runner.utils import set_random_seed

        set_random_seed(seed)
    out_root = Path(out_dir) if out_dir is not None else Path("work_dirs") / "browse" / Path(config).stem
    final = out_root / f"{phase}_{mode}"
    check_apart({"--out-dir": out_root}, {"CONFIG": config, "the dataset's files": _dataset_paths(dataset)})
    out_root.mkdir(parents=True, exist_ok=True)
    with hold(final, "browse folder"):
        clean_stale(out_root)  # what ended runs left there (never what a running one holds)
        tmp = new_tmp_dir(out_root, tmp_name(final.name))
        try:
            return _draw_all(dataset, metainfo, phase, mode, max_samples, tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            release(tmp)


def _dataset_paths(dataset) -> list[str]:
    """The annotation file, image folders and root a built dataset reads."""
    prefix = getattr(dataset, "data_prefix", None) or {}
    paths = [getattr(dataset, "ann_file", None), getattr(dataset, "data_root", None), *prefix.values()]
    return [str(p) for p in paths if isinstance(p, (str, Path)) and str(p)]


def _draw_all(dataset, metainfo, phase, mode, max_samples, tmp: Path, final: Path) -> BrowseResult:
    result = BrowseResult(folder=final, sheet=final / "contact_sheet.jpg")
    drawn, labels = [], []
    for index in range(min(max_samples, len(dataset))):
        info = dataset.get_data_info(index)
        name = _name(info, index)
        if mode == "original":
            image, view = _draw_original(info, metainfo, index, name)
        else:
            out = _draw_transformed(dataset, info, metainfo, index, name)
            if out is None:
                result.skipped.append((index, "a pipeline step returned None (sample filtered out)"))
                continue
            image, view = out
        file = f"{index:05d}_{name}.jpg"
        _write_jpg(tmp / file, image)
        view.path = final / file
        result.samples.append(view)
        drawn.append(image)
        labels.append(f"{index} {name}")
    if not drawn:
        raise MmpxError(f"every sample of {phase} was filtered out by its pipeline", "try --mode original")
    from mmpx.visual.draw import contact_sheet

    _write_jpg(tmp / "contact_sheet.jpg", contact_sheet(drawn, cols=min(4, len(drawn)), cell=256, labels=labels))
    replace_dir(tmp, final)
    return result


# -- original ---------------------------------------------------------------------------------------------------


def _load_image(info: dict, index: int) -> np.ndarray:
    if isinstance(info.get("img"), np.ndarray):  # in-memory datasets (e.g. the example plugin's shapes)
        return info["img"]
    path = info.get("img_path")
    if not path:
        raise MmpxError(f"sample {index} has neither 'img' nor 'img_path'", "is this a pose dataset?")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise MmpxError(f"cannot read image {path} (sample {index}): {exc.strerror or exc}",
                        "check the dataset's data_root and data_prefix.img") from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise MmpxError(f"image {path} (sample {index}) is not a readable image", "re-export or remove it")
    return image


def _draw_original(info: dict, metainfo: dict, index: int, name: str):
    from mmpx.visual.draw import draw_pose

    image = _load_image(info, index)
    scale = _scale(image.shape)
    image = _enlarge(image, scale)
    kpts, vis = _keypoints(info.get("keypoints"), info.get("keypoints_visible"))
    bboxes = info.get("bbox")
    bboxes = None if bboxes is None else np.asarray(bboxes, dtype=np.float64).reshape(-1, 4) * scale
    kpts = kpts * scale
    meta, kpts, vis, class_name = _class_cut(metainfo, info, kpts, vis)
    radius, thickness = _marks(image.shape)
    if class_name is not None:  # under the points: a label never hides one
        _class_label(image, class_name, bboxes, kpts, vis)
    image = draw_pose(image, kpts, vis, meta, bboxes=bboxes, draw_bbox=bboxes is not None, kpt_thr=0.5,
                      radius=radius, thickness=thickness)
    return image, SampleView(index, name, Path(), kpts, vis, (image.shape[1], image.shape[0]),
                             class_name=class_name)


# -- transformed ------------------------------------------------------------------------------------------------


def _draw_transformed(dataset, info: dict, metainfo: dict, index: int, name: str):
    from mmpx.visual.draw import draw_heatmap, draw_pose

    results, before_pack = info, None
    for transform in getattr(dataset.pipeline, "transforms", [dataset.pipeline]):
        if type(transform).__name__.startswith("Pack"):
            before_pack = dict(results)
        try:
            results = transform(results)
        except Exception as exc:
            where = info.get("img_path") or f"img_id {info.get('img_id')}"
            first = (str(exc).strip().splitlines() or [""])[0]
            raise MmpxError(
                f"pipeline step {type(transform).__name__} failed on sample {index} ({where}): "
                f"{type(exc).__name__}: {first}",
                "check that sample's files and annotation, or the step's arguments in the config",
            ) from exc
        if results is None:
            return None
    state = before_pack if before_pack is not None else results
    image = _input_image(results.get("inputs") if before_pack is not None else None, state.get("img"))
    scale = _scale(image.shape)
    image = _enlarge(image, scale)
    kpts = state.get("transformed_keypoints")
    kpts, vis = _keypoints(kpts if _is_keypoints(kpts) else state.get("keypoints"), state.get("keypoints_visible"))
    kpts = kpts * scale
    target = None
    heatmaps = state.get("heatmaps")
    if isinstance(heatmaps, list):  # multi-level targets: show the finest
        heatmaps = heatmaps[0]
    if heatmaps is not None and np.ndim(heatmaps) == 3:
        image, target = draw_heatmap(image, np.asarray(heatmaps), alpha=0.5), "heatmap"
    meta, kpts, vis, class_name = _class_cut(metainfo, info, kpts, vis)
    radius, thickness = _marks(image.shape)
    if class_name is not None:
        _class_label(image, class_name, None, kpts, vis)
    image = draw_pose(image, kpts, vis, meta, kpt_thr=0.5, radius=radius, thickness=thickness)
    size = (image.shape[1], image.shape[0])
    x_labels, y_labels = state.get("keypoint_x_labels"), state.get("keypoint_y_labels")
    if x_labels is not None and y_labels is not None:
        weights = state.get("keypoint_weights")
        image, target = _simcc_strips(image, np.asarray(x_labels), np.asarray(y_labels), weights, metainfo), "simcc"
    return image, SampleView(index, name, Path(), kpts, vis, size, target, class_name)


def _input_image(inputs, img) -> np.ndarray:
    """``PackPoseInputs``' CHW tensor (BGR, uint8 from LoadImage) as an HWC image; else the pipeline's ``img``."""
    if inputs is not None and hasattr(inputs, "shape") and len(inputs.shape) == 3:
        array = inputs.detach().cpu().numpy() if hasattr(inputs, "detach") else np.asarray(inputs)
        array = array.transpose(1, 2, 0)
    elif img is not None:
        array = np.asarray(img)
    else:
        raise MmpxError("the pipeline produced no image ('inputs' or 'img')", "does it start with LoadImage?")
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2 or array.shape[2] == 1:
        array = cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(array)


def _simcc_strips(image, x_labels, y_labels, weights, metainfo) -> np.ndarray:
    """Add a strip below (x distributions) and one to the right (y distributions), each curve in its keypoint's
    colour and scaled to the strip; position i of a label is pixel i / split_ratio of the input."""
    h, w = image.shape[:2]
    canvas = np.full((h + STRIP, w + STRIP, 3), 24, np.uint8)
    canvas[:h, :w] = image
    given = metainfo.get("keypoint_colors")
    colors = [tuple(int(v) for v in np.asarray(c).reshape(-1)[2::-1]) for c in ([] if given is None else given)]
    x_labels, y_labels = x_labels.reshape(-1, *x_labels.shape[-2:]), y_labels.reshape(-1, *y_labels.shape[-2:])
    weights = np.ones(x_labels.shape[:2]) if weights is None else np.asarray(weights).reshape(x_labels.shape[:2])
    for inst in range(x_labels.shape[0]):
        for k in range(x_labels.shape[1]):
            if weights[inst, k] <= 0:
                continue
            color = colors[k] if k < len(colors) and len(colors[k]) == 3 else (255, 255, 255)  # RGB -> BGR above
            for labels, axis in ((x_labels[inst, k], 0), (y_labels[inst, k], 1)):
                peak = float(labels.max())
                if peak <= 0:
                    continue
                pos = (np.arange(len(labels)) + 0.5) * ((w if axis == 0 else h) / len(labels))
                height = labels / peak * (STRIP - 6)
                if axis == 0:
                    pts = np.stack([pos, h + STRIP - 3 - height], axis=1)
                else:
                    pts = np.stack([w + 3 + height, pos], axis=1)
                cv2.polylines(canvas, [np.round(pts).astype(np.int32)], False, color, 1, cv2.LINE_AA)
    return canvas


# -- several classes --------------------------------------------------------------------------------------------


def _class_cut(metainfo: dict, info: dict, kpts: np.ndarray, vis: np.ndarray):
    """The instance's class's metainfo and its block of the union's keypoints, plus the class's name; the inputs
    unchanged (and None) for a one-class dataset. The class is the sample's ``category_id``."""
    classes = metainfo.get("classes")
    if not classes:
        return metainfo, kpts, vis, None
    from mmpx.infer.classes import class_meta
    from mmpx.metainfo.classes import KeypointClass

    cat = info.get("category_id")
    found = next((c for c in classes if c["id"] == cat), None)
    if found is None:
        known = ", ".join(f"{c['name']} (id {c['id']})" for c in classes)
        raise MmpxError(f"sample {info.get('img_path') or info.get('img_id')} has category_id {cat!r}, not a class "
                        f"of the dataset ({known})", "give each annotation the category_id of its class")
    cls = KeypointClass(int(found["id"]), str(found["name"]), tuple(found["keypoints"]), int(found["start"]))
    return class_meta(metainfo, cls), kpts[:, cls.start:cls.stop], vis[:, cls.start:cls.stop], cls.name


def _class_label(image: np.ndarray, text: str, bboxes, kpts: np.ndarray, vis: np.ndarray) -> None:
    """The class's name at the top left of the instance's box (else of its visible keypoints), white on black."""
    if bboxes is not None and len(bboxes) and np.all(np.isfinite(bboxes[0])):
        x, y = float(bboxes[0][0]), float(bboxes[0][1])
    elif kpts.size and (vis > 0).any():
        shown = kpts[vis > 0]
        x, y = float(shown[:, 0].min()), float(shown[:, 1].min())
    else:
        x, y = 0.0, 0.0
    scale = max(0.4, max(image.shape[:2]) / 640)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = int(np.clip(x, 0, max(0, image.shape[1] - tw - 4)))
    y = int(np.clip(y - th - base - 4, 0, max(0, image.shape[0] - th - base - 4)))
    cv2.rectangle(image, (x, y), (x + tw + 4, y + th + base + 4), (0, 0, 0), -1)
    cv2.putText(image, text, (x + 2, y + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


# -- helpers ----------------------------------------------------------------------------------------------------


def _is_keypoints(value) -> bool:
    return value is not None and np.ndim(value) >= 2 and np.shape(value)[-1] >= 2


def _keypoints(kpts, visible) -> tuple[np.ndarray, np.ndarray]:
    """(N,K,2) coordinates and (N,K) 0/1 visibility (visibility > 0 counts as visible: labelled)."""
    if not _is_keypoints(kpts):
        return np.zeros((0, 0, 2)), np.zeros((0, 0))
    kpts = np.asarray(kpts, dtype=np.float64)
    kpts = kpts.reshape(-1, *kpts.shape[-2:])[..., :2]
    if visible is None:
        vis = np.ones(kpts.shape[:2])
    else:
        vis = np.asarray(visible, dtype=np.float64)
        if vis.ndim == 3:
            vis = vis[..., 0]
        vis = vis.reshape(kpts.shape[:2])
    return kpts, (vis > 0).astype(np.float64)


def _name(info: dict, index: int) -> str:
    path = info.get("img_path")
    stem = Path(str(path)).stem if path else f"img{np.asarray(info.get('img_id', index)).item()}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:60] or f"sample{index}"


def _scale(shape) -> int:
    return max(1, MIN_SIDE // max(shape[0], shape[1], 1))


def _enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    image = np.ascontiguousarray(image)
    if scale == 1:
        return image.copy()
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def _marks(shape) -> tuple[int, int]:
    radius = max(3, round(max(shape[0], shape[1]) / 160))
    return radius, max(1, radius // 2)


def _write_jpg(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise MmpxError(f"could not encode {path.name} as JPEG", "is the image empty?")
    path.write_bytes(data.tobytes())


__all__ = ["BrowseResult", "SampleView", "browse", "build_dataset"]
