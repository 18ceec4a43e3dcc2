"""Start-up of a training-stack process (what ``mmpx train`` / ``mmpx test`` import before any work:
``mmpose_ext.apis.run``), with Hugging Face transformers deferred (mmpose_ext.compat.defer_transformers) against
the baseline of importing it as the stack did before: the same process with ``transformers``, its ``Adafactor``,
``AutoTokenizer`` and ``BertModel`` imported first, so nothing is deferred. Only meaningful where transformers is
installed (the full venv has it for the transformers plugin). Fresh interpreters, interleaved, median.

    python benchmarks/stack_import.py [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

ROWS = {
    "eager (baseline)": "from transformers import Adafactor, AutoTokenizer, BertModel; import mmpose_ext.apis.run",
    "deferred (mmpx)": "import mmpose_ext.apis.run",
}


def once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("transformers") is None:
        raise SystemExit("transformers is not installed here: nothing is deferred, nothing to compare")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    once(ROWS["deferred (mmpx)"])  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in ROWS}
    for _ in range(args.runs):
        for name, code in ROWS.items():
            times[name].append(once(code))
    base = statistics.median(times["eager (baseline)"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<18} {med:6.2f} s  {med / base:5.2f}x   runs: {', '.join(f'{v:.2f}' for v in values)}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
