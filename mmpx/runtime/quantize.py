"""Static int8 quantisation of an exported pose model with ONNX Runtime (QDQ, per-channel int8 weights, uint8
activations), calibrated on crops of real instances from a COCO keypoint file, and measured against the fp32
model on every instance of that file.

int8 changes the outputs, so the 0.5 px parity of the fp32 export does not hold: :func:`quantize_onnx` reports
how far the int8 keypoints are from the fp32 ones (and the sidecar keeps it) so that the trade can be judged.
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
from mmpx.runtime.model_file import publish
from mmpx.runtime.ort import OnnxPoseModel, sidecar_path_for


@dataclass
class QuantizeResult:
    onnx_path: Path
    sidecar_path: Path
    calibration_crops: int
    agreement: dict  # fp32 vs int8 on every instance of the annotation file


def coco_instances(ann: str | Path, images: str | Path) -> list[tuple[Path, np.ndarray]]:
    """``(image path, boxes (N, 4) xyxy)`` per image of a COCO keypoint file that has boxes, in file order."""
    ann, images = Path(ann), Path(images)
    if not ann.is_file():
        raise MmpxError(f"annotation file {ann} does not exist", "give the COCO keypoint JSON of your val set")
    if not images.is_dir():
        raise MmpxError(f"image folder {images} does not exist", "give the folder file_name is relative to")
    try:
        data = json.loads(ann.read_text())
        boxes: dict[int, list] = {}
        for a in data["annotations"]:
            x, y, w, h = a["bbox"]
            if w > 1 and h > 1 and not a.get("iscrowd", 0):
                boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
        return [(images / i["file_name"], np.array(boxes[i["id"]], np.float32))
                for i in data["images"] if i["id"] in boxes]
    except (ValueError, KeyError, TypeError) as exc:
        raise MmpxError(f"{ann} is not a COCO keypoint file ({type(exc).__name__}: {exc})",
                        "check it with `mmpx check data`") from exc


def read_image(path: Path) -> np.ndarray:
    from mmpx.check.images import decode_image

    img, why = decode_image(path)  # the pixel limit too: a huge image is refused by its header, not decoded
    if img is None:
        raise MmpxError(f"could not read image {path}: {why}", "check the --calib-images folder and the file")
    return img


class _Crops:
    """ONNX Runtime's calibration reader: one normalised crop at a time."""

    def __init__(self, name: str, crops: np.ndarray):
        self.name, self.items = name, iter(crops)

    def get_next(self):
        crop = next(self.items, None)
        return None if crop is None else {self.name: crop[None]}


def agreement(fp32: OnnxPoseModel, int8: OnnxPoseModel, samples) -> dict:
    """How close int8 keypoints are to fp32's: mean/max distance in pixels, and the share within 0.05 of the box
    size (max(w, h), PCK's bbox normalisation) and within 1% of it."""
    dist, norm = [], []
    for path, boxes in samples:
        img = read_image(path)
        a, _ = fp32.predict(img, boxes)
        b, _ = int8.predict(img, boxes)
        dist.append(np.linalg.norm(a - b, axis=-1).ravel())
        norm.append(np.repeat(np.max(boxes[:, 2:] - boxes[:, :2], axis=1), a.shape[1]))
    d, n = np.concatenate(dist), np.concatenate(norm)
    return dict(keypoints=int(d.size), mean_px=round(float(d.mean()), 3), max_px=round(float(d.max()), 3),
                within_0_05_bbox=round(float((d < 0.05 * n).mean()), 4),
                within_0_01_bbox=round(float((d < 0.01 * n).mean()), 4))


def static_int8(onnx_path: Path, tmp: Path, input_name: str, inputs: np.ndarray) -> Path:
    """``tmp/int8.onnx``: ``onnx_path`` quantised (static QDQ, per-channel int8 weights, uint8 activations, MinMax
    calibration on ``inputs``, one (C, H, W) network input each)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared, staged = tmp / "prepared.onnx", tmp / "int8.onnx"
    # ONNX shape inference + graph clean-up, as ORT recommends. Its symbolic shape inference is skipped: the
    # graph's only free dimension is the batch, and it would import torch whenever torch is installed
    # (onnxruntime.tools does), which mmpx export int8 must not pay
    quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(staged), _Crops(input_name, inputs), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return staged


def quantize_onnx(onnx_path: str | Path, ann: str | Path, images: str | Path, out: str | Path | None = None,
                  calib_crops: int = 128) -> QuantizeResult:
    """Write ``out`` (default ``NAME.int8.onnx``) and its sidecar from the fp32 ``onnx_path`` + sidecar.

    Args:
        onnx_path: a model written by ``mmpx export onnx``.
        ann, images: a COCO keypoint file and its image folder; the first ``calib_crops`` instances calibrate,
            all of them measure the agreement with fp32.
        out: the int8 ``.onnx`` path; its sidecar is ``out`` with ``.json``.

    Raises:
        MmpxError: missing or unreadable inputs, or an ``out`` that would overwrite the fp32 model.
    """
    onnx_path = Path(onnx_path)
    fp32 = OnnxPoseModel(onnx_path)  # checks the file and its sidecar
    out = Path(out) if out is not None else onnx_path.with_suffix(".int8.onnx")
    if out.resolve() == onnx_path.resolve():
        raise MmpxError(f"--out {out} is the fp32 model itself", "give another name, e.g. NAME.int8.onnx")
    samples = coco_instances(ann, images)
    if not samples:
        raise MmpxError(f"{ann} has no instance with a box to calibrate on", "use the val set's annotation file")
    crops = []
    for path, boxes in samples:
        crops.append(fp32.preprocess(read_image(path), boxes)[0])
        if sum(len(c) for c in crops) >= calib_crops:
            break
    crops = np.concatenate(crops)[:calib_crops].astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staged = static_int8(onnx_path, Path(tmp), fp32.input_name, crops)
        int8 = OnnxPoseModel(staged, sidecar=sidecar_path_for(onnx_path))
        measured = agreement(fp32, int8, samples)
        sidecar = copy.deepcopy(fp32.sidecar)
        sidecar["onnx"] = out.name
        sidecar["quantization"] = dict(
            type="int8 static QDQ (per-channel int8 weights, uint8 activations, MinMax calibration)",
            fp32_model=onnx_path.name, calibration=dict(annotations=str(ann), crops=int(len(crops))),
            agreement_with_fp32=measured,
        )
        publish(staged, out, sidecar, sidecar_path_for(out))  # one rename: the sidecar travels inside
    return QuantizeResult(out, sidecar_path_for(out), int(len(crops)), measured)
