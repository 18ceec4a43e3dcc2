"""How much faster is the mmcv 2.1.0 ops build without debug info (`-g0`), and is the code the same?

What it measures: `scripts/setup.sh` builds mmcv 2.1.0 from its sdist with compiled ops
(`MMCV_WITH_OPS=1 pip wheel --no-deps --no-build-isolation mmcv==2.1.0`), 77 C++ files, each of which includes
torch's heavy headers. torch's BuildExtension compiles them with ninja, using Python's sysconfig CFLAGS
(`-Wsign-compare -DNDEBUG -g -fwrapv -O3 -Wall`), so every object carries full debug info (`-g`).
This script compiles N representative mmcv op sources one at a time with exactly the compile command of that build
and with the same command plus `-g0`, interleaved per round (A, B, A, B, ...: the machine may be busy with other
work), and prints per file wall and CPU seconds for both, the total ratios, the object sizes, and whether the code
is the same (objects with `strip --strip-debug` compared byte for byte, and `objdump -d` of the code compared).

Baseline (A): today's build, Python's default CFLAGS, as `setup.sh` runs it.
Candidate (B): the same build run with `CFLAGS="<Python's sysconfig CFLAGS> -g0"`.

The compile commands are not reconstructed by hand: the script runs the sdist's own `setup.py build_ext` under
this interpreter (the project's venv: same torch, setuptools, compiler), once per variant, with torch's ninja step
replaced by a stop, and reads the generated `build.ninja` (its `cxx`, `cflags`, `post_cflags` and `compile` rule).
Note: setuptools (80.x here) takes an environment CFLAGS *instead of* sysconfig's CFLAGS, it does not append it, so
`CFLAGS=-g0` alone would drop `-O3 -DNDEBUG` and change the code; the script prints that variant's flags too.

Get the sdist (downloads, installs nothing):
    .venv/bin/pip download --no-deps --no-binary :all: mmcv==2.1.0 -d /tmp/mmcv_sdist
Run:
    .venv/bin/python benchmarks/mmcv_build.py --sdist /tmp/mmcv_sdist/mmcv-2.1.0.tar.gz   # or the extracted folder
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

# Representative sources, relative to mmcv/ops/csrc/pytorch: the binding file (every op's declaration, the largest),
# two small dispatchers, and the largest CPU kernel files. --files N takes the first N.
FILES = [
    "pybind.cpp",
    "nms.cpp",
    "cpu/roi_align.cpp",
    "cpu/modulated_deform_conv.cpp",
    "deform_conv.cpp",
    "cpu/nms.cpp",
]

# Runs mmcv's setup.py build_ext with torch's ninja run replaced by a stop: build.ninja is written, nothing compiled.
GENERATOR = r"""
import runpy, sys
import torch.utils.cpp_extension as ce
class _Stop(Exception):
    pass
def _stop(build_directory, verbose, error_prefix):
    raise _Stop
ce._run_ninja_build = _stop
out = sys.argv[1]
sys.argv = ["setup.py", "build_ext", "--build-temp", out, "--build-lib", out + "/lib"]
try:
    runpy.run_path("setup.py", run_name="__main__")
except _Stop:
    pass
