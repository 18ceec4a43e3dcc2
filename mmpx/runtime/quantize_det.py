"""Static int8 quantisation of an exported RTMDet detector with ONNX Runtime, calibrated on whole images of a
COCO file (the detector sees whole images, not crops; a dynamic-size detector each at its own padded size) and
measured against the fp32 detector on them.

The detector's network is most of a detect-then-pose frame on the CPU, so this is where int8 pays. int8 moves
boxes and scores: :func:`quantize_detector` reports how many of the fp32 boxes the int8 detector still finds
(same class, IoU >= 0.5, both above the infer default score 0.3) and how close they are; the sidecar keeps it.
No torch: ONNX Runtime and numpy only.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.runtime.det import OnnxDetector
from mmpx.runtime.model_file import publish
from mmpx.runtime.quantize import read_image, static_int8

MATCH_SCORE = 0.3  # mmpx infer's default --bbox-thr: the boxes a user gets
MATCH_IOU = 0.5
MEASURE_IMAGES = 200  # enough for the figure; a large val set would take minutes for nothing


@dataclass
class DetQuantizeResult:
    onnx_path: Path
    sidecar_path: Path
    calibration_images: int
    agreement: dict


def coco_images(ann: str | Path, images: str | Path) -> list[Path]:
    """The image paths of a COCO file, in file order (with or without annotations: negatives calibrate too)."""
    ann, images = Path(ann), Path(images)
    if not ann.is_file():
        raise MmpxError(f"annotation file {ann} does not exist", "give the COCO file of your val set")
    if not images.is_dir():
        raise MmpxError(f"image folder {images} does not exist", "give the folder file_name is relative to")
    try:
        paths = [images / i["file_name"] for i in json.loads(ann.read_text())["images"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise MmpxError(f"{ann} is not a COCO file ({type(exc).__name__}: {exc})",
                        "check it with `mmpx check data`") from exc
    if not paths:
        raise MmpxError(f"{ann} lists no images to calibrate on", "use the val set's annotation file")
    return paths


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def match_boxes(ref: tuple, got: tuple, iou_thr: float = MATCH_IOU) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matches ``(ref index, got index, IoU)`` of two detections ``(boxes, scores, labels)``,
    best reference score first, same label only."""
    (rb, rs, rl), (gb, _, gl) = ref, got
    if not len(rb) or not len(gb):
        return []
    overlap = _iou(rb, gb)
    overlap[rl[:, None] != gl[None]] = 0
    taken, pairs = set(), []
    for i in np.argsort(-rs, kind="stable"):
        for j in np.argsort(-overlap[i], kind="stable"):
            if overlap[i, j] < iou_thr:
                break
            if j not in taken:
                taken.add(int(j))
                pairs.append((int(i), int(j), float(overlap[i, j])))
                break
    return pairs


def det_agreement(fp32: OnnxDetector, int8: OnnxDetector, paths: list[Path], score_thr: float = MATCH_SCORE) -> dict:
    """Boxes scoring >= ``score_thr`` in each: the share of fp32's that int8 finds (recall), of int8's that fp32
    has (precision), and the matched pairs' mean IoU and mean score difference."""
    def kept(det):
        boxes, scores, labels = det
        keep = scores >= score_thr
        return boxes[keep], scores[keep], labels[keep]

    refs = gots = 0
    ious, diffs = [], []
    for path in paths[:MEASURE_IMAGES]:
        image = read_image(path)
        ref, got = kept(fp32(image)), kept(int8(image))
        pairs = match_boxes(ref, got)
        refs, gots = refs + len(ref[0]), gots + len(got[0])
        ious += [p[2] for p in pairs]
        diffs += [abs(float(ref[1][i]) - float(got[1][j])) for i, j, _ in pairs]
    matched = len(ious)
    return dict(images=min(len(paths), MEASURE_IMAGES), score_thr=score_thr, fp32_boxes=refs, int8_boxes=gots,
                matched=matched, recall=round(matched / refs, 4) if refs else None,
                precision=round(matched / gots, 4) if gots else None,
                mean_iou=round(float(np.mean(ious)), 4) if ious else None,
                mean_score_diff=round(float(np.mean(diffs)), 4) if diffs else None)


def quantize_detector(onnx_path: str | Path, ann: str | Path, images: str | Path, out: str | Path | None = None,
                      calib_images: int = 64) -> DetQuantizeResult:
    """Write ``out`` (default ``NAME.int8.onnx``) and its sidecar from the fp32 detector ``onnx_path``.

    Args:
        onnx_path: a detector written by ``mmpx export onnx DET_CONFIG DET_CKPT``.
        ann, images: a COCO file and its image folder; its first ``calib_images`` images calibrate, up to
            200 of them measure the agreement with fp32.
        out: the int8 ``.onnx`` path; its sidecar is ``out`` with ``.json``.

    Raises:
        MmpxError: missing or unreadable inputs, or an ``out`` that would overwrite the fp32 model.
    """
    onnx_path = Path(onnx_path)
    fp32 = OnnxDetector(onnx_path)  # checks the file and its sidecar
    out = Path(out) if out is not None else onnx_path.with_suffix(".int8.onnx")
    if out.resolve() == onnx_path.resolve():
        raise MmpxError(f"--out {out} is the fp32 model itself", "give another name, e.g. NAME.int8.onnx")
    paths = coco_images(ann, images)
    inputs = [fp32.preprocess(read_image(p))[0] for p in paths[:calib_images]]
    # a fixed-size model: one stacked array; a dynamic-size one calibrates each image at its own padded size (the
    # calibrator keeps each tensor's min and max over the runs, whatever their shapes)
    inputs = inputs if fp32.dynamic_size else np.stack(inputs).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staged = static_int8(onnx_path, Path(tmp), fp32.input_name, inputs)
        sidecar = copy.deepcopy(fp32.sidecar)
        int8 = OnnxDetector(staged, sidecar=_write_json(Path(tmp) / "sidecar.json", sidecar))
        measured = det_agreement(fp32, int8, paths)
        sidecar["onnx"] = out.name
        sidecar["quantization"] = dict(
            type="int8 static QDQ (per-channel int8 weights, uint8 activations, MinMax calibration)",
            fp32_model=onnx_path.name, calibration=dict(annotations=str(ann), images=int(len(inputs))),
            agreement_with_fp32=measured,
        )
        del int8  # the session holds the staged file open on some systems
        publish(staged, out, sidecar, out.with_suffix(".json"))  # one rename: the sidecar travels inside
    return DetQuantizeResult(out, out.with_suffix(".json"), int(len(inputs)), measured)


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path
