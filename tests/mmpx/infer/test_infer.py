"""``mmpx infer`` and the drawing module: real images, real (random-weight) models, real videos, bad inputs.

The pose models are the conftest's tiny ResNet config, built untrained (17 COCO points, and a copy with the
8-point car metainfo); the detector is configs/carpose/rtmdet-tiny_carpose.py with a checkpoint written here
whose box branch is set to constant outputs, so that random weights still give valid, overlapping boxes.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import mmpose_ext  # noqa: F401  (its compat fixes first: mmpose then imports without torchvision)
from mmpx.cli.main import build_app
from mmpx.errors import CheckpointError, MmpxError
from mmpx.plugins.manager import load_plugins
from mmpx.visual.draw import contact_sheet, draw_heatmap, draw_pose
from tests.helpers import ROOT, make_tiny_coco, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

CARPOSE_META = ROOT / "mmpose_ext" / "datasets" / "metainfo" / "carpose.py"
DET_CONFIG = ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose.py"


def bgr(rgb) -> tuple[int, int, int]:
    return int(rgb[2]), int(rgb[1]), int(rgb[0])


@pytest.fixture(scope="module")
def car_meta() -> dict:
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    return parse_pose_metainfo(dict(from_file=str(CARPOSE_META)))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Untrained pose checkpoints (17 and 8 keypoints) and a detector checkpoint, as MMPose would save them."""
    import torch
    from mmdet.apis import init_detector
    from mmpose.apis import init_model

    from mmpose_ext.infer.model import load_any_config

    root = tmp_path_factory.mktemp("infer_models")
    make_tiny_coco(root / "coco")
    coco = write_tiny_config(root / "coco17.py", root / "coco")
    car = root / "car8.py"
    car.write_text(coco.read_text().replace("out_channels=17", "out_channels=8").replace(
        "pipeline=pipeline)", f"pipeline=pipeline, metainfo=dict(from_file={str(CARPOSE_META)!r}))"))
    out = {"coco17.py": coco, "car8.py": car}
    torch.manual_seed(0)
    for cfg in (coco, car):
        model = init_model(str(cfg), None, device="cpu")
        ckpt = cfg.with_suffix(".pth")
        torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
        out[ckpt.name] = ckpt
    det = init_detector(load_any_config(DET_CONFIG), None, device="cpu")
    with torch.no_grad():  # score 0.5 everywhere, boxes 12 strides wide around each prior
        for conv in det.bbox_head.rtm_cls:
            conv.weight.zero_(), conv.bias.zero_()
        for conv in det.bbox_head.rtm_reg:
            conv.weight.zero_(), conv.bias.fill_(6.0)
    out["det.pth"] = root / "det.pth"
    torch.save({"state_dict": det.state_dict(), "meta": {"dataset_meta": {"classes": ("car",)}}}, out["det.pth"])
    return out


@pytest.fixture(scope="module")
def coco_images(shared_data) -> Path:
    folder = shared_data / "mmpose-testdata" / "coco"
    if not any(folder.glob("*.jpg")):
        pytest.skip(f"no COCO images in {folder}")
    return folder


def cli(*args: str):
    """Run ``mmpx`` in this process (one import of torch for the whole module)."""
    result = CliRunner().invoke(build_app(load_plugins(distributions=[], env={})), ["infer", *args, "--no-progress"])
    return result


def ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# -- drawing ------------------------------------------------------------------------------------------------------

CAR_POINTS = np.array([[[40, 40], [200, 40], [40, 120], [200, 120], [70, 50], [170, 50], [70, 110], [170, 110]]],
                      np.float32)


