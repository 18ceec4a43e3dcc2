"""Pre-labels: predictions -> labelme files (``mmpx infer --save-labelme``) -> ``mmpx convert labelme`` -> the same
keypoints and boxes (to the converter's 0.01 px), on synthetic cars, on the real labelme examples' images and
through the real commands with an ONNX model; existing pre-labels are never replaced."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.convert import convert_labelme
from mmpx.convert.labelme_write import CHECK_FLAG, FILE_FLAG, prelabel
from mmpx.infer.inputs import Source
from mmpx.infer.labelme_out import LabelmeSink
from mmpx.synth.carpose import KEYPOINTS, synth_carpose
from mmpx.testing import run_cli
from tests.helpers import SHARED_DATA
from tests.onnx_model import NAMES, write_tiny_onnx

EXAMPLES = SHARED_DATA / "labelme-examples"
ROUND = 0.005 + 1e-9  # the converter writes 2 decimals


def _coco(out: Path) -> dict:
    """Image file name -> [(bbox, keypoints (K, 3))] over both splits of a converted dataset."""
    found: dict[str, list] = {}
    for split in ("train", "val"):
        data = json.loads((out / "annotations" / f"{split}.json").read_text())
        names = {im["id"]: im["file_name"] for im in data["images"]}
        for ann in data["annotations"]:
            found.setdefault(names[ann["image_id"]], []).append(
                (ann["bbox"], np.array(ann["keypoints"], float).reshape(-1, 3)))
    return found


def _predictions(rng, boxes: np.ndarray, k: int, width: int, height: int, outside: bool = True):
    """Keypoints inside each box (a few outside the image when ``outside``), scores in [0, 1]."""
    x1, y1, x2, y2 = boxes[:, :1], boxes[:, 1:2], boxes[:, 2:3], boxes[:, 3:4]
    kpts = np.stack([x1 + rng.random((len(boxes), k)) * (x2 - x1),
                     y1 + rng.random((len(boxes), k)) * (y2 - y1)], axis=-1)
    if outside:
        kpts[0, 0] = (-7.5, height / 2)
        kpts[-1, -1] = (width / 2, height + 12.25)
    return kpts, rng.random((len(boxes), k))


def _check_round_trip(doc_kpts, doc_scores, doc_boxes, converted, width, height, atol=ROUND):
    """Each converted instance equals its prediction: box, in-image keypoints (v=2), out-of-image ones v=0."""
    assert len(converted) == len(doc_boxes)
    for (bbox, kpts), box, pred in zip(converted, doc_boxes, doc_kpts, strict=True):
        x1, y1, x2, y2 = np.clip(box, 0, [width, height, width, height])
        np.testing.assert_allclose(bbox, [x1, y1, x2 - x1, y2 - y1], atol=2 * atol)
        inside = (pred[:, 0] >= 0) & (pred[:, 0] <= width) & (pred[:, 1] >= 0) & (pred[:, 1] <= height)
        assert (kpts[inside, 2] == 2).all() and (kpts[~inside] == 0).all()
        np.testing.assert_allclose(kpts[inside, :2], pred[inside], atol=atol, rtol=0)


def test_synthetic_cars_round_trip(tmp_path):
    synth_carpose(tmp_path / "synth", 6, seed=3, size=128, max_cars=3)
    rng = np.random.default_rng(0)
    sink = LabelmeSink(tmp_path / "pre", KEYPOINTS, label="car", kpt_thr=0.3)
    expected = {}
    for path in sorted((tmp_path / "synth").glob("*.json")):
        truth = json.loads(path.read_text())
        boxes = np.array([sum(s["points"], []) for s in truth["shapes"] if s["shape_type"] == "rectangle"], float)
        image_file = path.with_name(truth["imagePath"])
        image = cv2.imread(str(image_file))
        kpts, scores = _predictions(rng, boxes, len(KEYPOINTS), 128, 128)
        sink.image(Source(image_file, image_file.name, "image"), image, kpts, scores, boxes)
        expected[image_file.name] = (kpts, scores, boxes)
    assert sink.files == 6
    report = convert_labelme(tmp_path / "pre", tmp_path / "coco", keypoints=KEYPOINTS, val_ratio=0.5)
    assert report.files_converted == 6 and not report.skipped and not report.warnings
    converted = _coco(tmp_path / "coco")
    for name, (kpts, scores, boxes) in expected.items():
        _check_round_trip(kpts, scores, boxes, converted[name], 128, 128)
        doc = json.loads((tmp_path / "pre" / name).with_suffix(".json").read_text())
        flagged = [s["flags"][CHECK_FLAG] for s in doc["shapes"] if s["shape_type"] == "point"]
        inside = [(0 <= x <= 128 and 0 <= y <= 128) for x, y in kpts.reshape(-1, 2)]
        assert flagged == [bool(s < 0.3) for s, ok in zip(scores.reshape(-1), inside, strict=True) if ok]
        assert doc["flags"][FILE_FLAG] == any(flagged)
    # the image beside each pre-label is the very file (a hard link or a copy), unchanged
    for name in expected:
        assert (tmp_path / "pre" / name).read_bytes() == (tmp_path / "synth" / name).read_bytes()


def _example_image(doc: dict) -> np.ndarray:
    """The embedded image, or (the examples ship no image files) a canvas of the size the file records."""
    if doc.get("imageData"):
        return cv2.imdecode(np.frombuffer(base64.b64decode(doc["imageData"]), np.uint8), cv2.IMREAD_COLOR)
    return np.full((doc["imageHeight"], doc["imageWidth"], 3), 127, np.uint8)


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="needs ../shared/data/labelme-examples")
def test_real_labelme_examples_round_trip(tmp_path):
    """On the real examples (sizes from 500x338 to 1210x907, labelme 4.0 and 5.7): each rectangle's or polygon's
    extent as a box, keypoints predicted inside it; our files carry every key labelme's own files have, file-level
    and per shape."""
    rng = np.random.default_rng(1)
    names = ["a", "b", "c", "d", "e"]
    done = 0
    for path in sorted(EXAMPLES.glob("*.json")):
        doc = json.loads(path.read_text())
        image = _example_image(doc)
        h, w = image.shape[:2]
        regions = [np.array(s["points"], float) for s in doc["shapes"]
                   if s.get("shape_type") in ("rectangle", "polygon")]
        boxes = np.array([[*r.min(0), *r.max(0)] for r in regions])
        kpts, scores = _predictions(rng, boxes, len(names), w, h)
        folder = tmp_path / path.stem
        folder.mkdir()
        cv2.imwrite(str(folder / "image.png"), image)
        written = prelabel("image.png", w, h, kpts, scores, boxes, names, label="thing")
        assert set(doc) <= set(written), set(doc) - set(written)
        for shape in doc["shapes"]:
            assert set(shape) - {"mask"} <= set(written["shapes"][0]), set(shape) - set(written["shapes"][0])
        (folder / "image.json").write_text(json.dumps(written))
        convert_labelme(folder, tmp_path / f"{path.stem}-coco", keypoints=names, val_ratio=0)
        _check_round_trip(kpts, scores, boxes, _coco(tmp_path / f"{path.stem}-coco")["image.png"], w, h)
        done += 1
    assert done == 6, f"the examples changed: {done} files"


def test_infer_save_labelme_then_convert_gives_the_predictions(tmp_path):
    """The real commands: mmpx infer (ONNX Runtime) writes results and pre-labels; convert reads the pre-labels
    back to the results' keypoints; running again into the same folder is refused and changes nothing."""
    model = write_tiny_onnx(tmp_path / "tiny.onnx", size=(32, 32), bias=2.0)
    sidecar = json.loads(model.with_suffix(".json").read_text())
    sidecar["preprocess"]["bbox_padding"] = 1.0  # the crop is the image: most keypoints land inside it
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    synth_carpose(tmp_path / "images", 5, seed=1, size=96, max_cars=1)
    for extra in (tmp_path / "images").glob("*.json"):
        extra.unlink()  # an unlabelled folder: images only
    args = ["infer", tmp_path / "images", "--weights", model, "--backend", "onnxruntime", "--whole-image",
            "--no-progress", "--kpt-thr", "0.5"]
    result = run_cli(*args, "--save-json", tmp_path / "results.json", "--save-labelme", tmp_path / "pre")
    assert result.exit_code == 0, result.stderr
    assert "pre-labels: 5 labelme file(s)" in result.stderr
    records = json.loads((tmp_path / "results.json").read_text())
    convert = run_cli("convert", "labelme", tmp_path / "pre", tmp_path / "coco", "--keypoints", ",".join(NAMES),
                      "--val-ratio", "0")
    assert convert.exit_code == 0, convert.stderr
    converted = _coco(tmp_path / "coco")
    assert len(records) == len(converted) == 5
    inside_total = 0
    for record in records:
        pred = np.array(record["keypoints"]).reshape(-1, 3)
        x, y, bw, bh = record["bbox"]
        # results keep 3 decimals, labelme files 2: compare to the sum of both roundings
        _check_round_trip(pred[None, :, :2], None, np.array([[x, y, x + bw, y + bh]]),
                          converted[record["file_name"]], 96, 96, atol=ROUND + 5e-4)
        inside = (pred[:, :2] >= 0).all(1) & (pred[:, :2] <= 96).all(1)
        inside_total += inside.sum()
        doc = json.loads((tmp_path / "pre" / record["file_name"]).with_suffix(".json").read_text())
        assert [s["flags"][CHECK_FLAG] for s in doc["shapes"][1:]] == [bool(s < 0.5) for s in pred[inside, 2]]
    assert inside_total >= 15  # of 20; a keypoint outside the image is left out

    before = {p: p.read_bytes() for p in (tmp_path / "pre").rglob("*") if p.is_file()}
    again = run_cli(*args, "--save-labelme", tmp_path / "pre")
    assert again.exit_code == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "pre").rglob("*") if p.is_file()} == before


def test_video_frames_get_a_folder_of_prelabels(tmp_path):
    model = write_tiny_onnx(tmp_path / "tiny.onnx", size=(32, 32))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(4):
        writer.write(rng.integers(0, 255, (48, 64, 3), np.uint8))
    writer.release()
    result = run_cli("infer", video, "--weights", model, "--backend", "onnxruntime", "--whole-image",
                     "--no-progress", "--save-labelme", tmp_path / "pre")
    assert result.exit_code == 0, result.stderr
    frames = sorted((tmp_path / "pre" / "clip").glob("*.json"))
    assert [f.stem for f in frames] == [f"frame_{i:06d}" for i in range(4)]
    doc = json.loads(frames[2].read_text())
    assert doc["imagePath"] == "frame_000002.jpg" and (doc["imageWidth"], doc["imageHeight"]) == (64, 48)
    assert cv2.imread(str(frames[2].with_suffix(".jpg"))).shape == (48, 64, 3)
