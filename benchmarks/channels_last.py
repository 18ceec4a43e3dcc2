"""Channels-last against the default (contiguous NCHW) memory format for training on the CPU.

Baseline: the quickstart's model (ResNet-18 heatmap model, mmpose_ext/configs/carpose_quickstart.py) with contiguous
weights. One training step = forward + MSE loss + backward + Adam, batch 32 at 96x96, the two models built from the
same seed and stepped alternately (`--rounds` times each after 3 warm-up steps); medians and the ratio are printed.
Only the weights are converted (`model.to(memory_format=torch.channels_last)`), as ChannelsLastHook does.

    .venv/bin/python benchmarks/channels_last.py [--rounds 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    import mmpose_ext  # noqa: F401  (fixes and registries before mmpose)

    torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    init_default_scope("mmpose")
    cfg = Config.fromfile(str(ROOT / "mmpose_ext" / "configs" / "carpose_quickstart.py"))
    models, optims = {}, {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).train()
        if channels_last:
            model.to(memory_format=torch.channels_last)
        models[channels_last], optims[channels_last] = model, torch.optim.Adam(model.parameters(), 1e-3)
    x, target = torch.randn(32, 3, 96, 96), torch.randn(32, 8, 24, 24)

    def step(channels_last: bool) -> float:
        start = time.perf_counter()
        model = models[channels_last]
        loss = ((model.head(model.backbone(x)) - target) ** 2).mean()
        optims[channels_last].zero_grad()
        loss.backward()
        optims[channels_last].step()
        return time.perf_counter() - start

    for channels_last in (False, True):
        for _ in range(3):
            step(channels_last)
    times = {False: [], True: []}
    for _ in range(args.rounds):
        for channels_last in (False, True):
            times[channels_last].append(step(channels_last))
    base, fast = statistics.median(times[False]), statistics.median(times[True])
    print(f"{os.cpu_count()} cores, {args.threads} threads, load average {os.getloadavg()[0]:.2f}; "
          f"median of {args.rounds} interleaved steps, batch 32 at 96x96")
    print(f"contiguous (baseline)  {base:.3f} s/step")
    print(f"channels_last          {fast:.3f} s/step")
    print(f"speed-up {base / fast:.2f}x")


if __name__ == "__main__":
    main()