def test_draw_car_skeleton_colours_and_hidden_points(car_meta):
    image = np.zeros((160, 240, 3), np.uint8)
    scores = np.ones((1, 8), np.float32)
    scores[0, 3] = 0.1  # right_rear_bumper below kpt_thr
    kpts = CAR_POINTS.copy()
    kpts[0, 6] = np.nan  # left_rear_tire unknown
    out = draw_pose(image, kpts, scores, car_meta, thickness=3, radius=4)
    assert image.max() == 0 and out is not image  # the input is untouched
    links = {tuple(car_meta["keypoint_id2name"][i] for i in link): c
             for link, c in zip(car_meta["skeleton_links"], car_meta["skeleton_link_colors"], strict=True)}
    # front bumper link (blue-ish in RGB 51,153,255) at its midpoint, in BGR
    front = links[("left_front_bumper", "right_front_bumper")]
    assert tuple(out[40, 120]) == bgr(front)
    # right side tire-to-tire link (orange), midpoint of (170,50)-(170,110)
    assert tuple(out[80, 170]) == bgr(links[("right_front_tire", "right_rear_tire")])
    # keypoint colour at the point itself (drawn over the links)
    assert tuple(out[50, 70]) == bgr(car_meta["keypoint_colors"][4])
    # links to the hidden point (3) and the NaN point (6) are not drawn, nor the points
    assert out[120, 120].max() == 0  # rear bumper link 2-3
    assert out[110, 120].max() == 0  # rear axle 6-7
    assert out[120, 200].max() == 0 and out[110, 70].max() == 0
    # every score missing: everything finite shows
    assert tuple(draw_pose(image, CAR_POINTS, None, car_meta, thickness=3)[120, 120]) == bgr(front)


def test_draw_bbox_openpose_and_coco(car_meta):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    image = np.full((160, 240, 3), 255, np.uint8)
    boxes = np.array([[10, 20, 230, 150]], np.float32)
    out = draw_pose(image, CAR_POINTS, None, car_meta, bboxes=boxes, draw_bbox=True, show_kpt_idx=True)
    assert tuple(out[20, 100]) == (0, 255, 0) and tuple(out[80, 10]) == (0, 255, 0)
    assert not (draw_pose(image, CAR_POINTS, None, car_meta, bboxes=boxes)[20, 100] == (0, 255, 0)).all()
    # openpose style on any skeleton: limbs are blended ellipses in the link colour
    op = draw_pose(np.zeros_like(image), CAR_POINTS, None, car_meta, skeleton_style="openpose", thickness=4)
    b, g, r = (int(v) for v in op[40, 120])
    assert (b, g, r) != (0, 0, 0) and b > r  # 0.6 x (255,153,51) in BGR
    # COCO in openpose style gets the neck (mean of the shoulders) drawn in OpenPose's neck colour
    coco = parse_pose_metainfo(dict(from_file="configs/_base_/datasets/coco.py"))
    kpts = np.zeros((1, 17, 2), np.float32) + np.nan
    kpts[0, 5], kpts[0, 6] = (60, 80), (160, 80)
    op = draw_pose(np.zeros((160, 240, 3), np.uint8), kpts, np.ones((1, 17)), coco, skeleton_style="openpose",
                   radius=4)
    assert tuple(op[80, 110]) == (0, 85, 255)  # neck: RGB (255, 85, 0)
    with pytest.raises(ValueError, match="skeleton_style"):
        draw_pose(image, CAR_POINTS, None, car_meta, skeleton_style="coco")


def test_heatmap_overlay_and_contact_sheet():
    image = np.zeros((60, 80, 3), np.uint8)
    maps = np.zeros((3, 15, 20), np.float32)
    maps[1, 7, 10] = 1.0
    over = draw_heatmap(image, maps, alpha=1.0)
    assert over.shape == image.shape and image.max() == 0
    assert over[30, 40, 2] > 100 and over[0, 0, 0] > 100  # hot (red) at the peak, cold (blue) far away
    sheet = contact_sheet([image, np.full((100, 50), 200, np.uint8), over], cols=2, cell=64, labels=["a", "b", "c"])
    assert sheet.shape == (128, 128, 3)
    assert sheet[64 + 32, 32, 2] > 100  # the heatmap tile, scaled into the second row
    with pytest.raises(ValueError):
        contact_sheet([])


# -- the model wrapper --------------------------------------------------------------------------------------------

