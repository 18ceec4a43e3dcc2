"""What a run shows on the terminal while the progress bar is up (``mmpx train`` on a terminal).

The Runner's logger prints the environment and the whole config (hundreds of lines) and libraries ``print``
(xtcocotools' "loading annotations into memory...", COCO evaluation tables): under the bar these go to the run's
log file only, and the terminal keeps :class:`~mmpose_ext.engine.ProgressHook`'s short header, the bar and the
warnings. Both are context managers that change nothing when not ``enabled``.
"""

from __future__ import annotations

import contextlib
import logging

# mmengine's own deprecation notices, printed at WARNING on every start; nothing a user can act on (log file: kept)
NOISE = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias')


class LogFileWriter:
    """A ``sys.stdout`` stand-in that writes to the run's log file(s) only."""

    def __init__(self, handlers) -> None:
        self.handlers = handlers

    def write(self, text: str) -> int:
        for handler in self.handlers:
            with contextlib.suppress(Exception):  # a closed or failing log file must not stop training
                handler.acquire()
                try:
                    handler.stream.write(text)
                finally:
                    handler.release()
        return len(text)

    def flush(self) -> None:
        for handler in self.handlers:
            with contextlib.suppress(Exception):
                handler.flush()


@contextlib.contextmanager
def prints_to_log_file(runner, enabled: bool):
    """What libraries ``print`` goes to the runner's log file instead of the terminal; the logger's own handlers
    are unaffected."""
    if not enabled:
        yield
        return
    files = [h for h in runner.logger.handlers if isinstance(h, logging.FileHandler)]
    with contextlib.redirect_stdout(LogFileWriter(files)):
        yield


def not_noise(record) -> bool:
    message = record.getMessage()
    return not any(text in message for text in NOISE)


@contextlib.contextmanager
def console_warnings_only(runner_cls, enabled: bool):
    """While the Runner is built, its logger's console handlers start at WARNING (mmengine's :data:`NOISE`
    filtered out): the environment and the config then go to the log file only."""
    if not enabled:
        yield
        return
    build = runner_cls.build_logger

    def build_logger(self, *args, **kwargs):
        logger = build(self, *args, **kwargs)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                handler.setLevel(max(handler.level, logging.WARNING))
                handler.addFilter(not_noise)
        return logger

    runner_cls.build_logger = build_logger
    try:
        yield
    finally:
        runner_cls.build_logger = build


__all__ = ["NOISE", "LogFileWriter", "console_warnings_only", "not_noise", "prints_to_log_file"]
