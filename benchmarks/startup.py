"""Wall time of `mmpx infer --backend onnxruntime --whole-image` on one image, against a bare ONNX Runtime script
doing the same work (the baseline: read, crop, normalise, run, decode the maxima, write JSON), side by side.

The ONNX file and its sidecar are all `mmpx infer` needs (no config). The model is RTMPose-t COCO 256x192 with
seeded random weights, exported by `mmpx export onnx` into a temporary folder first (start-up does not depend on
the weights). Both commands run alternately, `--repeat` times each; medians and the ratio are printed, with the
number of modules each one imported and whether any of torch, mmengine, mmcv, mmpose, mmdet was among them.

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--image IMG]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT.parent / "shared" / "data" / "mmpose-testdata" / "coco" / "000000000785.jpg"
HEAVY = ("torch", "mmengine", "mmcv", "mmpose", "mmdet", "mmpose_ext")
sys.path.insert(0, str(ROOT))

BARE = r'''
import json, sys
import cv2, numpy as np, onnxruntime as ort
onnx_path, image_path, out = sys.argv[1:4]
meta = json.load(open(onnx_path[:-5] + ".json"))
w, h = meta["input"]["size"]
img = cv2.imread(image_path)
crop = cv2.resize(img, (w, h))[:, :, ::-1].astype(np.float32)
x = ((crop - meta["preprocess"]["mean"]) / meta["preprocess"]["std"]).transpose(2, 0, 1)[None]
sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
sx, sy = sess.run(None, {"input": x.astype(np.float32)})
kx, ky = sx[0].argmax(-1) / 2.0, sy[0].argmax(-1) / 2.0
json.dump([[float(a), float(b)] for a, b in zip(kx, ky)], open(out, "w"))
'''


def timed(cmd: list[str]) -> tuple[float, int, list[str]]:
    """Wall seconds, modules imported, heavy packages imported (from -X importtime)."""
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    names = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line and "imported package" not in line]
    heavy = sorted({n.split(".")[0] for n in names} & set(HEAVY))
    return wall, len(names), heavy


def export_model(tmp: Path) -> Path:
    from benchmarks.infer_onnx import rtmpose_t
    from mmpose_ext.deploy.export import export_onnx

    config, ckpt = rtmpose_t(tmp)
    return export_onnx(config, ckpt, dynamic_batch=True).onnx_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--image", type=Path, default=IMAGE)
    args = parser.parse_args()
    if not args.image.is_file():
        sys.exit(f"{args.image} is absent: pass --image IMG (the default needs ../shared/data beside the checkout)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        model = export_model(tmp)
        bare = tmp / "bare.py"
        bare.write_text(BARE)
        py = [sys.executable, "-X", "importtime"]
        commands = {
            "mmpx infer --backend onnxruntime --whole-image": [*py, "-m", "mmpx", "infer", str(args.image),
                "--weights", str(model), "--backend", "onnxruntime", "--whole-image", "--save-json",
                str(tmp / "mmpx.json"), "--no-progress"],
            "bare ONNX Runtime script (baseline)": [*py, str(bare), str(model), str(args.image), str(tmp / "b.json")],
        }  # fmt: skip
        runs: dict[str, list] = {k: [] for k in commands}
        for _ in range(args.repeat):  # interleaved, so load changes hit both alike
            for key, cmd in commands.items():
                runs[key].append(timed(cmd))
        records = json.loads((tmp / "mmpx.json").read_text())
    print(f"one image ({args.image.name}), RTMPose-t 256x192 ONNX, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}, median of {args.repeat} interleaved runs; mmpx wrote {len(records)} record(s)")
    print(f"{'command':<50}{'wall s':>8}{'modules':>9}  training stack imported")
    medians = {}
    for key, rows in runs.items():
        medians[key] = statistics.median(r[0] for r in rows)
        print(f"{key:<50}{medians[key]:>8.2f}{rows[0][1]:>9}  {', '.join(rows[0][2]) or 'none'}")
    mmpx_s, bare_s = medians.values()
    print(f"ratio mmpx / bare script: {mmpx_s / bare_s:.2f}x")


if __name__ == "__main__":
    main()
