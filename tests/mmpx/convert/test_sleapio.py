"""`mmpx convert dlc|sleap|labelstudio|nwb`: files written by sleap-io from real annotations (every non-COCO-17
test set of MMPose) convert back to the same keypoints, names and swaps."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmpx.cli.main import build_app
from mmpx.convert.sleapio import convert_sleapio
from mmpx.errors import MmpxError
from mmpx.metainfo import infer_swaps, load_metainfo
from mmpx.plugins.manager import load_plugins

sio = pytest.importorskip("sleap_io", reason="the formats extra (sleap-io) is not installed")
cv2 = pytest.importorskip("cv2")

SETS = ["locust", "fly", "zebra", "macaque", "onehand10k"]
pytestmark = pytest.mark.filterwarnings("ignore")  # pynwb and hdmf warn about namespaces they cache


def coco_labels(shared_data: Path, name: str):
    return sio.load_coco(str(shared_data / f"mmpose-testdata/{name}/test_{name}.json"))


def instances_of(labels) -> list[dict]:
    """Every instance as {name: (x, y)} of its labelled points."""
    found = []
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            names = inst.skeleton.node_names
            found.append({n: (float(x), float(y)) for n, (x, y) in zip(names, inst.numpy(), strict=True)
                          if math.isfinite(x)})
    return found


def converted(out: Path) -> tuple[list[dict], list[str], dict]:
    """The output's instances ({name: (x, y)} of the v>0 points), keypoint names and swaps."""
    found, names = [], None
    for split in ("train", "val"):
        path = out / "annotations" / f"{split}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        names = data["categories"][0]["keypoints"]
        for ann in data["annotations"]:
            kps = np.array(ann["keypoints"]).reshape(-1, 3)
            found.append({n: (x, y) for n, (x, y, v) in zip(names, kps, strict=True) if v > 0})
            assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
            x0, y0, w, h = ann["bbox"]
            assert all(x0 <= x <= x0 + w and y0 <= y <= y0 + h for x, y, v in kps if v > 0)
    info = load_metainfo(out / "metainfo.py")
    swaps = {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values() if kp["swap"]}
    return found, names, swaps


def assert_same(expected: list[dict], out: Path) -> tuple[list[str], dict]:
    got, names, swaps = converted(out)

    def key(inst):
        return sorted((n, round(x, 1), round(y, 1)) for n, (x, y) in inst.items())

    assert len(got) == len(expected)
    for a, b in zip(sorted(expected, key=key), sorted(got, key=key), strict=True):
        assert a.keys() == b.keys()
        assert all(abs(a[n][0] - b[n][0]) < 0.01 and abs(a[n][1] - b[n][1]) < 0.01 for n in a)
    return names, swaps


def frames_video(labels, video_path: str):
    """The labels on frames of one (not yet written) video: frame i is the i-th labelled image."""
    video = sio.Video(filename=video_path, open_backend=False)
    skeleton = labels.skeletons[0]
    frames = [sio.LabeledFrame(video=video, frame_idx=i,
                               instances=[sio.Instance(inst.numpy(), skeleton=skeleton) for inst in lf.instances])
              for i, lf in enumerate(labels.labeled_frames)]
    return sio.Labels(frames, skeletons=[skeleton])


@pytest.mark.parametrize("name", SETS)
def test_slp_embedded_frames_round_trip(shared_data, tmp_path, name):
    labels = coco_labels(shared_data, name)
    sio.save_slp(labels, str(tmp_path / "a.slp"), embed=True, verbose=False)
    report = convert_sleapio("sleap", tmp_path / "a.slp", tmp_path / "out", val_ratio=0.5)
    names, swaps = assert_same(instances_of(labels), tmp_path / "out")
    assert names == labels.skeletons[0].node_names
    assert swaps == infer_swaps(names)  # no symmetries in the file: from the names
    assert report.images == {"train": len(labels) // 2, "val": len(labels) - len(labels) // 2}
    pngs = sorted((tmp_path / "out" / "images").rglob("*.png"))
    assert len(pngs) == len(labels)
    first, frame = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED), labels.labeled_frames[0].image
    expected = frame[:, :, 0] if frame.shape[2] == 1 else frame[:, :, ::-1]  # grey stays grey; RGB as BGR
    assert np.array_equal(first, expected)  # the frame itself, losslessly


