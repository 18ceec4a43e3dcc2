"""``mmpx plot``: curves of a real training run and of hand-written scalars files, including broken ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.evaluation.plots import plot_scalars, read_scalars
from tests.helpers import mmpx, write_tiny_config

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _image(path: Path) -> np.ndarray:
    """Decode a PNG and check it is a real, non-blank plot."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 300, path
    assert (img < 250).mean() > 0.01 and len(np.unique(img.reshape(-1, 3), axis=0)) > 20  # lines, text, colours
    return img


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `mmpx ARGS` in this process (the subprocess start-up, ~5 s of imports, is tested once)."""
    from mmpx.cli.main import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, rows: list, tail: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows) + tail)
    return path


EPOCH_RUN = [
    dict(lr=1e-3, loss=1.0, loss_kpt=1.0, acc_pose=0.1, epoch=1, iter=2, step=2),
    {"coco/AP": 0.1, "coco/AP (L)": -1.0, "coco/AR": 0.2, "step": 1},
    dict(lr=1e-3, loss=0.5, loss_kpt=0.5, acc_pose=0.3, epoch=2, iter=4, step=4),
    {"coco/AP": 0.4, "coco/AP (L)": -1.0, "coco/AR": 0.5, "step": 2},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_coco):
    """A real 2-epoch `mmpx train` run folder (its own PNGs removed, so `mmpx plot` must make them)."""
    root = tmp_path_factory.mktemp("plot_run")
    config = write_tiny_config(root / "tiny.py", tiny_coco, max_epochs=2)
    result = mmpx("train", str(config), "--work-dir", str(root / "work"), env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    for png in (root / "work").glob("*.png"):
        png.unlink()
    return root / "work"


@pytest.mark.stack
@pytest.mark.slow
def test_cli_defaults_on_a_real_run(run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(run, work)
    result = mmpx("plot", str(work), env=ENV)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(work / "loss.png"), str(work / "val.png")]
    assert lines[0].endswith(": loss, loss_kpt")
    assert "coco/AP," in lines[1] and "coco/AP (L)" not in lines[1]  # -1 throughout: left out by default
    for name in ("loss.png", "val.png"):
        _image(work / name)
    assert not list(work.glob(".mmpx-tmp-*"))


@pytest.mark.stack
@pytest.mark.slow
def test_keys_select_series_and_single_file(run, tmp_path, capsys):
    out = tmp_path / "curves.png"
    code, stdout, stderr = cli(capsys, "plot", str(run), "--keys", "loss_kpt,coco/AP", "-k", "AR", "--out", str(out))
    assert code == 0, stderr
    assert stdout.strip() == f"{out}: loss_kpt, coco/AP, coco/AR"
    one = _image(out)

    plots = plot_scalars(run, out_file=tmp_path / "all.png")  # default selection: more series, two panels
    assert len(plots) == 1 and [p[0].split(":")[0] for p in plots[0].panels] == ["Training loss",
                                                                                    "Validation metrics"]
    assert len(plots[0].series) == 2 + 8  # loss, loss_kpt + coco AP/AR .5 .75 (M), not the -1 (L) ones
    assert not np.array_equal(one, cv2.imread(str(tmp_path / "all.png")))

    (only,) = plot_scalars(run, out_dir=tmp_path / "d", keys=["coco/*"])
    assert only.path == tmp_path / "d" / "val.png" and "coco/AP (L)" not in only.series and len(only.series) == 8
    (exact,) = plot_scalars(run, out_dir=tmp_path / "d", keys=["coco/AP (L)"])  # named exactly: drawn anyway
    assert exact.series == ["coco/AP (L)"]
    (lr,) = plot_scalars(run, out_dir=tmp_path / "d", keys=["lr"])
    assert lr.path.name == "train.png" and lr.series == ["lr"]


@pytest.mark.stack
@pytest.mark.slow
def test_x_axis_choice_on_a_real_run(run, tmp_path, capsys):
    scalars = read_scalars(run)
    assert scalars.iters_per_epoch == 2  # 6 images, batch 3
    by_iter = plot_scalars(run, out_file=tmp_path / "i.png", x="iter")[0]
    assert [p[1] for p in by_iter.panels] == ["iteration", "iteration"]
    by_epoch = plot_scalars(run, out_file=tmp_path / "e.png", x="epoch")[0]
    assert [p[1] for p in by_epoch.panels] == ["epoch", "epoch"]
    code, _, stderr = cli(capsys, "plot", str(run), "--x", "epoch", "--out", str(tmp_path / "cli"))
    assert code == 0, stderr
    _image(tmp_path / "cli" / "loss.png")


def test_epoch_mapping_on_hand_written_file(tmp_path, monkeypatch):
    src = _write(tmp_path / "scalars.json", EPOCH_RUN)
    drawn = {}
    import mmpx.evaluation.plots as plots

    real = plots._figure

    def record(panels, path):
        drawn[path.name] = panels
        return real(panels, path)

    monkeypatch.setattr(plots, "_figure", record)
    plot_scalars(src, out_dir=tmp_path, x="iter")
    (_, xlabel, _, series), = drawn["val.png"]
    assert xlabel == "iteration" and series["coco/AP"] == ([2, 4], [0.1, 0.4])  # after epoch e: iteration 2e
    drawn.clear()
    plot_scalars(src, out_dir=tmp_path, x="epoch")
    (_, xlabel, _, series), = drawn["loss.png"]
    assert xlabel == "epoch" and series["loss"] == ([1.0, 2.0], [1.0, 0.5])
    _image(tmp_path / "loss.png")


def test_partial_last_line_is_skipped(tmp_path):
    src = _write(tmp_path / "scalars.json", EPOCH_RUN, tail='{"loss": 0.2, "ep')
    (loss,) = plot_scalars(src, out_dir=tmp_path / "o", keys=["loss"])
    assert loss.series == ["loss"] and read_scalars(src).train["loss"][1] == [1.0, 0.5]


@pytest.mark.parametrize(
    ("bad", "message"),
    [('{"loss": 0.3, "epoch"', "scalars.json:2: not valid JSON"),
     ("[1, 2, 3]", "scalars.json:2: expected a JSON object, got list"),
     ('{"loss": 1, "epoch": "one", "iter": 1, "step": 1}', "scalars.json:2: 'step' and 'epoch' must be numbers")],
)
def test_broken_line_names_file_and_line(tmp_path, capsys, bad, message):
    rows = [EPOCH_RUN[0], bad, *EPOCH_RUN[1:]]
    src = _write(tmp_path / "run" / "20260101_000000" / "vis_data" / "scalars.json", rows)
    with pytest.raises(MmpxError, match="scalars.json:2"):
        plot_scalars(tmp_path / "run")
    code, _, stderr = cli(capsys, "plot", str(tmp_path / "run"))
    assert code == 1 and message in stderr and str(src) in stderr
    assert not list((tmp_path / "run").glob("*.png"))


def test_key_matching_nothing_lists_keys(tmp_path, capsys):
    src = _write(tmp_path / "scalars.json", EPOCH_RUN)
    code, _, stderr = cli(capsys, "plot", str(src), "--keys", "loss,PCK")
    assert code == 1
    assert "key 'PCK' matches nothing" in stderr
    assert "available keys: loss, loss_kpt, coco/AP, coco/AP (L), coco/AR, lr, acc_pose" in stderr
    assert not list(tmp_path.glob("*.png"))


def test_no_scalars_says_where_it_looked(tmp_path, capsys):
    (tmp_path / "empty_run" / "20260101_000000").mkdir(parents=True)
    code, _, stderr = cli(capsys, "plot", str(tmp_path / "empty_run"))
    assert code == 1
    assert f"no scalars.json found: looked for {tmp_path / 'empty_run'}/*/vis_data/scalars.json" in stderr
    code, _, stderr = cli(capsys, "plot", str(tmp_path / "absent"))
    assert code == 1 and "does not exist" in stderr


def test_iteration_based_run_cannot_use_epochs(tmp_path):
    rows = [dict(loss=1.0, iter=10, step=10), {"PCK": 0.5, "step": 10}, dict(loss=0.5, iter=20, step=20),
            {"PCK": 0.7, "step": 20}]
    src = _write(tmp_path / "scalars.json", rows)
    (val,) = plot_scalars(src, out_dir=tmp_path, keys=["PCK"])
    assert val.panels[0][1] == "iteration" and val.series == ["PCK"]
    with pytest.raises(MmpxError, match="cannot plot against epoch"):
        plot_scalars(src, out_dir=tmp_path, x="epoch")


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    src = _write(tmp_path / "scalars.json", EPOCH_RUN)
    (tmp_path / "loss.png").write_bytes(b"old")

    def half_then_fail(self, f, **kwargs):
        f.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        plot_scalars(src, keys=["loss"])
    assert (tmp_path / "loss.png").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "scalars.json"]
