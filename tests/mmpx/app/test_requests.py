"""The request objects the commands hand to :mod:`mmpx.app`: the video switches' rules (one place for ``mmpx infer``
and ``PoseEstimator.run``), the launch options of train and test, the model choice, the convert summary."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mmpx.app.infer import InferOutputs, InferRequest, VideoSwitches, _check, sequence_options
from mmpx.app.launch import LaunchOptions
from mmpx.app.models import ModelChoice
from mmpx.app.train import RunOutcome
from mmpx.errors import MmpxError
from mmpx.infer.runner import DrawOptions
from mmpx.infer.smooth import OneEuroParams
from mmpx.infer.track import TrackParams


def test_tracking_is_off_unless_a_switch_needs_it():
    options = sequence_options()
    assert options.track is None and options.smooth is None and options.det_every == 1


@pytest.mark.parametrize("switches", [dict(track=True), dict(smooth=True), dict(tables=True), dict(det_every=3)])
def test_track_smooth_tables_and_det_every_each_turn_tracking_on(switches):
    options = sequence_options(**switches, kpt_thr=0.4)
    assert options.track == TrackParams(kpt_thr=0.4)
    assert options.smooth == (OneEuroParams() if switches.get("smooth") else None)


def test_parameters_given_are_kept():
    params, smooth = TrackParams(max_missing=5, max_distance=0.2), OneEuroParams(min_cutoff=0.5)
    assert sequence_options(params).track == params  # the API's form: the parameters turn tracking on
    options = sequence_options(False, smooth, track_params=params)  # the command's: its flags' parameters
    assert options.track == params and options.smooth == smooth
    assert sequence_options(False, track_params=params).track is None  # parameters alone turn nothing on


def test_bad_switches_are_refused():
    with pytest.raises(MmpxError, match="det_every must be a whole number"):
        sequence_options(det_every=0)
    with pytest.raises(MmpxError, match="batch_frames must be a whole number"):
        sequence_options(batch_frames=0)


def test_infer_checks_in_the_commands_order(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    choice = ModelChoice(weights=model, backend="onnxruntime", whole_image=True)
    heatmaps = DrawOptions(draw_heatmap=True)
    with pytest.raises(MmpxError, match="nothing to write"):
        _check(InferRequest([], choice, InferOutputs()))
    with pytest.raises(MmpxError, match="--draw-heatmap draws into --out-dir"):
        _check(InferRequest([], choice, InferOutputs(save_json=tmp_path / "r.json"), heatmaps))
    with pytest.raises(MmpxError, match="--draw-heatmap works frame by frame"):  # --save-csv turned tracking on
        _check(InferRequest([], choice, InferOutputs(out_dir=tmp_path / "o", save_csv=tmp_path / "t.csv"), heatmaps,
                            VideoSwitches(track_params=TrackParams(max_missing=7))))
    with pytest.raises(MmpxError, match="no detector given"):
        _check(InferRequest([], ModelChoice(weights=model, backend="onnxruntime"), InferOutputs()))


@pytest.mark.parametrize("options, message", [
    (dict(backend="torch"), "--pose CONFIG is required"),
    (dict(backend="onnxruntime", weights=Path("m.pth")), "needs --weights MODEL.onnx"),
    (dict(pose=Path("c.py"), weights=Path("/no/such.pth")), "--weights /no/such.pth does not exist"),
    (dict(pose=Path("c.py"), det_weights=Path("d.pth")), "--det-weights given without --det-config"),
    (dict(pose=Path("c.py"), det_config="d.py", whole_image=True), "both given"),
])
def test_model_choices_that_cannot_work(options, message):
    with pytest.raises(MmpxError, match=message):
        ModelChoice(**options).check()


def test_launch_options():
    alone = LaunchOptions()
    assert not alone.spawns and not alone.launched
    alone.leave()  # not one of torchrun's processes: nothing happens
    several = LaunchOptions(device="cpu", nproc=2, nnodes=2, node_rank=1, master_addr="h", master_port=29600)
    assert several.spawns and not several.launched
    assert several.rendezvous() == dict(nproc=2, nnodes=2, node_rank=1, master_addr="h", master_port=29600)
    assert LaunchOptions(launcher="pytorch").launched
    RunOutcome().finish()  # nothing to leave


def test_the_commands_launch_options_are_plain_strings():
    from mmpx.cli._launch import Device, Launcher, launch_options

    launch = launch_options(Device.cpu, Launcher.slurm, 1, 1, 0, None, 29500)
    assert launch == LaunchOptions(device="cpu", launcher="slurm", master_port=29500)
    assert type(launch.device) is str and type(launch.launcher) is str
    assert launch_options(None, Launcher.none, 1, 1, 0, None, None).device is None


def _report(**changes):
    report = dict(src="in", out="out", converter="labelme", files_read=3, files_converted=2, skipped=[
        dict(file="b.json", reason="no points")], images={"train": 1, "val": 1}, instances=2,
        instances_without_keypoints=0, keypoint_names=["a", "b"], keypoints_source="inferred from the labels",
        visibility={"2": 3, "1": 1}, skipped_shapes={}, warnings=[], seconds=0.5)
    return SimpleNamespace(**dict(report, **changes))


def test_convert_summary():
    from mmpx.app.convert import summary_lists, summary_notes, summary_rows

    rows = dict(summary_rows(_report()))
    assert rows["files read / converted / skipped"] == "3 / 2 / 1" and rows["images per split"] == "train: 1, val: 1"
    assert rows["labelled keypoints (visible / occluded)"] == "3 / 1" and "shapes skipped" not in rows
    assert summary_notes(_report())[0].startswith("note: keypoint names were collected from the point labels")
    assert summary_lists(_report()) == [("skipped", [("b.json", "no points")])]
    appended = _report(duplicates=[dict(file="c.json", duplicate_of="a.json", image_id=4)], files_converted=0,
                       dataset=dict(images={"train": 5}, instances=9), keypoints_source="--metainfo")
    rows = dict(summary_rows(appended))
    assert rows["files read / added / duplicates / skipped"] == "3 / 0 / 1 / 1"
    assert rows["dataset now"] == "train: 5 images; 9 instances"
    assert summary_notes(appended) == ["note: nothing was added (every new file was a duplicate or skipped)"]
    assert summary_lists(appended)[0] == ("duplicates", [("c.json", "duplicate of a.json (image id 4), not added")])


def test_sigmas_request_refuses_what_cannot_go_together(tmp_path):
    from mmpx.app.sigmas import SigmasRequest

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    with pytest.raises(MmpxError, match="--out and --write both given"):
        SigmasRequest(a, b, out=tmp_path / "m.py", write=True).check()
    with pytest.raises(MmpxError, match="no --metainfo was given"):
        SigmasRequest(a, b, write=True).check()
    with pytest.raises(MmpxError, match="--gt is the ground truth for --predictions"):
        SigmasRequest(a, b, gt=a).check()
    with pytest.raises(MmpxError, match="is one of the input files"):
        SigmasRequest(a, b, out=b).check()
