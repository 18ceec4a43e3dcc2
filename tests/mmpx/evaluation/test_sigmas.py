"""``mmpx metainfo sigmas``: OKS sigmas recovered from synthetic double labels with known sigmas, pairing of
images and instances, the metainfo file kept as it was but for its sigmas, AP under old and new sigmas, and
user errors."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.evaluation.sigmas import estimate_sigmas, sigmas_text, write_sigmas
from mmpx.metainfo import keypoint_names, load_metainfo
from mmpx.testing import run_cli

NAMES = ["nose", "left_ear", "right_ear", "left_paw", "right_paw", "tail"]
TRUE = [0.02, 0.035, 0.05, 0.065, 0.08, 0.1]
K = len(NAMES)


def _double_labels(seed: int = 0, images: int = 300):
    """(truth, A, B): the same instances labelled twice; per axis noise std = sigma * s / sqrt(2), so that
    E[d²/s²] = sigma² for one labelling. Instances of an image sit side by side (IoU 0 between them)."""
    rng = np.random.default_rng(seed)
    cat = dict(id=1, name="animal", keypoints=NAMES, skeleton=[[1, 2], [1, 3], [4, 6], [5, 6]])
    truth = dict(images=[], annotations=[], categories=[cat])
    files = [copy.deepcopy(truth), copy.deepcopy(truth)]
    ann_id = 0
    for i in range(images):
        n = int(rng.integers(1, 3))
        img = dict(id=i + 1, file_name=f"img_{i:04d}.jpg", width=400 * n, height=400)
        for f in [truth, *files]:
            f["images"].append(dict(img))
        for j in range(n):
            w, h = rng.uniform(30, 350, 2)
            box = [400 * j + rng.uniform(0, 400 - w), rng.uniform(0, 400 - h), w, h]
            area = 0.6 * w * h  # a segmentation area, smaller than the box
            xy = box[:2] + rng.uniform(0, 1, (K, 2)) * [w, h]
            ann_id += 1
            truth["annotations"].append(dict(id=ann_id, image_id=i + 1, category_id=1, bbox=box, area=area,
                                             iscrowd=0, num_keypoints=K, keypoints=_flat(xy)))
            for f in files:
                noisy = xy + rng.normal(0, 1, (K, 2)) * (np.asarray(TRUE)[:, None] * math.sqrt(area) / math.sqrt(2))
                f["annotations"].append(dict(id=ann_id, image_id=i + 1, category_id=1, bbox=list(box), area=area,
                                             iscrowd=0, num_keypoints=K, keypoints=_flat(noisy)))
    return truth, files[0], files[1]


def _flat(xy, v=2) -> list[float]:
    return np.concatenate([xy, np.full((len(xy), 1), v)], axis=1).ravel().tolist()


def _save(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def labels():
    return _double_labels()


@pytest.fixture()
def files(labels, tmp_path):
    truth, a, b = labels
    return _save(tmp_path / "truth.json", truth), _save(tmp_path / "a.json", a), _save(tmp_path / "b.json", b)


METAINFO = '''# hand-made metainfo: the comments and layout must survive
colors = dict(head=[255, 0, 0], body=[0, 0, 255])
dataset_info = dict(
    dataset_name='animals',
    paper_info=dict(author='me'),
    keypoint_info={
        0: dict(name='nose', id=0, color=colors['head'], type='upper', swap=''),
        1: dict(name='left_ear', id=1, color=[0, 255, 0], type='upper', swap='right_ear'),
        2: dict(name='right_ear', id=2, color=[255, 128, 0], type='upper', swap='left_ear'),
        3: dict(name='left_paw', id=3, color=[0, 255, 0], type='lower', swap='right_paw'),
        4: dict(name='right_paw', id=4, color=[255, 128, 0], type='lower', swap='left_paw'),
        5: dict(name='tail', id=5, color=colors['body'], type='lower', swap=''),
    },
    skeleton_info={
        0: dict(link=('nose', 'left_ear'), id=0, color=[1, 2, 3]),
        1: dict(link=('left_paw', 'tail'), id=1, color=[4, 5, 6]),
    },
    joint_weights=[1.0, 1.2, 1.2, 1.5, 1.5, 0.8],
    sigmas=[0.15] * 6,  # loose guesses
)
'''


@pytest.fixture()
def metainfo(tmp_path) -> Path:
    path = tmp_path / "animals.py"
    path.write_text(METAINFO)
    return path


def test_recovers_known_sigmas_within_ten_percent(files):
    _, a, b = files
    result = estimate_sigmas(a, b)
    n = len(json.loads(a.read_text())["annotations"])
    assert result.names == NAMES and result.match_by == "file_name" and result.instance_pairs == n
    assert result.scale == dict(area=n, bbox=0, mixed=0) and result.pairing == {"bbox IoU": n, "keypoints": 0}
    assert result.instances_only_a == result.instances_only_b == 0 and not result.images_only_a
    for row, sigma in zip(result.keypoints, TRUE, strict=True):
        assert row.pairs == result.instance_pairs > 400 and row.used
        assert abs(row.estimate - sigma) < 0.1 * sigma, (row.name, row.estimate, sigma)
        assert row.low < row.estimate < row.high and row.high - row.low < 0.2 * sigma
        # the tolerance is real: forgetting the factor 2 (sigma = sqrt(mean d²/s²)) is 41% off and fails it
        assert abs(row.estimate * math.sqrt(2) - sigma) > 0.1 * sigma
    # the 95% intervals hold the true sigma (for this fixed seed: all six)
    assert all(r.low <= s <= r.high for r, s in zip(result.keypoints, TRUE, strict=True))
    assert result.sigmas() == [round(r.estimate, 4) for r in result.keypoints]
    assert estimate_sigmas(a, b).as_dict() == result.as_dict()  # the bootstrap is seeded: same interval


def test_pairs_by_file_name_across_ids_and_order(labels, tmp_path):
    truth, a, b = labels
    b = copy.deepcopy(b)
    rng = np.random.default_rng(1)
    for img in b["images"]:
        img["id"] += 1000
    for ann in b["annotations"]:
        ann["image_id"] += 1000
        ann["id"] += 5000
    rng.shuffle(b["images"])
    rng.shuffle(b["annotations"])
    dropped = b["annotations"].pop(0)  # an instance missing in B
    fa, fb = _save(tmp_path / "a.json", a), _save(tmp_path / "b.json", b)
    result = estimate_sigmas(fa, fb)
    assert result.images_paired == len(a["images"]) and result.match_by == "file_name"
    assert result.instances_only_a == 1 and result.instances_only_b == 0
    assert result.instance_pairs == len(a["annotations"]) - 1 and dropped
    for row, sigma in zip(result.keypoints, TRUE, strict=True):
        assert abs(row.estimate - sigma) < 0.1 * sigma
    # by id these files share no image
    with pytest.raises(MmpxError, match="no image of"):
        estimate_sigmas(fa, fb, match_by="id")
    # without file names, ids pair them (auto falls back to ids)
    a_ids = copy.deepcopy(a)
    b_ids = copy.deepcopy(labels[2])
    for img in a_ids["images"] + b_ids["images"]:
        del img["file_name"]
    result = estimate_sigmas(_save(tmp_path / "a2.json", a_ids), _save(tmp_path / "b2.json", b_ids))
    assert result.match_by == "id" and result.images_paired == len(a["images"])


def test_unlabelled_keypoints_and_min_pairs(labels, tmp_path):
    _, a, b = labels
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for n, ann in enumerate(b["annotations"]):
        if n % 2:
            ann["keypoints"][5 * 3 + 2] = 0  # tail unlabelled in B on every other instance
    for n, ann in enumerate(a["annotations"]):
        if n >= 5:
            ann["keypoints"][0 * 3 + 2] = 0  # nose labelled in A on 5 instances only
    slip = b["annotations"][7]
    slip["keypoints"][3 * 3] += math.sqrt(slip["area"])  # a left paw one object size off: counted as far
    total = len(a["annotations"])
    result = estimate_sigmas(_save(tmp_path / "a.json", a), _save(tmp_path / "b.json", b),
                             old_sigmas=[0.3] * K, old_source="old.py")
    rows = {r.name: r for r in result.keypoints}
    assert rows["tail"].pairs == total // 2 + total % 2 and abs(rows["tail"].estimate - 0.1) < 0.015
    assert rows["nose"].pairs == 5 and not rows["nose"].used and rows["nose"].new == 0.3
    assert result.sigmas()[0] == 0.3 and all(r.used for r in result.keypoints[1:])
    assert [r.far for r in result.keypoints] == [0, 0, 0, 1, 0, 0]
    lowered = estimate_sigmas(tmp_path / "a.json", tmp_path / "b.json", old_sigmas=[0.3] * K, min_pairs=5)
    assert lowered.keypoints[0].used and lowered.sigmas()[0] == round(lowered.keypoints[0].estimate, 4)


def test_pairs_by_keypoints_without_boxes_and_bbox_scale(labels, tmp_path):
    _, a, b = labels
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for ann in a["annotations"] + b["annotations"]:
        del ann["bbox"]
    result = estimate_sigmas(_save(tmp_path / "a.json", a), _save(tmp_path / "b.json", b))
    assert result.pairing == {"bbox IoU": 0, "keypoints": len(a["annotations"])}
    for row, sigma in zip(result.keypoints, TRUE, strict=True):
        assert abs(row.estimate - sigma) < 0.1 * sigma
    _, a, b = labels
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for ann in a["annotations"] + b["annotations"]:
        del ann["area"]
    result = estimate_sigmas(_save(tmp_path / "a.json", a), _save(tmp_path / "b.json", b))
    assert result.scale["bbox"] == len(a["annotations"]) and "bbox" in result.scale_text()
    # the box is 1/0.6 of the area the noise was drawn with: sigmas relative to it are sqrt(0.6) as large
    for row, sigma in zip(result.keypoints, TRUE, strict=True):
        assert abs(row.estimate - sigma * math.sqrt(0.6)) < 0.1 * sigma


def test_cli_out_and_write_keep_the_rest_of_the_metainfo(files, metainfo, tmp_path):
    _, a, b = files
    before = load_metainfo(metainfo)
    out = tmp_path / "new.py"
    result = run_cli("metainfo", "sigmas", a, b, "--metainfo", metainfo, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["written"] == str(out) and data["how"] == "replaced"
    assert [k["old"] for k in data["keypoints"]] == [0.15] * K
    new = load_metainfo(out)
    assert new["sigmas"] == data["sigmas"] and {**new, "sigmas": None} == {**before, "sigmas": None}
    text = out.read_text()
    assert text.startswith("# hand-made metainfo") and "colors['head']" in text and "# loose guesses" in text
    assert load_metainfo(metainfo) == before  # --out leaves the input alone

    table = run_cli("metainfo", "sigmas", a, b, "--metainfo", metainfo, "--write", env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.stderr
    assert "tail" in table.stdout and "0.1500" in table.stdout and f"wrote {metainfo}" in table.stdout
    assert metainfo.read_text() == text  # in place: the same edit
    assert not list(tmp_path.glob(".mmpx-tmp-*"))


def test_cli_out_without_metainfo_builds_one(files, tmp_path):
    _, a, b = files
    out = tmp_path / "built.py"
    result = run_cli("metainfo", "sigmas", a, b, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["old_source"] == "no metainfo: mmpx's default 0.025 each"
    info = load_metainfo(out)
    assert keypoint_names(info) == NAMES and info["sigmas"] == data["sigmas"]
    assert info["keypoint_info"][1]["swap"] == "right_ear" and len(info["skeleton_info"]) == 4
    nothing = run_cli("metainfo", "sigmas", a, b)
    assert nothing.exit_code == 0 and "nothing written" in nothing.stdout


def test_sigmas_text_forms():
    text = "dataset_info = {'keypoint_info': {}, 'sigmas': [1, 2],  # x\n}\n"
    assert sigmas_text(text, [0.5, 0.25]) == "dataset_info = {'keypoint_info': {}, 'sigmas': [0.5, 0.25],  # x\n}\n"
    text = "# é\ndataset_info = dict(name='é', joint_weights=[1.0] * 2,\n)\n"
    assert sigmas_text(text, [0.5, 0.25]) == ("# é\ndataset_info = dict(name='é', joint_weights=[1.0] * 2, "
                                              "sigmas=[0.5, 0.25],\n)\n")
    assert sigmas_text("dataset_info = dict()\n", [0.5]) == "dataset_info = dict(sigmas=[0.5])\n"
    long = sigmas_text("dataset_info = dict(\n    sigmas=[0.1] * 12)\n", [0.01] * 12)
    assert long == "dataset_info = dict(\n    sigmas=[" + ", ".join(["0.01"] * 10) + ",\n            0.01, 0.01])\n"
    assert sigmas_text("other = dict()\ndataset_info = other\n", [0.1]) is None


def test_write_sigmas_adds_missing_sigmas(metainfo, tmp_path):
    src = tmp_path / "nosig.py"
    src.write_text(METAINFO.replace("    sigmas=[0.15] * 6,  # loose guesses\n", ""))
    out = tmp_path / "with.py"
    assert write_sigmas(src, out, [0.05] * K) == "added"
    assert load_metainfo(out) == {**load_metainfo(src), "sigmas": [0.05] * K}


def test_cli_ap_under_old_and_new_sigmas(labels, files, metainfo, tmp_path):
    truth_data, _, _ = labels
    truth, a, b = files
    rng = np.random.default_rng(3)
    preds = []
    for ann in truth_data["annotations"]:
        xy = np.asarray(ann["keypoints"]).reshape(-1, 3)[:, :2]
        noisy = xy + rng.normal(0, 1, xy.shape) * 0.05 * math.sqrt(ann["area"])
        preds.append(dict(image_id=ann["image_id"], category_id=1, keypoints=_flat(noisy, 0.9),
                          score=float(rng.uniform(0.5, 1))))
    pred = _save(tmp_path / "pred.json", preds)
    result = run_cli("metainfo", "sigmas", a, b, "--metainfo", metainfo, "--predictions", pred, "--gt", truth,
                     "--json")
    assert result.exit_code == 0, result.stderr
    ap = json.loads(result.stdout)["ap"]
    for name in ("AP", "AP .5", "AP .75", "AR"):
        assert 0 <= ap["new"][name] <= 1 and 0 <= ap["old"][name] <= 1
    # 0.15 everywhere is loose: the measured (tighter) sigmas make the same predictions score lower
    assert ap["old"]["AP"] > 0.9 and ap["new"]["AP"] < ap["old"]["AP"] - 0.1
    table = run_cli("metainfo", "sigmas", a, b, "--predictions", pred, env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.stderr
    assert "COCO AP of --predictions" in table.stdout and "new sigmas" in table.stdout and "AP .75" in table.stdout


def _error(*args) -> str:
    result = run_cli("metainfo", "sigmas", *args)
    assert result.exit_code != 0 and "Traceback" not in result.stderr + result.stdout, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _edited(labels, tmp_path, edit) -> Path:
    """B edited, in a file of its own (the good b.json stays)."""
    data = copy.deepcopy(labels[2])
    edit(data)
    return _save(tmp_path / f"b_{len(list(tmp_path.glob('b_*.json')))}.json", data)


def test_bad_inputs(labels, files, metainfo, tmp_path):
    _, a, b = files
    missing = tmp_path / "missing.json"
    assert str(missing) in _error(a, missing) and "does not exist" in _error(a, missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    assert f"{broken}: not valid JSON" in _error(broken, b)
    listed = _save(tmp_path / "list.json", [1, 2])
    assert f"{listed}: not a COCO annotation file" in _error(a, listed)

    def rename(data):
        for img in data["images"]:
            img["file_name"] = "other_" + img["file_name"]

    other = _edited(labels, tmp_path, rename)
    assert "no image of" in (line := _error(a, other)) and str(other) in line

    def shift(data):
        for ann in data["annotations"]:
            ann["bbox"][1] += 1000

    shifted = _edited(labels, tmp_path, shift)
    assert "no instance of" in _error(a, shifted)

    def reorder(data):
        data["categories"][0]["keypoints"] = NAMES[::-1]

    line = _error(a, _edited(labels, tmp_path, reorder))
    assert "keypoint lists differ" in line and "another order" in line and str(a) in line

    def rename_kpt(data):
        data["categories"][0]["keypoints"] = [*NAMES[:-1], "tail_tip"]

    line = _error(a, _edited(labels, tmp_path, rename_kpt))
    assert "tail_tip" in line and str(a) in line

    for value in (0, -5.0, "12"):
        def bad_area(data, value=value):
            data["annotations"][3]["area"] = value

        bad = _edited(labels, tmp_path, bad_area)
        assert f"{bad}: annotations[3]" in (line := _error(a, bad)) and "area is" in line

    def short(data):
        data["annotations"][2]["keypoints"] = data["annotations"][2]["keypoints"][:-3]

    assert "annotations[2]" in _error(a, _edited(labels, tmp_path, short))
    assert "not two independent labellings" in _error(a, a)
    assert "is the input --metainfo" in _error(a, b, "--metainfo", metainfo, "--out", metainfo)
    assert "is the input ANN_B" in _error(a, b, "--out", b)
    assert "--write" in _error(a, b, "--write")
    assert "--predictions" in _error(a, b, "--gt", a)
    other_meta = tmp_path / "other.py"
    other_meta.write_text(METAINFO.replace("'tail'", "'tail_tip'"))
    line = _error(a, b, "--metainfo", other_meta, "--out", tmp_path / "never.py")
    assert "keypoint lists differ" in line and str(other_meta) in line and "tail_tip" in line
    assert not (tmp_path / "never.py").exists()
    bad_sigmas = tmp_path / "bad_sigmas.py"
    bad_sigmas.write_text(METAINFO.replace("[0.15] * 6", "[0.15] * 5 + ['x']"))
    line = _error(a, b, "--metainfo", bad_sigmas)
    assert str(bad_sigmas) in line and "sigmas must be 6 positive numbers" in line

    def same_id(data):
        data["images"][1]["id"] = data["images"][0]["id"]

    assert "two images have id 1" in _error(a, _edited(labels, tmp_path, same_id))
    existing = tmp_path / "exists.py"
    existing.write_text("x = 1\n")
    assert "exists" in _error(a, b, "--out", existing) and existing.read_text() == "x = 1\n"
