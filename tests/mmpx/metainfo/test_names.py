"""One reading of keypoint names for left/right swaps and for keypoint mapping: MMPose's own
files spell sides as ``L_Eye``, ``Eye_Left``, ``eyeL`` and ``left_eye``, DeepLabCut projects as ``leftear``; so
``mmpx metainfo map`` keeps every ap10k keypoint COCO also has, and ``from-coco`` finds the same pairs."""

from __future__ import annotations

import importlib.util
import json

import pytest

from mmpx.metainfo import infer_swaps, keypoint_names, load_metainfo, metainfo_from_coco, name_key, name_words
from mmpx.metainfo.mapping import map_keypoints, resolve_metainfo_path
from mmpx.testing import run_cli

HAS_MMPOSE = importlib.util.find_spec("mmpose") is not None  # only its metainfo files are read
needs_mmpose = pytest.mark.skipif(not HAS_MMPOSE, reason="MMPose's metainfo files are absent from the core venv")
AP10K, COCO = "mmpose::_base_/datasets/ap10k.py", "mmpose::_base_/datasets/coco.py"
# what ap10k and COCO share by name: eyes, nose, shoulders, elbows, hips, knees
AP10K_ON_COCO = [("Nose", "nose"), ("L_Eye", "left_eye"), ("R_Eye", "right_eye"), ("L_Shoulder", "left_shoulder"),
                 ("R_Shoulder", "right_shoulder"), ("L_Elbow", "left_elbow"), ("R_Elbow", "right_elbow"),
                 ("L_Hip", "left_hip"), ("R_Hip", "right_hip"), ("L_Knee", "left_knee"), ("R_Knee", "right_knee")]
PAWS = {"L_F_Paw": "left_wrist", "R_F_Paw": "right_wrist", "L_B_Paw": "left_ankle", "R_B_Paw": "right_ankle"}


@pytest.mark.parametrize("names, side, words", [
    (["L_Eye", "left_eye", "Eye_Left", "eyeL", "LeftEye", "left-eye", "LEFT EYE", "l_eye"], "left", ["eye"]),
    (["R_F_Paw", "right_front_paw", "right front paw"], "right", ["front", "paw"]),
    (["forelegL1"], "left", ["foreleg", "1"]),
    (["moth_leftear", "moth_LEFTEAR", "Moth_Leftear", "moth_left_ear"], "left", ["moth", "ear"]),  # DeepLabCut
    (["Root of tail"], None, ["root", "of", "tail"]),
    (["l", "R"], None, None),  # a lone letter is no side
])
def test_every_spelling_of_a_side_reads_the_same(names, side, words):
    for name in names:
        got_side, got_words = name_words(name)
        assert got_side == side, name
        if words is not None:
            assert got_words == words, name
    assert len({name_key(n) for n in names}) == 1 or words is None


def test_deeplabcut_names_pair_up():
    names = ["nose", "moth_leftear", "moth_rightear", "leftpaw", "rightpaw", "tailbase"]
    assert infer_swaps(names) == {"moth_leftear": "moth_rightear", "moth_rightear": "moth_leftear",
                                  "leftpaw": "rightpaw", "rightpaw": "leftpaw"}


def test_letters_are_never_dropped():
    # names in other scripts keep every letter: two different names never read as one
    assert name_key("épaule_gauche") != name_key("gauche")
    assert len({name_key(n) for n in ("左眼", "右眼", "鼻")}) == 3
    assert infer_swaps(["L_Eye", "R_Eye", "Nose", "eyeL", "eyeR"]) == {}  # two partners each: not guessed
    assert infer_swaps(["L_Eye", "right_eye", "nose"]) == {"L_Eye": "right_eye", "right_eye": "L_Eye"}


@needs_mmpose
def test_ap10k_maps_onto_coco_by_its_names():
    m = map_keypoints(AP10K, COCO)
    assert m.kept == AP10K_ON_COCO and m.how == ["normalized"] * 11
    assert m.dropped == ["Neck", "Root of tail", *PAWS]  # COCO has no neck, tail base or paws
    assert m.missing == ["left_ear", "right_ear", "left_wrist", "right_wrist", "left_ankle", "right_ankle"]
    # paws are not wrists or ankles by name: the user says so, and then 15 of 17 are filled (ears stay empty)
    m = map_keypoints(AP10K, COCO, aliases=PAWS)
    assert len(m.pairs) == 15 and m.missing == ["left_ear", "right_ear"]


@needs_mmpose
def test_cli_map_ap10k_to_coco():
    result = run_cli("metainfo", "map", AP10K, COCO, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["pairs"]) == 11 and data["missing"][:2] == ["left_ear", "right_ear"]
    text = run_cli("metainfo", "map", AP10K, COCO)
    assert text.stdout.startswith("ap10k.py -> coco.py: kept 11 of 17: Nose->nose, L_Eye->left_eye, "), text.stdout


@needs_mmpose
def test_swaps_and_mapping_read_mmpose_files_alike(tmp_path):
    """Every MMPose metainfo file: the swaps inferred from its names are its own swaps among the names that carry
    a side (numbered face points, ``kpt-12``, cannot be read), never a wrong one; and a metainfo made from a
    COCO file with ap10k's names has ap10k's swaps and maps onto COCO as ap10k.py does."""
    folder = resolve_metainfo_path(COCO).parent
    checked = 0
    for path in sorted(folder.glob("*.py")):
        info = load_metainfo(path)
        own = {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values() if kp.get("swap")}
        inferred = infer_swaps(keypoint_names(info))
        assert inferred.items() <= own.items(), path.name
        sided = {a: b for a, b in own.items() if name_words(a)[0] and name_words(b)[0]}
        assert inferred == sided, path.name
        checked += bool(sided)
    assert checked >= 25
    ap10k = load_metainfo(resolve_metainfo_path(AP10K))
    ann = tmp_path / "animals.json"
    ann.write_text(json.dumps(dict(images=[], annotations=[], categories=[
        dict(id=1, name="animal", keypoints=keypoint_names(ap10k), skeleton=[])])))
    made = metainfo_from_coco(ann)
    assert [kp["swap"] for kp in made["keypoint_info"].values()] == \
        [kp["swap"] for kp in ap10k["keypoint_info"].values()]
    assert map_keypoints(made, COCO).kept == AP10K_ON_COCO
