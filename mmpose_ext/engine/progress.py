"""``ProgressHook``: a progress display for training (epoch, iteration, loss, ETA) on rank 0.

``mmpx train`` adds it when stderr is a terminal (``--progress`` / ``--no-progress`` force it); from a config::

    custom_hooks = [dict(type='ProgressHook')]

On a terminal it is a short header (config, work dir, data sizes, model size, device, threads, log file) and a rich
progress bar, and the runner's console log lines are held back to warnings while the bar runs (they still go, in
full, to the log file in the work dir; ``mmpx train`` also keeps the environment and config dumps off the
terminal). Elsewhere (a pipe, a CI log) it writes one plain line per epoch instead,
``epoch 2/10 iter 40/200 loss 0.00123 eta 0:01:10``, next to the usual log lines. Other ranks do nothing.
"""

from __future__ import annotations

import logging
import sys
import time

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmpose_ext.registry import HOOKS


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def header(runner) -> str:
    """The few lines a terminal shows before the bar: config, work dir, data, model size, device, threads, log
    file."""
    import torch

    from mmpose_ext.engine.cpu import torch_threads

    def samples(loop) -> str:
        try:
            return str(len(loop.dataloader.dataset))
        except Exception:  # noqa: BLE001 (a loop without a sized dataset)
            return "?"

    model = getattr(runner.model, "module", runner.model)
    params = sum(p.numel() for p in model.parameters())
    device = next(model.parameters()).device if params else torch.device("cpu")
    val = f", val {samples(runner.val_loop)} samples" if getattr(runner, "_val_loop", None) is not None else ""
    log_file = getattr(runner.logger, "log_file", None) or runner.log_dir
    return "\n".join([
        f"config   {getattr(runner.cfg, 'filename', None) or '?'}",
        f"work dir {runner.work_dir}",
        f"data     train {samples(runner.train_loop)} samples{val}",
        f"model    {type(model).__name__}, {params / 1e6:.2f} M parameters, on {device}",
        f"threads  {torch_threads()}",
        f"log      {log_file} (environment, config and every log line)",
    ])


@HOOKS.register_module()
class ProgressHook(Hook):
    """Show training progress on stderr (rank 0 only).

    Args:
        bar: ``True`` a live bar, ``False`` plain lines; default: a bar when stderr is a terminal.
        quiet_console: while the bar runs, raise the runner logger's console handlers to WARNING (the log file
            keeps everything). Only applies to the bar: plain lines sit among the log lines.
    """

    priority = "VERY_LOW"  # after the logger and timer hooks in each after_train_iter

    def __init__(self, bar: bool | None = None, quiet_console: bool = True):
        self.bar = bar
        self.quiet_console = quiet_console
        self._progress = None
        self._task = None
        self._quieted: list[tuple[logging.Handler, int]] = []
        self._start = None
        self._start_iter = 0
        self._loss = None

    # -- helpers --

    def _active(self) -> bool:
        return is_main_process()

    def _status(self, runner, epoch: int, done: int) -> str:
        """``epoch E/N iter I/M loss L eta H:MM:SS``; ``epoch`` and ``done`` count finished ones (1-based)."""
        loss = "?" if self._loss is None else f"{self._loss:.4g}"
        eta = "?"
        if self._progress is not None:  # the bar has its own ETA column
            eta = None
        elif done > self._start_iter and self._start is not None:
            per_iter = (time.perf_counter() - self._start) / (done - self._start_iter)
            eta = _clock(per_iter * (runner.max_iters - done))
        by_epoch = type(runner.train_loop).__name__ != "IterBasedTrainLoop"
        head = f"epoch {epoch}/{runner.max_epochs} " if by_epoch else ""
        return f"{head}iter {done}/{runner.max_iters} loss {loss}" + ("" if eta is None else f" eta {eta}")

    def _restore_console(self) -> None:
        for handler, level in self._quieted:
            handler.setLevel(level)
        self._quieted = []

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._restore_console()

    # -- hook points --

    def before_train(self, runner) -> None:
        if not self._active():
            return
        from rich.console import Console

        console = Console(stderr=True)
        use_bar = console.is_terminal if self.bar is None else self.bar
        self._start, self._start_iter = time.perf_counter(), runner.iter
        if not use_bar:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]} eta"),
            TimeRemainingColumn(),
            console=console,
            redirect_stdout=False,  # the logger's handlers hold the real stdout; see quiet_console
            redirect_stderr=False,
            refresh_per_second=4,  # redraws run in rich's own thread; 4 a second is plenty for a training run
        )
        console.print(header(runner), highlight=False, markup=False)
        status = self._status(runner, runner.epoch, runner.iter)
        self._task = self._progress.add_task("train", total=runner.max_iters, completed=runner.iter, status=status)
        if self.quiet_console:
            for handler in runner.logger.handlers:
                if type(handler) is logging.StreamHandler and handler.level < logging.WARNING:
                    self._quieted.append((handler, handler.level))
                    handler.setLevel(logging.WARNING)
        self._progress.start()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._active():
            return
        # RuntimeInfoHook (priority VERY_HIGH) already turned the loss into a float: no second device sync here
        scalars = runner.message_hub.log_scalars
        if "train/loss" in scalars:
            self._loss = scalars["train/loss"].current()
        # the loop counts this iteration (and epoch) after the hooks ran
        status = self._status(runner, runner.epoch + 1, runner.iter + 1)
        if self._progress is not None:
            self._progress.update(self._task, completed=runner.iter + 1, status=status)
        elif type(runner.train_loop).__name__ == "IterBasedTrainLoop":  # no epochs: a line every tenth of the run
            step = max(1, runner.max_iters // 10)
            if (runner.iter + 1) % step == 0 or runner.iter + 1 == runner.max_iters:
                print(status, file=sys.stderr, flush=True)

    def after_train_epoch(self, runner) -> None:
        if self._active() and self._progress is None:
            print(self._status(runner, runner.epoch + 1, runner.iter), file=sys.stderr, flush=True)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not self._active() or not metrics:
            return
        shown = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        line = f"val epoch {runner.epoch}: {shown}"
        if self._progress is not None:
            self._progress.console.print(line, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def after_train(self, runner) -> None:
        if self._active():
            self._stop()

    def after_run(self, runner) -> None:
        self._stop()