"""


def ninja_command(src_dir: Path, work: Path, name: str, env_update: dict[str, str]) -> tuple[list[str], str]:
    """The compile command (with {in} and {out} placeholders) the sdist's build uses, and its cflags line."""
    out = work / f"ninja-{name}"
    env = {k: v for k, v in os.environ.items() if k not in ("CFLAGS", "CXXFLAGS", "CPPFLAGS")}
    env.update(MMCV_WITH_OPS="1", FORCE_CUDA="0", **env_update)
    subprocess.run([sys.executable, "-c", GENERATOR, str(out)], cwd=src_dir, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    text = (out / "build.ninja").read_text()
    var: dict[str, str] = {}
    rule = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("rule compile"):
            rule = lines[i + 1].split("=", 1)[1].strip()
        elif " = " in line and not line.startswith((" ", "build ")):
            k, v = line.split(" = ", 1)
            var[k.strip()] = v.strip()
    assert rule == "$cxx -MMD -MF $out.d $cflags -c $in -o $out $post_cflags", rule
    # cflags ends in "-c" already in torch's file; the rule adds another -c: keep the command exactly as ninja runs it
    cmd = ([var["cxx"], "-MMD", "-MF", "{out}.d"] + shlex.split(var["cflags"]) + ["-c", "{in}", "-o", "{out}"]
           + shlex.split(var["post_cflags"]))
    return cmd, var["cflags"]


def compile_once(cmd: list[str], src: Path, obj: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user+sys of the compiler) of one compile."""
    argv = [a.replace("{in}", str(src)).replace("{out}", str(obj)) for a in cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)  # torch's headers warn a lot under -std=c++17
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"compile failed:\n{shlex.join(argv)}\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def same_code(a: Path, b: Path, work: Path) -> tuple[bool, bool]:
    """(stripped objects byte-identical, objdump -d identical)."""
    sa, sb = work / "strip-a.o", work / "strip-b.o"
    subprocess.run(["strip", "--strip-debug", "-o", str(sa), str(a)], check=True)
    subprocess.run(["strip", "--strip-debug", "-o", str(sb), str(b)], check=True)
    stripped = sa.read_bytes() == sb.read_bytes()

    def dis(p: Path) -> list[str]:
        out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(p)], check=True, capture_output=True,
                             text=True).stdout.splitlines()
        return [line for line in out if not line.strip().endswith("file format elf64-x86-64") and str(p) not in line]

    raw = lambda p: subprocess.run(["objdump", "-d", str(p)], check=True, capture_output=True,  # noqa: E731
                                   text=True).stdout.split("\n", 2)[2]
    disasm = dis(a) == dis(b) and raw(a) == raw(b)
    return stripped, disasm


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sdist", required=True, help="mmcv-2.1.0.tar.gz or the folder it extracts to")
    ap.add_argument("--files", type=int, default=4, help=f"how many of {FILES} (default 4)")
    ap.add_argument("--rounds", type=int, default=2, help="A/B rounds (default 2)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mmcv_build_bench_"))
    sdist = Path(args.sdist).resolve()
    if sdist.is_file():
        with tarfile.open(sdist) as tf:
            tf.extractall(work, filter="data")
        src_dir = next(work.glob("mmcv-*"))
    else:
        src_dir = sdist
    assert (src_dir / "setup.py").is_file(), f"no setup.py in {src_dir}"
    csrc = src_dir / "mmcv/ops/csrc/pytorch"
    files = FILES[: args.files]

    py_cflags = sysconfig.get_config_var("CFLAGS")
    cmd_a, cflags_a = ninja_command(src_dir, work, "a", {})
    cmd_b, cflags_b = ninja_command(src_dir, work, "b", {"CFLAGS": f"{py_cflags} -g0"})
    _, cflags_naive = ninja_command(src_dir, work, "naive", {"CFLAGS": "-g0"})
    _, cflags_cxx = ninja_command(src_dir, work, "cxx", {"CXXFLAGS": "-g0"})
    print(f"python {sys.version.split()[0]}, sysconfig CFLAGS: {py_cflags}")
    print(f"compiler: {subprocess.run([cmd_a[0], '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    print("A (today) cflags:                 ", cflags_a)
    print("B (CFLAGS='<sysconfig> -g0') cflags:", cflags_b)
    print("   CFLAGS='-g0' alone would give:  ", cflags_naive)
    print("   CXXFLAGS='-g0' gives:           ", cflags_cxx, "(unchanged)" if cflags_cxx == cflags_a else "(changed)")
    diff = [x for x in shlex.split(cflags_b) if x not in shlex.split(cflags_a)]
    assert shlex.split(cflags_b) == shlex.split(cflags_a.replace(" -fPIC", " -g0 -fPIC", 1)), diff
    print("B differs from A only by:", diff)
    print("A compile command:", shlex.join(cmd_a))
    print()

    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    print(f"{args.rounds} rounds x {len(files)} files x 2 variants, one compile at a time; load average {load()}")
    for r in range(args.rounds):
        for f in files:
            for name, cmd in (("A", cmd_a), ("B", cmd_b)):
                obj = work / f"{name}-{f.replace('/', '_')}.o"
                wall, cpu = compile_once(cmd, csrc / f, obj)
                res.setdefault((f, name), []).append((wall, cpu))
                print(f"  round {r + 1} {name} {f:32s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  (load {load()})",
                      flush=True)

    print()
    print(f"{'file':32s} {'A wall':>7s} {'B wall':>7s} {'B/A':>5s}   {'A cpu':>7s} {'B cpu':>7s} {'B/A':>5s}   "
          f"{'A .o MB':>8s} {'B .o MB':>8s} {'B/A':>5s}  stripped==  objdump==")
    tot = dict.fromkeys(("Aw", "Bw", "Ac", "Bc", "As", "Bs"), 0.0)
    all_same = True
    for f in files:
        a_w = sum(w for w, _ in res[(f, "A")]) / args.rounds
        b_w = sum(w for w, _ in res[(f, "B")]) / args.rounds
        a_c = sum(c for _, c in res[(f, "A")]) / args.rounds
        b_c = sum(c for _, c in res[(f, "B")]) / args.rounds
        oa, ob = work / f"A-{f.replace('/', '_')}.o", work / f"B-{f.replace('/', '_')}.o"
        sa, sb = oa.stat().st_size / 1e6, ob.stat().st_size / 1e6
        stripped, disasm = same_code(oa, ob, work)
        all_same &= stripped and disasm
        for k, v in zip(("Aw", "Bw", "Ac", "Bc", "As", "Bs"), (a_w, b_w, a_c, b_c, sa, sb), strict=True):
            tot[k] += v
        print(f"{f:32s} {a_w:7.1f} {b_w:7.1f} {b_w / a_w:5.2f}   {a_c:7.1f} {b_c:7.1f} {b_c / a_c:5.2f}   "
              f"{sa:8.2f} {sb:8.2f} {sb / sa:5.2f}  {str(stripped):10s}  {disasm}")
    print(f"{'total (mean of rounds)':32s} {tot['Aw']:7.1f} {tot['Bw']:7.1f} {tot['Bw'] / tot['Aw']:5.2f}   "
          f"{tot['Ac']:7.1f} {tot['Bc']:7.1f} {tot['Bc'] / tot['Ac']:5.2f}   "
          f"{tot['As']:8.2f} {tot['Bs']:8.2f} {tot['Bs'] / tot['As']:5.2f}")
    print(f"code identical (strip --strip-debug bytes and objdump -d): {all_same}")
    print(f"load average at end: {load()}; objects kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
