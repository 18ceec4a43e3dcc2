"""A fork server for the tests' ``mmpx train``/``test``/... runs: the training stack imported once per pytest worker.

Most of a short ``mmpx train`` in a test is importing torch, mmengine, mmcv, mmpose and mmdet (about 5 s here, of an
8 s process; docs/benchmarks/setup.md). This server imports them once (what ``mmpx train`` imports, applying
mmpose-ext's compatibility fixes first) and forks a child per run: the real command line (``python -m mmpx ...``,
through :mod:`runpy`) in a real process with the test's arguments, environment, working directory and ``sys.path``,
its own exit code, stdout and stderr. The child differs from a fresh process only in what happens at import time,
so a run goes through the server only when nothing read at import time differs (:func:`forkable`):

- the command is one that imports the stack anyway (:data:`COMMANDS`); start-up itself (``--version``, torch-free
  commands, import checks) always runs in a fresh process;
- its environment differs from the server's only in variables read at run time, or in what the stack's imports
  write themselves (:func:`_import_time_differences`): not OpenMP's (its wait policy is read when torch loads),
  not ``PYTHONPATH`` nor the plugin switches;
- the server never runs torch work (a forked child of a process that ran OpenMP work can hang) and starts no
  thread (it refuses to serve if one is running after the imports).

``MMPX_TEST_FORK=0`` turns it off (every run a fresh process). Used by :func:`tests.helpers.run`; the server
is started on first use in each worker and dies with it.

Run as a script: ``python tests/forkserver.py SOCKET`` serves on the Unix socket ``SOCKET``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

SWITCH = "MMPX_TEST_FORK"
LOG = "MMPX_TEST_FORK_LOG"  # a file: server starts, served runs and their times, runs of COMMANDS started fresh
COMMANDS = ("train", "test", "quickstart", "export", "publish", "infer")  # commands that import the stack (or
# whose torch-free path the torch-free tier runs fresh anyway)
_PRELOAD = ("mmpose_ext", "mmpose_ext.apis.run", "mmpose.codecs", "mmpose.datasets", "mmpose.engine",
            "mmpose.evaluation", "mmpose.models", "mmpose.visualization")
# read at run time by mmpx and the stack, so a test may set them: the rest of the environment must match the server's
_RUNTIME_KEYS = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM", "TORCH_HOME", "TMPDIR",
                 "PYTEST_CURRENT_TEST",
                 "CUDA_VISIBLE_DEVICES",  # read when CUDA starts, never here
                 # written by imports a test made in the worker, read by modules the server never loads:
                 "TORCHINDUCTOR_CACHE_DIR",  # torch._inductor's (the ONNX export imports it); read when it loads
                 "KMP_INIT_AT_FORK")  # sklearn's and joblib's, for Intel's OpenMP; torch here uses GNU OpenMP
_IMPORT_TIME_MMPX = ("MMPX_WAIT_POLICY", "MMPX_THREAD_POLICY", "MMPX_THREADS", "MMPX_PLUGINS",
                     "MMPX_DISABLE_PLUGIN_AUTOLOAD", "MMPX_BLOCK_PLUGINS", "MMPX_TRACE_PLUGINS", "MMPX_DEBUG")


# ---- the server -------------------------------------------------------------------------------------------------

def _preload() -> None:
    import importlib
    import warnings

    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    for name in _PRELOAD:
        importlib.import_module(name)


def _threads() -> int:
    """Threads of this process, native ones included (a fork copies only the calling one)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def serve(path: str):
    """Serve until the socket is closed; in a forked child, return ``(request, fds)`` for :func:`become`."""
    _preload()
    threads = _threads()
    if threads != 1:  # a fork would lose them, perhaps holding a lock: refuse, the client falls back
        print(f"forkserver: {threads} threads after the imports; not serving", file=sys.stderr, flush=True)
        sys.exit(3)
    import gc

    gc.freeze()  # the children's collections skip what the server imported (else each copies those pages)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    print("ready", json.dumps(dict(os.environ)), flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            try:
                head, fds, _, _ = socket.recv_fds(conn, 8, 3)  # the length and the three streams
                if len(fds) != 3:
                    raise ConnectionError(f"bad request: {len(fds)} file descriptors")
                head += _recv_exact(conn, 8 - len(head))
                request = json.loads(_recv_exact(conn, struct.unpack("!Q", head)[0]))
            except (ConnectionError, OSError, ValueError) as exc:
                print(f"forkserver: {exc}", file=sys.stderr, flush=True)
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.close()
                return request, fds
            for fd in fds:
                os.close(fd)
            try:
                conn.sendall(f"{pid}\n".encode())
            except OSError:
                pass
            _, status = os.waitpid(pid, 0)
            try:
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass


def become(request: dict, fds: list[int]) -> None:
    """In the forked child: take the test's streams, directory, environment and arguments, run as ``python ARGS``
    would (``-m MODULE`` or ``-c CODE``), then end as Python ends (:func:`_end`)."""
    import importlib
    import runpy
    import tempfile

    for fd, target in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, target)
        os.close(fd)
    cwd = request["cwd"]
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # gettempdir() looks at TMPDIR again
    importlib.invalidate_caches()
    for module, reseed in (("numpy", lambda m: m.random.seed()), ("torch", lambda m: m.seed())):
        if module in sys.modules:  # a fresh process starts from fresh entropy; a fork from the server's state
            reseed(sys.modules[module])
    args = request["args"]
    try:
        if args[0] == "-m":
            sys.path[0] = cwd
            sys.argv = [args[1], *args[2:]]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:  # -c CODE
            sys.path[0] = ""
            sys.argv = ["-c", *args[2:]]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exc:
        _end(_exit_status(exc.code))
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        _end(None)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        _end(1)
    _end(0)


def _exit_status(code) -> int:
    """What Python makes of ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _end(status: int | None) -> None:
    """End as Python's own shutdown does, less freeing every object: that teardown, in a fork of the server,
    copies most of its memory page by page (about 5 s here against 1.3 s in a fresh process) and shows nothing.
    Non-daemon threads are waited for, ``atexit`` functions run (logging's, multiprocessing's, mmpx's own) and the
    streams are flushed. ``status`` None: killed by SIGINT, as Python ends on an uncaught KeyboardInterrupt."""
    import atexit
    import signal

    threading._shutdown()  # noqa: SLF001  (what Py_Finalize does first)
    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = 120 if status == 0 else status
    if status is None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        status = 130
    os._exit(status)


# ---- the client (in the pytest worker) --------------------------------------------------------------------------

_BASE_ENV: dict[str, str] = {}  # the server's environment: the worker's, taken by set_base_env()


def set_base_env() -> None:
    """Take the worker's environment as the server's (conftest calls it once the thread policy is applied);
    until then nothing is forkable."""
    _BASE_ENV.clear()
    _BASE_ENV.update(os.environ)


def _import_time_differences(env: dict, imported: dict) -> list[str]:
    """The variables in which ``env`` differs from the server's that are not known to be read at run time.
    ``imported``: the server's environment after its imports; what they wrote there (cv2's Qt paths, OpenMP's
    ``KMP_*``, inductor's cache dir), the worker's own imports wrote too, with the same values."""
    changed = set(env) ^ set(_BASE_ENV) | {k for k in env if k in _BASE_ENV and env[k] != _BASE_ENV[k]}
    return sorted(k for k in changed
                  if k not in _RUNTIME_KEYS and not (k.startswith("MMPX_") and k not in _IMPORT_TIME_MMPX)
                  and env.get(k) != imported.get(k))


def forkable(args: list[str], env: dict) -> bool:
    """Whether ``args`` (a full command line) may run in a child of the server: ``python -m mmpx COMMAND ...``
    with one of :data:`COMMANDS`, an environment that differs only at run time, and the server switched on."""
    if os.environ.get(SWITCH, "1") == "0" or _Server.broken or not _BASE_ENV:
        return False
    if len(args) < 4 or args[0] != sys.executable or args[1:3] != ["-m", "mmpx"]:
        return False
    command = next((a for a in args[3:] if not a.startswith("-")), None)
    if command not in COMMANDS:
        return False
    imported = _Server.environment()
    if imported is None:
        return False
    differences = _import_time_differences(env, imported)
    if differences:
        _log(f"fresh {command}: {differences}")
    return not differences


def _log(line: str) -> None:
    if os.environ.get(LOG):
        with open(os.environ[LOG], "a") as log:
            log.write(f"{os.getpid()} {line} ({os.environ.get('PYTEST_CURRENT_TEST', '')})\n")


class _Server:
    """This worker's server: started on first use, killed when the worker exits."""

    broken = False
    process: subprocess.Popen | None = None
    folder = path = ""
    imported_env: dict = {}
    lock = threading.Lock()

    @classmethod
    def environment(cls) -> dict | None:
        """The server's environment after its imports (starting it), or None when it cannot serve."""
        return cls.imported_env if cls.ensure() else None

    @classmethod
    def ensure(cls) -> str | None:
        if cls.process is not None and cls.process.poll() is None:
            return cls.path
        if cls.broken:
            return None
        import atexit
        import tempfile

        if cls.process is None:
            atexit.register(cls.stop)
        else:  # it died: its folder goes before a new one starts
            cls.stop()
        cls.folder = tempfile.mkdtemp(prefix="mmpx-forkserver-")
        _log(f"server start in {cls.folder}")
        cls.path = os.path.join(cls.folder, "socket")
        with open(os.path.join(cls.folder, "log"), "w") as log:  # not the worker's stderr: pytest captures that
            cls.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), cls.path],
                                           env=_BASE_ENV, cwd=cls.folder, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=log, text=True)
        ready = cls.process.stdout.readline()
        if not ready.startswith("ready "):
            cls.broken = True  # it refused (threads) or failed to import: fresh processes from now on
            cls.stop()
            return None
        cls.imported_env = json.loads(ready[len("ready "):])
        return cls.path

    @classmethod
    def stop(cls) -> None:
        import shutil

        if cls.process is not None and cls.process.poll() is None:
            cls.process.kill()
            cls.process.wait()
        if cls.folder:
            shutil.rmtree(cls.folder, ignore_errors=True)


