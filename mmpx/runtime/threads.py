"""How many threads CPU work uses and how they wait, chosen once at start from the cores and the load.

OpenMP threads (torch's intra-op pool) spin while they wait for work; two spinning pools on the same cores starve
each other (a training step beside one other training job took 6.2 s spinning, 1.39 s with passive waiting, on 2
cores; docs/benchmarks/training.md). So by default threads wait passively and there are no more of them than the
cores this process may use that are not already busy (``os.sched_getaffinity`` less the tasks running right now,
:func:`current_load`; the 1-minute load average where the kernel does not say; at least one).

Switches (environment): ``MMPX_THREADS`` a number of threads or ``auto`` (the default); ``MMPX_WAIT_POLICY``
``passive`` (the default) or ``active``. ``OMP_NUM_THREADS`` / ``OMP_WAIT_POLICY`` set by the user are kept when
the mmpx switches are unset. The wait policy is read by OpenMP when torch is imported, so :func:`apply_env` must
run before that: ``mmpx`` calls it first thing, and ``import mmpx.api`` does. Applying the thread counts to torch
is the library's half (``mmpose_ext.engine.cpu``); ONNX Runtime sessions take :func:`session_options`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, replace

from mmpx.errors import MmpxError

MARK = "MMPX_THREAD_POLICY"  # what apply_env chose, for the run's header and for processes started later
_WAITS = ("passive", "active")


@dataclass(frozen=True)
class ThreadPolicy:
    """Threads for torch's intra-op pool (and ONNX Runtime's), its inter-op pool, and how idle threads wait."""

    threads: int
    interop: int
    wait: str  # "passive" or "active"
    cores: int  # the cores this process may use
    load: float  # the load it was chosen beside (current_load: the tasks running then)
    source: str  # "auto", or the switch that decided the thread count

    def reason(self) -> str:
        """Why this many threads: ``auto: 2 cores, load 0.31`` or the switch that set them."""
        return f"auto: {self.cores} cores, load {self.load:.2f}" if self.source == "auto" else self.source

    def describe(self) -> str:
        """One line: ``2 threads, passive waiting (auto: 2 cores, load 0.31)``."""
        return f"{self.threads} thread{'s' if self.threads != 1 else ''}, {self.wait} waiting ({self.reason()})"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or ``taskset``'s limit included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def load_average() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def running_others(samples: int = 5) -> int | None:
    """Tasks running or waiting for a core right now besides this one: ``procs_running`` of ``/proc/stat``, the
    median of ``samples`` reads 4 ms apart (a task that only passes by is not counted); None where the kernel does
    not say."""
    import time

    seen = []
    for i in range(samples):
        try:
            with open("/proc/stat", encoding="ascii") as f:
                seen += [int(line.split()[1]) for line in f if line.startswith("procs_running")]
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(0.004)
    return max(0, sorted(seen)[len(seen) // 2] - 1) if seen else None


def current_load() -> float:
    """The load this process starts beside: the tasks running right now (:func:`running_others`), else the
    1-minute load average. The average lags by a minute or more both ways: a job that has just ended (the ``mmpx
    convert`` before this ``mmpx train``) still counts in it, one started seconds ago does not yet."""
    now = running_others()
    return load_average() if now is None else float(now)


def free_cores(cores: int, load: float) -> int:
    """Cores not already busy: ``cores`` less the load, rounded, at least one."""
    return max(1, min(cores, cores - int(load + 0.5)))


def _count(name: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if number < 1:
        raise MmpxError(f"environment variable {name}={value!r} is not a thread count",
                        f"set {name} to a whole number >= 1, or unset it (or 'auto') to choose from the cores")
    return number


def _wait(name: str, value: str) -> str:
    wait = value.strip().lower()
    if wait not in _WAITS:
        raise MmpxError(f"environment variable {name}={value!r} is not a wait policy",
                        f"set {name} to 'passive' or 'active', or unset it")
    return wait


def choose(env: Mapping[str, str] | None = None, cores: int | None = None, load: float | None = None,
           share: int = 1) -> ThreadPolicy:
    """The policy for this process. ``share``: processes that split the free cores between them (torchrun's
    children, the test suite's workers), each getting an equal part."""
    env = os.environ if env is None else env
    cores = usable_cores() if cores is None else cores
    load = round(current_load() if load is None else load, 2)
    threads, source = max(1, free_cores(cores, load) // max(1, share)), "auto"
    for name in ("MMPX_THREADS", "OMP_NUM_THREADS"):
        value = env.get(name, "").strip()
        if value and value.lower() != "auto":
            threads, source = _count(name, value), f"{name}={value}"
            break
    wait = "passive"
    for name in ("MMPX_WAIT_POLICY", "OMP_WAIT_POLICY"):
        if env.get(name, "").strip():
            wait = _wait(name, env[name])
            break
    return ThreadPolicy(threads=threads, interop=1 if threads <= 2 else 2, wait=wait, cores=cores, load=load,
                        source=source)


def apply_env(env: MutableMapping[str, str] | None = None, share: int = 1) -> ThreadPolicy:
    """Choose the policy and write it where OpenMP, MKL and child processes read it, unless this process or its
    parent already did (``MMPX_THREAD_POLICY``: a child of an mmpx process keeps its parent's choice).

    ``share``: this process is one of that many that split the cores (its parent's choice, when there is one).
    """
    env = os.environ if env is None else env
    inherited = chosen(env)
    policy = choose(env, share=share) if inherited is None else split(inherited, share)
    if policy != inherited:
        env.update(environment(policy))
    return policy


def split(policy: ThreadPolicy, processes: int) -> ThreadPolicy:
    """Each one's part when ``processes`` processes (torchrun's children) share the policy's threads."""
    threads = max(1, policy.threads // max(1, processes))
    return replace(policy, threads=threads, interop=1 if threads <= 2 else 2)


def environment(policy: ThreadPolicy) -> dict[str, str]:
    """The environment variables that carry ``policy`` to OpenMP, MKL and processes started later."""
    count = str(policy.threads)
    return {"OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count, "MMPX_THREADS": count,
            "OMP_WAIT_POLICY": policy.wait.upper(),
            MARK: f"{count},{policy.interop},{policy.wait},{policy.cores},{policy.load:.2f},{policy.source}"}


def chosen(env: Mapping[str, str] | None = None) -> ThreadPolicy | None:
    """The policy :func:`apply_env` chose in this process or a parent, or None."""
    env = os.environ if env is None else env
    try:
        threads, interop, wait, cores, load, source = env[MARK].split(",", 5)
        return ThreadPolicy(int(threads), int(interop), wait, int(cores), float(load), source)
    except (KeyError, ValueError):
        return None


def current() -> ThreadPolicy:
    """The policy in force: the one applied, else what would be chosen now."""
    return chosen() or choose()


def session_options(threads: int | None = None):
    """ONNX Runtime session options under the policy: ``threads`` (default: the policy's) intra-op threads, one
    inter-op thread, and no spinning between runs when the policy waits passively."""
    import onnxruntime as ort

    policy = current()
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or policy.threads)
    options.inter_op_num_threads = 1
    if policy.wait == "passive":
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


__all__ = ["MARK", "ThreadPolicy", "apply_env", "choose", "chosen", "current", "environment", "free_cores",
           "session_options", "split", "usable_cores"]