def test_torch_model_interface_and_batching(models, coco_images):
    from mmpose_ext.infer.model import TorchPoseModel

    image = cv2.imread(str(sorted(coco_images.glob("*.jpg"))[0]))
    boxes = np.array([[10, 10, 200, 300], [100, 50, 400, 400], [0, 0, 60, 60]], np.float32)
    one = TorchPoseModel(models["car8.py"], models["car8.pth"], batch_size=1)
    many = TorchPoseModel(models["car8.py"], models["car8.pth"], batch_size=32)
    assert one.input_size == (64, 64) and one.dataset_meta["dataset_name"] == "carpose"
    k1, s1 = one.predict(image, boxes)
    k2, s2 = many.predict(image, boxes)
    assert k1.shape == (3, 8, 2) and s1.shape == (3, 8) and k1.dtype == np.float32
    np.testing.assert_allclose(k1, k2, atol=1e-3)
    np.testing.assert_allclose(s1, s2, atol=1e-5)
    # box 2's points lie in its square crop: centre 30, side 1.25 x 60 (MMPose pads boxes by 1.25), give or take
    # two heatmap pixels (75 / 16 image pixels each)
    assert (np.abs(k1[2] - 30) <= 37.5 + 2 * 75 / 16).all()
    kh, sh, maps = many.predict_with_heatmaps(image, boxes)
    assert maps.shape == (8, *image.shape[:2])
    np.testing.assert_allclose(kh, k2, atol=1e-3)
    assert one.predict(image, np.zeros((0, 4)))[0].shape == (0, 8, 2)


def test_checkpoint_with_other_keypoint_count_is_refused(models, coco_images):
    from mmpose_ext.infer.model import TorchPoseModel

    with pytest.raises(CheckpointError, match="trained for 8 keypoints and the config's head predicts 17"):
        TorchPoseModel(models["coco17.py"], models["car8.pth"])
    result = cli(str(coco_images), "--pose", str(models["coco17.py"]), "--weights", str(models["car8.pth"]),
                 "--whole-image", "--save-json", "x.json")
    assert isinstance(result.exception, CheckpointError) and "does not fit config" in str(result.exception)
    assert not Path("x.json").exists()


# -- the command --------------------------------------------------------------------------------------------------

def test_folder_whole_image_drawings_and_json(models, coco_images, tmp_path):
    out, js = tmp_path / "drawn", tmp_path / "res" / "results.json"
    result = ok(cli(str(coco_images), "--pose", str(models["coco17.py"]), "--weights", str(models["coco17.pth"]),
                    "--whole-image", "--out-dir", str(out), "--save-json", str(js), "--draw-heatmap", "--draw-bbox"))
    names = sorted(p.name for p in coco_images.glob("*.jpg"))
    assert sorted(p.name for p in out.iterdir()) == names  # same names, nothing else (no temp files)
    assert f"done: {len(names)} image(s), {len(names)} instance(s)" in result.output
    records = json.loads(js.read_text())
    assert [r["file_name"] for r in records] == names and [r["image_id"] for r in records] == [1, 2, 3, 4]
    for r in records:
        image = cv2.imread(str(coco_images / r["file_name"]))
        assert set(r) == {"image_id", "file_name", "category_id", "keypoints", "score", "bbox", "bbox_score"}
        assert len(r["keypoints"]) == 17 * 3 and r["bbox"] == [0, 0, image.shape[1], image.shape[0]]
        drawn = cv2.imread(str(out / r["file_name"]))
        assert drawn.shape == image.shape and np.abs(drawn.astype(int) - image).mean() > 5  # heatmap overlay
    # the results load in the project's own evaluator's checks
    from mmpx.evaluation.api import check_predictions

    check_predictions(records, {"images": [{"id": i} for i in range(1, 5)]}, 17)