def test_slp_symmetries_and_image_files(shared_data, tmp_path):
    labels = coco_labels(shared_data, "locust")
    skeleton = labels.skeletons[0]
    skeleton.add_symmetry("eyeL", "eyeR")  # one pair only: the file's word, not the names' guess
    sio.save_slp(labels, str(tmp_path / "b.slp"), verbose=False)
    convert_sleapio("sleap", tmp_path / "b.slp", tmp_path / "out", images="link")
    names, swaps = assert_same(instances_of(labels), tmp_path / "out")
    assert swaps == {"eyeL": "eyeR", "eyeR": "eyeL"}
    assert sorted(p.name for p in (tmp_path / "out/images/locust").iterdir()) == ["630.jpg", "650.jpg"]
    info = load_metainfo(tmp_path / "out/metainfo.py")
    assert {tuple(s["link"]) for s in info["skeleton_info"].values()} == set(skeleton.edge_names)


def _dlc_project(labels, root: Path, scorer: str = "me", multi: bool = False) -> Path:
    """A DeepLabCut project as DeepLabCut lays it out: config.yaml, labeled-data/<video>/img*.png + the CSV
    sleap-io writes."""
    folder = root / "labeled-data" / "cage1"
    folder.mkdir(parents=True)
    for i, lf in enumerate(labels.labeled_frames):
        cv2.imwrite(str(folder / f"img{i:04d}.png"), lf.image[:, :, ::-1])
    moved = frames_video(labels, str(root / "videos" / "cage1.mp4"))
    if multi:
        tracks = [sio.Track(f"animal{i}") for i in range(2)]
        for lf in moved.labeled_frames:
            for inst, track in zip(lf.instances, tracks, strict=False):
                inst.track = track
        moved.tracks = tracks
    sio.save_csv(moved, str(folder / f"CollectedData_{scorer}.csv"), format="dlc", scorer=scorer,
                 include_score=False)
    names = labels.skeletons[0].node_names
    key = "multianimalbodyparts" if multi else "bodyparts"
    (root / "config.yaml").write_text(
        f"Task: cage\nscorer: {scorer}\nmultianimalproject: {str(multi).lower()}\n{key}:\n"
        + "".join(f"- {n}\n" for n in names) + f"skeleton:\n- [{names[0]}, {names[1]}]\nvideo_sets: {{}}\n")
    return root


def test_dlc_project_and_bare_csv(shared_data, tmp_path):
    labels = coco_labels(shared_data, "fly")
    project = _dlc_project(labels, tmp_path / "proj")
    report = convert_sleapio("dlc", project, tmp_path / "out")
    names, swaps = assert_same(instances_of(labels), tmp_path / "out")
    assert names == labels.skeletons[0].node_names  # config.yaml's order (sleap-io sorts)
    assert swaps == infer_swaps(names) and swaps["eyeL"] == "eyeR"
    assert report.files_converted == 2
    info = load_metainfo(tmp_path / "out/metainfo.py")
    assert [s["link"] for s in info["skeleton_info"].values()] == [tuple(names[:2])]
    csv = next(project.rglob("*.csv"))
    convert_sleapio("dlc", csv, tmp_path / "out2")
    assert_same(instances_of(labels), tmp_path / "out2")
    csv.with_suffix(".h5").write_bytes(b"\x89HDF\r\n")  # a .h5 is read through its CSV twin
    convert_sleapio("dlc", csv.with_suffix(".h5"), tmp_path / "out3")


def test_dlc_multi_animal_and_missing_points(shared_data, tmp_path):
    labels = coco_labels(shared_data, "locust")
    skeleton = labels.skeletons[0]
    second = labels.labeled_frames[1].instances[0].numpy()
    second[:5] = np.nan  # five unlabelled points: v=0
    frame = labels.labeled_frames[0]
    frame.instances.append(sio.Instance(second, skeleton=skeleton))
    labels.labeled_frames[1].instances[0] = sio.Instance(np.full((len(skeleton), 2), np.nan), skeleton=skeleton)
    _dlc_project(labels, tmp_path / "proj", multi=True)
    report = convert_sleapio("dlc", tmp_path / "proj", tmp_path / "out", val_ratio=0)
    expected = [inst for inst in instances_of(labels) if inst]
    assert len(expected) == 2
    assert_same(expected, tmp_path / "out")
    assert report.instances == 2 and report.images == {"train": 2}
    assert report.images_without_instances == 1  # the frame whose only animal has no point
    data = json.loads((tmp_path / "out/annotations/train.json").read_text())
    assert sorted(a["num_keypoints"] for a in data["annotations"]) == [len(skeleton) - 5, len(skeleton)]


