"""``mmpx train DATASET``: a folder ``mmpx convert`` wrote trains without a config file: the config
``mmpx configs new`` would write is generated into the work dir first, said in one line, trained (one iteration),
and reused by ``--resume``; a folder that is no dataset, and the dataset's options with a config file, are one
clear error before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmpx.testing import run_cli
from tests.helpers import mmpx

# one iteration: the batch is capped by the instances; no worker processes on a shared machine
QUICK = ["train_cfg.val_interval=1", "default_hooks.checkpoint.interval=1"] + [
    f"{loader}.{key}" for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    for key in ("num_workers=0", "persistent_workers=False")]


def _options(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--cfg-options", item)]


def _dataset(root: Path) -> Path:
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    synth_carpose(root / "labelme", 6, seed=1, size=96, max_cars=1)
    data = root / "data" / "cars"
    convert_labelme(root / "labelme", data, val_ratio=0.34, seed=0)
    return data


@pytest.mark.stack
@pytest.mark.slow
def test_dataset_trains_with_a_generated_config_and_resumes_with_it(tmp_path):
    _dataset(tmp_path)
    env = {"OMP_NUM_THREADS": "1"}
    first = mmpx("train", "data/cars", "--device", "cpu", "--input-size", "64x64", "--epochs", "1", "--no-progress",
                 *_options(QUICK), cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    work = tmp_path / "work_dirs" / "cars_rtmpose-t"
    config = work / "cars_rtmpose-t.py"
    line = f"config: generated {Path('work_dirs/cars_rtmpose-t/cars_rtmpose-t.py')} for data/cars: rtmpose-t, 8 " \
           "keypoints, input 64x64, 1 epochs"
    assert line in first.stdout
    assert first.stdout.index("config: generated") < first.stdout.index("iteration(s)")  # said before training
    text = config.read_text()
    assert "mmpx train data/cars --device cpu --input-size 64x64 --epochs 1" in text  # the header quotes it
    assert "input_size=(64, 64)" in text and "max_epochs=1" in text.replace(" ", "")
    assert (work / "epoch_1.pth").is_file()

    # --resume keeps the config there (an edit survives), whatever the dataset options say now
    config.write_text(text + "# edited by hand\n")
    again = mmpx("train", "data/cars", "--device", "cpu", "--resume", "auto", "--epochs", "5", "--no-progress",
                 *_options([*QUICK, "train_cfg.max_epochs=2"]), cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "--resume keeps it" in again.stdout and "config: generated" not in again.stdout
    assert config.read_text().endswith("# edited by hand\n")
    assert (work / "epoch_2.pth").is_file()


def test_a_folder_that_is_no_dataset_is_refused(tmp_path):
    (tmp_path / "photos").mkdir()
    result = run_cli("train", "photos", "--device", "cpu", cwd=tmp_path)
    assert result.exit_code == 1
    assert "photos: a folder, and not a dataset (no annotations/train.json)" in result.stderr
    assert "mmpx convert" in result.stderr  # the hint says what a dataset folder holds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no work dir, no lock


def test_dataset_options_with_a_config_file_are_refused(tmp_path):
    config = tmp_path / "mine.py"
    config.write_text("_base_ = ['mmpx::carpose-quickstart']\n")
    for extra in (["--model", "rtmpose-s"], ["--input-size", "64x64"], ["--epochs", "3", "--model", "rtmpose-t"]):
        result = run_cli("train", config, "--device", "cpu", *extra)
        assert result.exit_code == 1
        assert f"these choose the config mmpx train generates for a dataset folder, and {config} is a config " \
               "file" in result.stderr
        assert extra[0] in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py"]


def test_a_bad_model_for_a_dataset_is_refused_before_any_work(tmp_path):
    data = _dataset(tmp_path)
    result = run_cli("train", data, "--model", "rtmpose-xl", "--work-dir", tmp_path / "work", "--device", "cpu")
    assert result.exit_code == 1 and "--model 'rtmpose-xl' is not one of rtmpose-t" in result.stderr
    assert not (tmp_path / "work" / "cars_rtmpose-xl.py").exists()
