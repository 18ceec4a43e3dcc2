"""`mmpx infer --save-as FILE.csv`: predictions as a DeepLabCut CSV, read back by sleap-io's ``load_dlc`` and by
`mmpx convert dlc` to the same keypoints and names; points under --kpt-thr stay missing; several instances per
frame become individuals; names DeepLabCut could not tell apart are refused before any work."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mmpx.convert.sleapio import convert_sleapio
from mmpx.errors import MmpxError
from mmpx.infer.inputs import Source
from mmpx.infer.sleapio_out import check_save_as, check_sources, save_predictions

sio = pytest.importorskip("sleap_io", reason="the formats extra (sleap-io) is not installed")
cv2 = pytest.importorskip("cv2")

pytestmark = pytest.mark.filterwarnings("ignore")


def loaded(path: Path) -> list[tuple[str, str | None, dict]]:
    """Every instance read back by sleap-io: (image file, track, {name: (x, y)} of its finite points)."""
    found = []
    for lf in sio.load_dlc(str(path)).labeled_frames:
        image = Path(lf.video.filename[lf.frame_idx]).name
        for inst in lf.instances:
            points = {n: (float(x), float(y)) for n, (x, y) in zip(inst.skeleton.node_names, inst.numpy(),
                                                                    strict=True) if math.isfinite(x)}
            found.append((image, inst.track.name if inst.track else None, points))
    return sorted(found, key=lambda f: (f[0], f[1] or ""))


def close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=0.01) for k in a)


def converted(out: Path) -> list[dict]:
    data = json.loads((out / "annotations" / "train.json").read_text())
    names = data["categories"][0]["keypoints"]
    return [{n: (x, y) for n, (x, y, v) in zip(names, np.reshape(a["keypoints"], (-1, 3)), strict=True) if v > 0}
            for a in data["annotations"]]


@pytest.mark.parametrize("track", [False, True])
def test_infer_save_as_dlc_goes_back_in(tmp_path, track):
    """Images and a video of a DeepLabCut-like project folder (labeled-data/<folder>/): the CSV beside
    labeled-data names the images by their folder and file and the video's frames img<N>.png; with the frames
    extracted there (as DeepLabCut's extract_frames writes them) sleap-io and `mmpx convert dlc` read back the
    same keypoints above --kpt-thr (2.3: the tiny model scores about 2.2-2.8)."""
    from mmpx.testing import run_cli
    from tests.onnx_model import NAMES, write_tiny_onnx

    if track:
        pytest.importorskip("norfair", reason="tracking needs norfair (scripts/setup.sh installs it)")
    model = write_tiny_onnx(tmp_path / "tiny.onnx", size=(32, 32), bias=2.0)
    folder = tmp_path / "labeled-data" / "cars"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(folder / f"im{i}.png"), rng.integers(0, 255, (48, 64, 3), np.uint8))
    video = tmp_path / "videos" / "clip.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(3):
        writer.write(rng.integers(0, 255, (48, 64, 3), np.uint8))
    writer.release()
    target = tmp_path / "pred.csv"
    result = run_cli("infer", folder, video, "--weights", model, "--backend", "onnxruntime", "--whole-image",
                     "--no-progress", "--kpt-thr", "2.3", "--save-json", tmp_path / "r.json", "--save-as", target,
                     *(["--track"] if track else []))
    assert result.exit_code == 0, result.stderr
    assert f"predictions: 5 frame(s) in {target}" in result.stderr
    lines = target.read_text().splitlines()
    header = ["scorer", "individuals", "bodyparts", "coords"] if track else ["scorer", "bodyparts", "coords"]
    assert [line.split(",")[0] for line in lines[:len(header)]] == header
    assert lines[len(header) - 1].split(",")[1:4] == ["x", "y", "likelihood"]
    rows = [line.split(",")[0] for line in lines[len(header):]]
    assert rows == ["labeled-data/cars/im0.png", "labeled-data/cars/im1.png", "labeled-data/clip/img0.png",
                    "labeled-data/clip/img1.png", "labeled-data/clip/img2.png"]  # 3 frames: 1 digit, as DLC
    (tmp_path / "labeled-data" / "clip").mkdir()
    capture = cv2.VideoCapture(str(video))
    for i in range(3):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(tmp_path / "labeled-data" / "clip" / f"img{i}.png"), frame)
    capture.release()

    expected = []
    for record in json.loads((tmp_path / "r.json").read_text()):
        name, _, frame = record["file_name"].partition("#frame=")
        kpts = np.array(record["keypoints"]).reshape(-1, 3)
        expected.append((f"img{frame}.png" if frame else name, f"track_{record['track_id']}" if track else None,
                         {n: (x, y) for n, (x, y, s) in zip(NAMES, kpts, strict=True) if s >= 2.3}))
    expected.sort(key=lambda f: (f[0], f[1] or ""))
    assert any(len(points) < len(NAMES) for _, _, points in expected)  # some points are missing...
    got = loaded(target)
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    assert all(close(g[2], e[2]) for g, e in zip(got, expected, strict=True))  # ...and stay missing
    assert set(sio.load_dlc(str(target)).skeletons[0].node_names) == set(NAMES)

    report = convert_sleapio("dlc", target, tmp_path / "back", val_ratio=0)
    assert report.files_converted == 5
    back = converted(tmp_path / "back")
    inside = [{n: p for n, p in e[2].items() if 0 <= p[0] <= 64 and 0 <= p[1] <= 48} for e in expected]
    assert sorted(map(sorted, back)) == sorted(map(sorted, [p for p in inside if p]))  # outside: v=0
    for points in back:
        assert any(close(points, p) for p in inside)
    names = json.loads((tmp_path / "back" / "annotations" / "train.json").read_text())["categories"][0]["keypoints"]
    assert sorted(names) == sorted(NAMES)


def test_several_instances_are_individuals(tmp_path):
    """Untracked frames with two instances: the individuals header, individual1/2 in each frame's order; a
    point under the threshold is an empty cell, read back as missing."""
    image = tmp_path / "frames" / "a.png"
    image.parent.mkdir()
    cv2.imwrite(str(image), np.zeros((40, 50, 3), np.uint8))
    names = ["nose", "tail"]

    def record(points, scores):
        kpts = np.column_stack([np.asarray(points, float), scores]).reshape(-1).tolist()
        return dict(file_name="a.png", keypoints=kpts, score=0.9)

    records = [record([[10.123, 20.5], [30, 35]], [0.9, 0.8]), record([[5, 6], [7.25, 8]], [0.2, 0.95])]
    target = tmp_path / "frames" / "CollectedData_mmpx.csv"
    assert save_predictions(target, records, {"a.png": image}, names, [("nose", "tail")], "rats", 0.3) == 1
    lines = target.read_text().splitlines()
    assert lines[1].split(",")[1::6] == ["individual1", "individual2"]
    assert lines[4].split(",")[0] == "labeled-data/frames/a.png"
    assert lines[4].split(",")[7:10] == ["", "", ""]  # individual2's nose: missing
    got = loaded(target)
    assert [g[1] for g in got] == ["individual1", "individual2"]
    assert close(got[0][2], {"nose": (10.123, 20.5), "tail": (30, 35)})
    assert close(got[1][2], {"tail": (7.25, 8)})
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["a.png", target.name])  # no temporary


def test_refused_before_any_work(tmp_path):
    with pytest.raises(MmpxError, match="unknown format .txt") as caught:
        check_save_as(tmp_path / "pred.txt")
    assert ".csv (DeepLabCut)" in caught.value.hint and ".slp (SLEAP)" in caught.value.hint
    check_save_as(tmp_path / "pred.csv")
    one, two = tmp_path / "a" / "cars" / "x.png", tmp_path / "b" / "cars" / "x.png"
    with pytest.raises(MmpxError, match="both cars/x.png"):
        check_sources(tmp_path / "pred.csv", [Source(one, "a/cars/x.png", "image"),
                                              Source(two, "b/cars/x.png", "image")])
    with pytest.raises(MmpxError, match="both clip"):
        check_sources(tmp_path / "pred.csv", [Source(tmp_path / "clip.mp4", "clip.mp4", "video"),
                                              Source(tmp_path / "v" / "clip.avi", "v/clip.avi", "video")])
    check_sources(tmp_path / "pred.slp", [Source(one, "a/cars/x.png", "image"), Source(two, "b/cars/x.png", "image")])
    assert not list(tmp_path.iterdir())


def test_save_as_and_save_csv_on_one_file_are_refused(tmp_path):
    from mmpx.testing import run_cli
    from tests.onnx_model import write_tiny_onnx

    cv2.imwrite(str(tmp_path / "in.png"), np.zeros((32, 32, 3), np.uint8))
    model = write_tiny_onnx(tmp_path / "m.onnx")
    result = run_cli("infer", tmp_path / "in.png", "--weights", model, "--backend", "onnxruntime", "--whole-image",
                     "--save-as", tmp_path / "p.csv", "--save-csv", tmp_path / "p.csv")
    assert result.exit_code == 1 and "--save-as and --save-csv both write" in result.stderr
    assert not (tmp_path / "p.csv").exists()