def test_dlc_project_as_deeplabcut_wrote_it(tmp_path):
    """A real multi-animal project (tests/data/dlc_project: seven pups and the unique body parts of `single`)."""
    import pandas as pd

    project = tmp_path / "proj"
    shutil.copytree(Path(__file__).parents[2] / "data" / "dlc_project", project)
    csv = next(project.rglob("*.csv"))
    table = pd.read_csv(csv, header=[1, 2, 3], index_col=[0, 1, 2])
    expected = []
    for (_, _, image), row in table.iterrows():
        cv2.imwrite(str(csv.parent / image), np.zeros((720, 1280), np.uint8))
        for who in dict.fromkeys(table.columns.get_level_values(0)):
            points = {part: (row[(who, part, "x")], row[(who, part, "y")])
                      for part in dict.fromkeys(table[who].columns.get_level_values(0))}
            points = {k: (float(x), float(y)) for k, (x, y) in points.items() if math.isfinite(x)}
            expected += [points] if points else []
    report = convert_sleapio("dlc", project, tmp_path / "out")
    names, swaps = assert_same(expected, tmp_path / "out")
    assert names == ["pup_snout", "pup_neck", "pup_body", "pup_tailbase", "nest", "moth_nose", "moth_leftear",
                     "moth_rightear", "moth_neck", "moth_torso", "moth_waist", "moth_tailbase"]
    assert swaps == {"moth_leftear": "moth_rightear", "moth_rightear": "moth_leftear"}  # DeepLabCut glues sides
    assert report.files_converted == 4 and report.instances == len(expected) == 10


def test_labelstudio_written_and_exported(shared_data, tmp_path):
    labels = coco_labels(shared_data, "zebra")
    sio.save_labelstudio(labels, str(tmp_path / "ls.json"))
    convert_sleapio("labelstudio", tmp_path / "ls.json", tmp_path / "out")
    names, swaps = assert_same(instances_of(labels), tmp_path / "out")
    assert names == sorted(labels.skeletons[0].node_names) and swaps == infer_swaps(names)
    # Label Studio's own export: no meta.video, the image as an upload URL; the images lie beside the JSON
    tasks = json.loads((tmp_path / "ls.json").read_text())
    folder = tmp_path / "export"
    (folder / "images").mkdir(parents=True)
    for task in tasks:
        meta = task.pop("meta")["video"]
        image = Path(meta["filename"][meta["frame_idx"]])
        shutil.copy(image, folder / "images" / image.name)
        task["data"] = {"img": f"/data/upload/3/1a2b3c4d-{image.name}"}
    (folder / "project.json").write_text(json.dumps(tasks))
    report = convert_sleapio("labelstudio", folder / "project.json", tmp_path / "out2")
    assert_same(instances_of(labels), tmp_path / "out2")
    assert sorted(p.name for p in (tmp_path / "out2/images/images").iterdir()) == ["810.jpg", "850.jpg"]
    assert report.skipped == []


def test_nwb_frames_from_its_video(shared_data, tmp_path):
    labels = coco_labels(shared_data, "locust")  # sleap-io writes the frames as one video: one size
    nwb = tmp_path / "pose.nwb"
    sio.save_nwb(labels, str(nwb), nwb_format="annotations_export")
    report = convert_sleapio("nwb", nwb, tmp_path / "out")
    assert_same(instances_of(labels), tmp_path / "out")
    assert report.files_converted == 2 and len(list((tmp_path / "out/images").rglob("*.png"))) == 2


