"""From a raw COCO keypoint file to ONNX predictions with the command line alone, timed per step, with
the defaults a user gets: `mmpx metainfo from-coco`, `mmpx configs new --model rtmpose-t` (input size and
`--epochs auto` as it chooses them), `mmpx train`, `mmpx export onnx` on the last checkpoint and `mmpx infer
--backend onnxruntime --whole-image` on one image of the set. Each step is a fresh `mmpx` process, so its wall
time includes the start-up a user waits for.

The sets are MMPose's test data under ../shared/data/mmpose-testdata (2-4 images each; see its README): the
point is what it takes to get from a new keypoint set's file to a model file, not accuracy. The hand-edit count
is the number of files the script changes between the commands: none.

Nothing is installed or downloaded (the config starts from random weights).

Usage: python benchmarks/raw_to_onnx.py [SET ...] [--model rtmpose-t] [--epochs auto] [--work-dir DIR]
       (sets default: locust 300w onehand10k)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mmpose-testdata"
STEPS = ("from-coco", "configs new", "train", "export", "infer")
HAND_EDITS: list[str] = []  # files changed by hand between the commands: none, on purpose


def mmpx(cwd: Path, *args) -> float:
    """Run ``mmpx ARGS`` in ``cwd``; exit with its output's end if it fails. Returns the wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mmpx", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"mmpx {' '.join(map(str, args[:2]))} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def run_set(name: str, work: Path, model: str, epochs: str) -> dict:
    """The five steps on one set, in ``work``; their seconds and what the config chose."""
    folder = DATA / name
    ann = folder / f"test_{name}.json"
    image = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[0]
    work.mkdir(parents=True, exist_ok=True)
    seconds = {
        "from-coco": mmpx(work, "metainfo", "from-coco", ann, "metainfo.py", "--force"),
        "configs new": mmpx(work, "configs", "new", "--data", ann, "--metainfo", "metainfo.py", "--model", model,
                            "--epochs", epochs, "--out", "config.py", "--overwrite"),
    }
    text = (work / "config.py").read_text(encoding="utf-8")
    chosen = dict(epochs=int(re.search(r"^max_epochs = (\d+)", text, re.M).group(1)),
                  input_size=re.search(r"input_size=\((\d+, \d+)\)", text).group(1))
    seconds["train"] = mmpx(work, "train", "config.py", "--work-dir", "work", "--no-progress")
    checkpoint = Path((work / "work" / "last_checkpoint").read_text().strip())
    seconds["export"] = mmpx(work, "export", "onnx", "config.py", checkpoint, "--out", "model.onnx")
    seconds["infer"] = mmpx(work, "infer", image, "--weights", "model.onnx", "--backend", "onnxruntime",
                            "--whole-image", "--save-json", "predictions.json")
    records = json.loads((work / "predictions.json").read_text())
    return dict(seconds=seconds, keypoints=len(records[0]["keypoints"]) // 3, **chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", default=["locust", "300w", "onehand10k"])
    parser.add_argument("--model", default="rtmpose-t")
    parser.add_argument("--epochs", default="auto", help="mmpx configs new --epochs (default: auto, as it chooses)")
    parser.add_argument("--work-dir", type=Path, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the shared test data sits beside the checkout on project machines only")
    base = args.work_dir or Path(tempfile.mkdtemp(prefix="raw_to_onnx_"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; model {args.model}, --epochs "
          f"{args.epochs}; runs in {base}")
    print(f"{'set':<11} {'kpts':>4} {'epochs':>6} {'input':>9} " + " ".join(f"{s:>11}" for s in STEPS)
          + f" {'all':>8} {'hand edits':>10}")
    for name in args.sets:
        result = run_set(name, base / name, args.model, args.epochs)
        seconds = result["seconds"]
        size = result["input_size"].replace(", ", "x")
        print(f"{name:<11} {result['keypoints']:>4} {result['epochs']:>6} {size:>9} "
              + " ".join(f"{seconds[s]:>10.1f}s" for s in STEPS)
              + f" {sum(seconds.values()):>7.1f}s {len(HAND_EDITS):>10}", flush=True)


if __name__ == "__main__":
    main()
