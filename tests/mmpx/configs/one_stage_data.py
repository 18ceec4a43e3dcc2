"""Whole-image car data and a generated one-stage config for tests: synthetic multi-car scenes (``mmpx data synth
carpose --max-cars 5``, every car labelled) converted as ``mmpx convert labelme`` does, then ``mmpx configs new
--model rtmo-t`` on them at a small input size. Used by the one-stage config tests and the RTMO export tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def make_scenes(root: Path, n: int = 8, size: int = 160, max_cars: int = 5, seed: int = 0) -> Path:
    """``root``/data: ``n`` whole images of up to ``max_cars`` cars each (8 keypoints, carpose's metainfo), split
    into annotations/train.json and val.json, images/ and metainfo.py. Returns the data folder."""
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    spec = importlib.util.find_spec("mmpose_ext")  # its metainfo file, without importing torch
    metainfo = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "metainfo" / "carpose.py"
    synth_carpose(root / "labelme", n=n, seed=seed, size=size, max_cars=max_cars)
    convert_labelme(root / "labelme", root / "data", metainfo=metainfo, category="car", seed=seed, workers=0,
                    val_ratio=0.25)
    return root / "data"


def make_rtmo_config(tmp_path: Path, model: str = "rtmo-t", input_size: str = "160", n: int = 8,
                     check: bool = True) -> tuple[Path, Path]:
    """Draw the scenes under ``tmp_path`` and write ``tmp_path``/``model``_cars.py with ``mmpx configs new``
    (absolute data paths, so it runs from any folder). ``check=False`` skips the build and preflight that
    ``configs new`` does before writing. Returns (config path, data folder)."""
    from mmpx.app.configs_new import ConfigsNewRequest, configs_new

    tmp_path = Path(tmp_path)
    data = make_scenes(tmp_path, n=n, size=int(input_size.lower().partition("x")[0]))
    out = tmp_path / f"{model}_cars.py"
    configs_new(ConfigsNewRequest(data.resolve(), model, out, input_size=input_size, epochs="1", check=check,
                                  command=f"mmpx configs new --data DATA --model {model} --input-size {input_size}"))
    return out, data