def test_predictions_when_nothing_is_user_labelled(shared_data, tmp_path):
    labels = coco_labels(shared_data, "fly")
    for lf in labels.labeled_frames:
        lf.instances = [sio.PredictedInstance.from_numpy(inst.numpy(), skeleton=inst.skeleton, score=0.9,
                                                         point_scores=np.ones(len(inst.skeleton)))
                        for inst in lf.instances]
    sio.save_slp(labels, str(tmp_path / "pred.slp"), verbose=False)
    report = convert_sleapio("sleap", tmp_path / "pred.slp", tmp_path / "out")
    assert_same(instances_of(labels), tmp_path / "out")
    assert "predicted instances are converted" in report.warnings[0]["message"]


def test_missing_video_frames_are_listed(shared_data, tmp_path):
    labels = frames_video(coco_labels(shared_data, "locust"), str(tmp_path / "gone.mp4"))
    sio.save_slp(labels, str(tmp_path / "refs.slp"), verbose=False)
    with pytest.raises(MmpxError, match="nothing converted: all 2 file"):
        convert_sleapio("sleap", tmp_path / "refs.slp", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("fmt", "name", "content", "message"),
    [
        ("sleap", "missing.slp", None, "no such file"),
        ("sleap", "labels.slp", b"not hdf5 at all", "not an HDF5 file"),
        ("nwb", "pose.nwb", b"{}", "not an HDF5 file"),
        ("dlc", "CollectedData_me.csv", b"image,x,y\na.png,1,2\n", "not a DeepLabCut CSV"),
        ("dlc", "project", None, "no such file"),
        ("labelstudio", "tasks.json", b'{"images": []}', "not a Label Studio export"),
        ("labelstudio", "tasks.json", b"[{", "not JSON"),
    ],
)
def test_bad_input_one_error_nothing_written(tmp_path, fmt, name, content, message):
    src = tmp_path / name
    if content is not None:
        src.write_bytes(content)
    with pytest.raises(MmpxError, match=message) as caught:
        convert_sleapio(fmt, src, tmp_path / "out")
    assert str(src) in str(caught.value) and caught.value.hint
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ([name] if content is not None else [])


def test_cli_sleap(shared_data, tmp_path):
    labels = coco_labels(shared_data, "onehand10k")
    sio.save_slp(labels, str(tmp_path / "hand.slp"), embed=True, verbose=False)
    app, runner = build_app(load_plugins(distributions=[], env={})), CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", "sleap", str(tmp_path / "hand.slp"), str(out), "--category", "hand"],
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "mmpx convert sleap" in result.output
    assert json.loads((out / "annotations/train.json").read_text())["categories"][0]["name"] == "hand"
    assert json.loads((out / "report.json").read_text())["converter"] == "sleap"
    result = runner.invoke(app, ["convert", "sleap", str(tmp_path / "hand.slp"), str(out)])
    assert result.exit_code != 0 and "already exists" in str(result.exception)


