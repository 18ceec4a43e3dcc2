"""Start-up time of `mmpx --help` against MMPose's own `tools/train.py --help` (the baseline).

`mmpx --help` must not import torch or mmengine; target 0.3 s or less. Both commands run alternately in one
process tree, `--repeat` times each, and the medians are compared.

Usage: python benchmarks/cli_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import mmpose

    train_py = Path(mmpose.__file__).parent / ".mim" / "tools" / "train.py"
    mmpx = Path(sys.executable).parent / "mmpx"
    commands = {
        "mmpx --help": [str(mmpx), "--help"],
        "python -m mmpx --help": [sys.executable, "-m", "mmpx", "--help"],
        "mmpose tools/train.py --help (baseline)": [sys.executable, str(train_py), "--help"],
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the file cache once
        wall(cmd)
    for _ in range(args.repeat):
        for name, cmd in commands.items():
            times[name].append(wall(cmd))

    baseline = statistics.median(times["mmpose tools/train.py --help (baseline)"])
    print(f"{'command':44} {'median s':>9} {'min s':>7} {'vs baseline':>12}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:44} {median:9.3f} {min(values):7.3f} {median / baseline:11.2f}x")
    ours = statistics.median(times["mmpx --help"])
    verdict = "meets" if ours <= 0.3 else "MISSES"
    print(
        f"\nmmpx --help: {ours:.3f} s, {baseline / ours:.1f}x faster than the baseline; {verdict} the 0.3 s target"
    )


if __name__ == "__main__":
    main()