def test_detector_boxes_batches_and_car_skeleton(models, coco_images, tmp_path):
    image, second = sorted(coco_images.glob("*.jpg"))[1:3]
    js = tmp_path / "r.json"
    ok(cli(str(image), str(second), "--pose", str(models["car8.py"]), "--weights", str(models["car8.pth"]),
           "--det-config", str(DET_CONFIG), "--det-weights", str(models["det.pth"]), "--det-cat-id", "0",
           "--bbox-thr", "0.4", "--nms-thr", "0.3", "--batch-size", "2", "--out-dir", str(tmp_path / "o"),
           "--draw-bbox", "--kpt-thr", "0", "--thickness", "2", "--save-json", str(js)))
    records = json.loads(js.read_text())
    h, w = cv2.imread(str(image)).shape[:2]
    # the constant detector gives several boxes: more than one forward pass of 2; detector and pose model take
    # turns on the second image (mmdet and mmpose default scopes)
    assert sum(r["image_id"] == 2 for r in records) >= 3
    assert {r["image_id"] for r in records} == {1, 2} and all(len(r["keypoints"]) == 8 * 3 for r in records)
    widths = {1: w, 2: cv2.imread(str(second)).shape[1]}
    assert all(r["bbox_score"] == 0.5 and 0 <= r["bbox"][0] < widths[r["image_id"]] and r["bbox"][2] > 0
               for r in records)
    drawn = cv2.imread(str(tmp_path / "o" / image.name))
    # every keypoint shows with --kpt-thr 0, in the car colours (jpeg: allow a little)
    x, y = (int(round(v)) for v in records[0]["keypoints"][12:14])  # left_front_tire, green
    if 2 < x < w - 2 and 2 < y < h - 2:
        b, g, r = (int(v) for v in drawn[y, x])
        assert g > 200 and b < 60 and r < 60
    # no kept class: no box, no instance, and a warning that says so with the usual causes
    result = ok(cli(str(image), "--pose", str(models["car8.py"]), "--det-config", str(DET_CONFIG),
                    "--det-weights", str(models["det.pth"]), "--bbox-thr", "0.6", "--save-json", str(js)))
    assert json.loads(js.read_text()) == []
    said = " ".join(result.output.split())
    assert f"warning: the detector found no object in 1 of 1 image(s)/frame(s) ({image.name})" in said
    assert "lower --bbox-thr (now 0.6) or check --det-cat-id (now 0" in said