@pytest.mark.parametrize("suffix", [".slp", ".nwb", ".json"])
def test_infer_save_as_goes_back_in(tmp_path, suffix):
    """`mmpx infer --save-as` (an image folder and a video) -> SLEAP / NWB / Label Studio -> the same keypoints
    above --kpt-thr, read by sleap-io and by `mmpx convert` again."""
    from mmpx.testing import run_cli
    from tests.onnx_model import NAMES, write_tiny_onnx

    model = write_tiny_onnx(tmp_path / "tiny.onnx", size=(32, 32), bias=2.0)
    (tmp_path / "in").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(tmp_path / "in" / f"im{i}.png"), rng.integers(0, 255, (48, 64, 3), np.uint8))
    writer = cv2.VideoWriter(str(tmp_path / "in" / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(3):
        writer.write(rng.integers(0, 255, (48, 64, 3), np.uint8))
    writer.release()
    target = tmp_path / f"pred{suffix}"
    if suffix == ".nwb":  # pose estimates per video: images are refused before any work
        refused = run_cli("infer", tmp_path / "in", "--weights", model, "--backend", "onnxruntime", "--whole-image",
                          "--save-as", target)
        assert refused.exit_code == 1 and "is an image" in refused.stderr and not target.exists()
        for image in (tmp_path / "in").glob("*.png"):
            image.unlink()
    result = run_cli("infer", tmp_path / "in", "--weights", model, "--backend", "onnxruntime", "--whole-image",
                     "--no-progress", "--kpt-thr", "0.5", "--save-json", tmp_path / "r.json", "--save-as", target)
    assert result.exit_code == 0, result.stderr
    frames = 3 if suffix == ".nwb" else 5
    assert f"predictions: {frames} frame(s) in {target}" in result.stderr
    records = json.loads((tmp_path / "r.json").read_text())
    expected = []
    for record in records:
        kpts = np.array(record["keypoints"]).reshape(-1, 3)
        expected.append({n: (x, y) for n, (x, y, s) in zip(NAMES, kpts, strict=True) if s >= 0.5})
    labels = sio.load_file(str(target))
    got = instances_of(labels)
    assert sorted(map(sorted, got)) == sorted(map(sorted, expected))
    fmt = {".slp": "sleap", ".nwb": "nwb", ".json": "labelstudio"}[suffix]
    if suffix != ".nwb":  # NWB PoseEstimation names its videos but stores no image paths sleap-io reads back
        report = convert_sleapio(fmt, target, tmp_path / "back", val_ratio=0)
        inside = [{n: (x, y) for n, (x, y) in e.items() if 0 <= x <= 64 and 0 <= y <= 48} for e in expected]
        assert_same([e for e in inside if e], tmp_path / "back")  # points outside the image: v=0
        assert report.files_converted == frames
    again = run_cli("infer", tmp_path / "in", "--weights", model, "--backend", "onnxruntime", "--whole-image",
                    "--save-as", tmp_path / "pred.txt")
    assert again.exit_code == 1 and "unknown format .txt" in again.stderr and not (tmp_path / "pred.txt").exists()


EVERY_SET = ["ap10k", "animalpose", "horse10", "macaque", "zebra", "locust", "fly", "300w", "onehand10k"]


def named_labels(shared_data: Path, name: str, tmp_path: Path):
    """The set's COCO file read by sleap-io; 300W names no keypoints, which sleap-io cannot hold, so they get the
    numbered names ``mmpx metainfo from-coco`` gives them (``kpt_0`` ..)."""
    path = shared_data / f"mmpose-testdata/{name}/test_{name}.json"
    data = json.loads(path.read_text())
    for cat in data["categories"]:
        if not cat["keypoints"]:
            count = len(data["annotations"][0]["keypoints"]) // 3
            cat["keypoints"] = [f"kpt_{i}" for i in range(count)]
    copy = tmp_path / "src" / path.name
    copy.parent.mkdir()
    copy.write_text(json.dumps(data))
    for image in data["images"]:
        shutil.copy(path.parent / image["file_name"], copy.parent / image["file_name"])
    return sio.load_coco(str(copy))


@pytest.mark.parametrize("name", EVERY_SET)
def test_every_set_round_trips_through_every_format(shared_data, tmp_path, name):
    """Each non-COCO-17 set of MMPose's test data, written by sleap-io as SLEAP, DeepLabCut, Label Studio and NWB,
    converts back to the same keypoints (within 0.01 px), names and swaps."""
    labels = named_labels(shared_data, name, tmp_path)
    names = list(labels.skeletons[0].node_names)
    expected = instances_of(labels)
    sio.save_slp(labels, str(tmp_path / "a.slp"), embed=True, verbose=False)
    written = {"sleap": tmp_path / "a.slp", "dlc": _dlc_project(labels, tmp_path / "proj")}
    sio.save_labelstudio(labels, str(tmp_path / "ls.json"))
    written["labelstudio"] = tmp_path / "ls.json"
    if len({lf.image.shape for lf in labels.labeled_frames}) == 1:  # NWB holds the frames as one video: one size
        sio.save_nwb(labels, str(tmp_path / "pose.nwb"), nwb_format="annotations_export")
        written["nwb"] = tmp_path / "pose.nwb"
    for fmt, src in written.items():
        out = tmp_path / f"out-{fmt}"
        convert_sleapio(fmt, src, out, val_ratio=0)
        got, swaps = assert_same(expected, out)
        if fmt == "labelstudio":  # no skeleton, no order: the names labelled in it, sorted
            names_in = sorted({n for inst in expected for n in inst})
            assert got == names_in, fmt
        else:
            assert got == names, fmt
        assert swaps == infer_swaps(got), fmt