def _line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def _text(data: bytes) -> str:
    """As ``subprocess.run(..., text=True)`` decodes captured output."""
    import locale

    return data.decode(locale.getencoding()).replace("\r\n", "\n").replace("\r", "\n")


def run(args: list[str], cwd: str | os.PathLike | None, env: dict, timeout: float | None
        ) -> subprocess.CompletedProcess | None:
    """Run ``args`` in a child of the server; None when it cannot serve (the caller starts a fresh process)."""
    import signal
    import tempfile
    import time

    if not _Server.lock.acquire(blocking=False):  # the server runs one child at a time
        _log("busy: fresh")
        return None
    start = time.monotonic()
    try:
        path = _Server.ensure()
        if path is None:
            return None
        request = json.dumps(dict(args=args[1:], env=env, cwd=os.path.abspath(cwd or os.getcwd()))).encode()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                open(os.devnull, "rb") as stdin, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            socket.send_fds(conn, [struct.pack("!Q", len(request))], [stdin.fileno(), out.fileno(), err.fileno()])
            conn.sendall(request)
            pid = _line(conn)
            if not pid:  # the server died before forking: nothing ran
                _Server.broken = True
                return None
            conn.settimeout(timeout)
            try:
                code = _line(conn)
            except TimeoutError:
                os.kill(int(pid), signal.SIGKILL)
                conn.settimeout(None)
                _line(conn)
                out.seek(0)
                err.seek(0)
                raise subprocess.TimeoutExpired(args, timeout, _text(out.read()), _text(err.read())) from None
            if not code:
                raise RuntimeError(f"the tests' fork server died while running {args} (pid {pid.strip()})")
            out.seek(0)
            err.seek(0)
            _log(f"served {' '.join(args[3:5])} in {time.monotonic() - start:.1f} s")
            return subprocess.CompletedProcess(args, int(code), _text(out.read()), _text(err.read()))
    finally:
        _Server.lock.release()


def _main() -> tuple[dict, list[int]]:
    import ctypes
    import shutil
    import signal

    def _terminated(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminated)
    try:  # ended with the pytest worker that started it (SIGTERM: the handler removes the socket's folder)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    child = False
    try:
        served = serve(sys.argv[1])
        child = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a fresh process's default
        return served
    finally:
        if not child:
            shutil.rmtree(os.path.dirname(sys.argv[1]), ignore_errors=True)


if __name__ == "__main__":
    sys.path[0] = os.getcwd()  # not tests/, whose packages (tests/mmpose_ext) would shadow the real ones
    become(*_main())