def test_video_in_video_out(models, tmp_path):
    clip = tmp_path / "in" / "clip.avi"
    clip.parent.mkdir()
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 7.0, (96, 80))
    for i in range(5):
        frame = np.full((80, 96, 3), 30 * i, np.uint8)
        cv2.circle(frame, (20 + 10 * i, 40), 8, (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    out, js = tmp_path / "out", tmp_path / "v.json"
    result = ok(cli(str(clip.parent), "--pose", str(models["car8.py"]), "--weights", str(models["car8.pth"]),
                    "--whole-image", "--out-dir", str(out), "--save-json", str(js), "--kpt-thr", "0"))
    assert "1 video(s) (5 frames)" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"]
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    frames = []
    while True:
        good, frame = cap.read()
        if not good:
            break
        frames.append(frame)
    assert len(frames) == 5 and frames[0].shape == (80, 96, 3)
    assert abs(cap.get(cv2.CAP_PROP_FPS) - 7.0) < 0.01
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc.lower() in ("mp4v", "fmp4")  # MPEG-4 part 2, as FFmpeg names it on reading
    cap.release()
    records = json.loads(js.read_text())
    assert [r["file_name"] for r in records] == [f"clip.avi#frame={i}" for i in range(5)]
    assert [r["image_id"] for r in records] == [1, 2, 3, 4, 5]


def test_unreadable_inputs_are_skipped_and_listed(models, coco_images, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    good = sorted(coco_images.glob("*.jpg"))[0]
    (src / "sub" / "good.jpg").write_bytes(good.read_bytes())
    (src / "broken.jpg").write_bytes(good.read_bytes()[:200])  # truncated
    (src / "empty.png").write_bytes(b"")
    (src / "fake.mp4").write_bytes(b"not a video at all")
    (src / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    result = cli(str(src), "--pose", str(models["coco17.py"]), "--whole-image", "--out-dir", str(out))
    assert result.exit_code == 1
    assert "skipped 3 unreadable input(s)" in result.output and "ignored 1 file(s)" in result.output
    for name in ("broken.jpg", "empty.png", "fake.mp4"):
        assert str(src / name) in result.output
    assert "not a readable video" in result.output and "not a readable image" in result.output
    assert [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()] == ["sub/good.jpg"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jpg", "--pose", "x.py", "--whole-image", "--save-json", "r.json"],
         "input missing.jpg does not exist"),
        (["README.md", "--pose", "x.py", "--whole-image", "--save-json", "r.json"], "unknown file type '.md'"),
        (["TXTDIR", "--pose", "x.py", "--whole-image", "--save-json", "r.json"], "holds no image or video"),
        (["IMG", "--whole-image", "--save-json", "r.json"], "--pose CONFIG is required"),
        (["IMG", "--pose", "x.py", "--whole-image"], "nothing to write"),
        (["IMG", "--pose", "x.py", "--whole-image", "--det-config", "d.py", "--save-json", "r.json"], "both given"),
        (["IMG", "--pose", "x.py", "--weights", "nope.pth", "--whole-image", "--save-json", "r.json"],
         "--weights nope.pth does not exist"),
        (["IMG", "--backend", "onnxruntime", "--weights", "m.pth", "--whole-image", "--save-json", "r.json"],
         "needs --weights MODEL.onnx"),
        (["IMG", "--pose", "no_such_config.py", "--whole-image", "--save-json", "r.json"],
         "config file no_such_config.py does not exist"),
    ],
)
def test_bad_options_are_clear_errors(args, message, coco_images, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    (tmp_path / "notes.txt").write_text("no images here")
    where = {"IMG": str(sorted(coco_images.glob("*.jpg"))[0]), "TXTDIR": str(tmp_path)}
    result = cli(*[where.get(a, a) for a in args])
    assert result.exit_code != 0 and isinstance(result.exception, MmpxError), result.output
    assert message in str(result.exception)


def test_no_detector_is_an_error_not_a_guess(coco_images):
    """The real command line: one error line with what to pass, no traceback, before any model loads."""
    result = mmpx("infer", str(coco_images), "--pose", "x.py", "--save-json", "r.json")
    assert result.returncode == 1
    assert "error: no detector given" in result.stderr and "--det-config" in result.stderr
    assert "--whole-image" in result.stderr and "Traceback" not in result.stderr


def test_detector_class_out_of_range(models, coco_images):
    result = cli(str(coco_images), "--pose", str(models["car8.py"]), "--det-config", str(DET_CONFIG),
                 "--det-weights", str(models["det.pth"]), "--det-cat-id", "2", "--save-json", "r.json")
    assert isinstance(result.exception, MmpxError)
    assert "--det-cat-id 2: the detector has 1 classes (0..0: car)" in str(result.exception)


def test_onnxruntime_backend_matches_torch(models, coco_images, tmp_path):
    """--backend onnxruntime builds mmpx.runtime.ort.OnnxPoseModel from an exported .onnx + sidecar."""
    from mmpose_ext.deploy.export import export_onnx

    onnx = export_onnx(models["car8.py"], models["car8.pth"], tmp_path / "car8.onnx").onnx_path
    ok(cli(str(coco_images), "--backend", "onnxruntime", "--weights", str(onnx), "--whole-image",
           "--save-json", str(tmp_path / "ort.json"), "--out-dir", str(tmp_path / "ort")))
    ok(cli(str(coco_images), "--pose", str(models["car8.py"]), "--weights", str(models["car8.pth"]), "--whole-image",
           "--save-json", str(tmp_path / "pt.json")))
    ort, pt = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("ort", "pt"))
    assert [r["file_name"] for r in ort] == [r["file_name"] for r in pt] and len(ort) == 4
    for a, b in zip(ort, pt, strict=True):
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=0.05)
    assert len(list((tmp_path / "ort").iterdir())) == 4
