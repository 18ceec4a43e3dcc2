"""How a training process receives its batches from a loader worker: torch's default (``file_descriptor``: one
file descriptor per tensor, each sent over a socket connection of its own) against named shared-memory files
(``file_system``, what ``mmpx train`` uses: mmpose_ext.engine.cpu.share_tensors_by_name). Baseline: torch's default.

Data and pipeline are the quickstart's (``mmpx data synth carpose`` at 128x128, one car per image, converted;
mmpose_ext/configs/carpose_quickstart.py's training loader: batch 32, one worker). Two parts:

- loader: in this process, for each strategy in turn (interleaved rounds), a fresh loader; the main process's
  wall and CPU time to take one batch, with the worker given time to have it ready (so only the hand-over is
  timed, not the pipeline);
- ``--epochs N``: ``mmpose_ext.apis.run.train`` on the quickstart config for N epochs per strategy
  (``MMPX_TENSOR_SHARING`` picks it), interleaved: median s/iter and mmengine's data_time (the training process
  waiting for its batch), epochs 2 on.

    python benchmarks/loader_sharing.py [--batches 20] [--rounds 3] [--epochs 0]
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
STRATEGIES = ("file_descriptor", "file_system")


def make_data(work: Path, images: int) -> Path:
    """The quickstart's data and its config (``WORK/config.py``)."""
    from mmpx.app.quickstart import _library_dir, write_config
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    synth_carpose(work / "labelme", n=images, seed=0, size=128, max_cars=1, occlusion=0.0)
    convert_labelme(work / "labelme", work / "data", metainfo=_library_dir() / "datasets" / "metainfo" / "carpose.py",
                    category="car", seed=0, workers=0)
    return write_config(work, work / "data")


def time_batches(config: Path, strategy: str, batches: int) -> tuple[float, float]:
    """Median wall and CPU seconds of the main process per batch taken from a fresh one-worker loader."""
    import torch.multiprocessing as mp
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmpose_ext.config import load_config

    mp.set_sharing_strategy(strategy)  # before the loader forks its worker, which sends by this strategy
    init_default_scope("mmpose")
    cfg = load_config(str(config))
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batches_in = iter(loader)
    next(batches_in)
    wall, cpu = [], []
    for _ in range(batches):
        time.sleep(0.3)  # the worker has the next batch (and the one after) ready by now
        w, c = time.perf_counter(), time.process_time()
        next(batches_in)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    del batches_in, loader
    return statistics.median(wall), statistics.median(cpu)


def train_child(config: Path, work: Path, epochs: int) -> None:
    """In a child: train ``epochs`` epochs; print the median s/iter and data_time from epoch 2 on."""
    from mmpose_ext.apis.run import train

    runner = train(str(config), work_dir=work, seed=0,
                   cfg_options=[f"train_cfg.max_epochs={epochs}", f"train_cfg.val_interval={epochs + 1}"])
    per_epoch = len(runner.train_dataloader)
    out = {}
    for key in ("time", "data_time"):
        values = runner.message_hub.get_scalar(f"train/{key}").data[0].tolist()[per_epoch:]
        out[key] = statistics.median(values)
    print("RESULT " + json.dumps(out))


def train_run(config: Path, work: Path, epochs: int, strategy: str) -> dict:
    env = {**os.environ, "MMPX_TENSOR_SHARING": strategy}
    proc = subprocess.run([sys.executable, __file__, "--child", str(config), str(work), str(epochs)], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"training with {strategy} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20, help="batches timed per loader")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=0, help="also train N epochs per strategy (0: no)")
    parser.add_argument("--images", type=int, default=1000, help="synthetic images, as the quickstart")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        train_child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="mmpx-sharing-") as tmp:
        config = make_data(Path(tmp), args.images)
        loader = {s: [] for s in STRATEGIES}
        for _ in range(args.rounds):
            for strategy in STRATEGIES:
                loader[strategy].append(time_batches(config, strategy, args.batches))
        base = statistics.median(w for w, _ in loader[STRATEGIES[0]])
        print(f"\ntaking one batch of 32 (quickstart pipeline, 1 worker), median of {args.rounds} rounds x "
              f"{args.batches} batches:")
        print(f"{'strategy':<18}{'wall ms':>9}{'cpu ms':>9}{'vs file_descriptor':>20}")
        for strategy in STRATEGIES:
            wall = statistics.median(w for w, _ in loader[strategy])
            cpu = statistics.median(c for _, c in loader[strategy])
            print(f"{strategy:<18}{wall * 1e3:9.1f}{cpu * 1e3:9.1f}{wall / base:19.2f}x")
        if args.epochs:
            runs = {s: [] for s in STRATEGIES}
            for r in range(args.rounds):
                for strategy in STRATEGIES:
                    runs[strategy].append(train_run(config, Path(tmp) / f"train-{strategy}-{r}", args.epochs,
                                                    strategy))
            base_iter = statistics.median(x["time"] for x in runs[STRATEGIES[0]])
            print(f"\ntraining {args.epochs} epochs per run, {args.rounds} runs each (median of the runs' medians):")
            print(f"{'strategy':<18}{'s/iter':>9}{'data_time':>11}{'vs file_descriptor':>20}   runs s/iter")
            for strategy in STRATEGIES:
                it = statistics.median(x["time"] for x in runs[strategy])
                data = statistics.median(x["data_time"] for x in runs[strategy])
                each = ", ".join(f"{x['time']:.3f}" for x in runs[strategy])
                print(f"{strategy:<18}{it:9.3f}{data:11.3f}{it / base_iter:19.2f}x   {each}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
