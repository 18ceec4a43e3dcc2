"""A training step of the quickstart's model alone and beside one other busy process of the same kind, under
torch's default threading and under mmpx's thread policy (mmpx.runtime.threads): s/step and the ratios.

The model is mmpose_ext/configs/carpose_quickstart.py's (ResNet-18, 3 stages, heatmap head, channels-last as
its hook makes it), a batch of 32 random 96x96 crops, Adam, forward + backward + step: what one quickstart
iteration spends in torch. The competitor is the same step in a loop, started by this script, under the same
policy. "default": torch's own choice (one thread per core, OpenMP's active waiting). "policy": what mmpx
chooses at start (mmpx.runtime.threads.choose: the tasks running at that moment, so the competitor counts as
soon as it runs and a finished run does not).

Usage: python benchmarks/shared_cpu.py [--steps 3] [--busy-steps 2]

(4 minutes with --steps 2 on 2 cores under a load average of 6; less on an idle machine.)
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

ROOT = Path(__file__).resolve().parent.parent
POLICY_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "MMPX_THREADS", "MMPX_WAIT_POLICY",
               "MMPX_THREAD_POLICY")


def build_step():
    """The quickstart's model and one training step on a random batch."""
    import torch
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules

    import mmpose_ext  # noqa: F401  (registers; MMPose's modules with it)
    from mmpose_ext.config import load_config

    register_all_modules(init_default_scope=True)
    cfg = load_config(str(ROOT / "mmpose_ext" / "configs" / "carpose_quickstart.py"))
    model = MODELS.build(cfg.model).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(32, 3, 96, 96).contiguous(memory_format=torch.channels_last)
    target = torch.rand(32, 8, 24, 24)

    def step() -> None:
        optimizer.zero_grad()
        out = model.head.forward(model.backbone(images))
        torch.nn.functional.mse_loss(out, target).backward()
        optimizer.step()

    return step


def worker(steps: int, ready: Path | None) -> None:
    """In a child: apply the policy when this process has one, time ``steps`` steps (``0``: run until killed)."""
    import torch

    if os.environ.get("MMPX_THREAD_POLICY"):
        from mmpose_ext.engine.cpu import apply_to_torch

        apply_to_torch()
    step = build_step()
    step()  # warm-up: oneDNN's kernels are chosen on the first call
    if ready is not None:
        ready.touch()
    times = []
    while steps == 0 or len(times) < steps:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"s_per_step": statistics.median(times), "threads": torch.get_num_threads(),
                      "wait": os.environ.get("OMP_WAIT_POLICY", "active (default)")}))


def environment(policy: str) -> dict[str, str]:
    from mmpx.runtime.threads import choose, environment

    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if policy == "default":
        return env
    return {**env, **environment(choose(env))}  # as mmpx chooses: the competitor, when there, is running now


def measure(policy: str, busy: bool, steps: int, tmp: Path) -> dict:
    from mmpx.runtime.lifetime import preexec  # the competitor ends with this script, however it ends
    me = [sys.executable, __file__, "--worker"]
    competitor = None
    if busy:
        ready = tmp / f"ready-{policy}"
        competitor = subprocess.Popen([*me, "0", "--ready", str(ready)], env=environment(policy),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec)
        while not ready.exists():
            if competitor.poll() is not None:
                sys.exit(f"the competitor failed (exit {competitor.returncode})")
            time.sleep(0.2)
    try:
        out = subprocess.run([*me, str(steps)], env=environment(policy), capture_output=True, text=True)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    if out.returncode != 0:
        sys.exit(f"the measured process failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps alone (median)")
    parser.add_argument("--busy-steps", type=int, default=2, help="timed steps beside the competitor (median)")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.ready)
        return
    sys.path.insert(0, str(ROOT))
    from mmpx.runtime.threads import usable_cores

    print(f"machine: {usable_cores()} usable cores, load average {os.getloadavg()[0]:.2f} at start")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in ("default", "policy"):
            for busy in (False, True):
                r = measure(policy, busy, args.busy_steps if busy else args.steps, Path(tmp))
                results[policy, busy] = r["s_per_step"]
                print(f"{policy:8s} {'beside one competitor' if busy else 'alone':22s} {r['s_per_step']:.3f} s/step "
                      f"({r['threads']} thread(s), {r['wait'].lower()} waiting)", flush=True)
    for policy in ("default", "policy"):
        print(f"{policy}: beside / alone {results[policy, True] / results[policy, False]:.2f}x")
    print(f"beside one competitor, default / policy: {results['default', True] / results['policy', True]:.2f}x; "
          f"alone: {results['default', False] / results['policy', False]:.2f}x")
    print(f"goal: beside a competitor <= 2.5x the idle step: "
          f"{results['policy', True] / results['default', False]:.2f}x of default-alone")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
