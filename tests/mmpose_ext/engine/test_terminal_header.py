"""On a terminal `mmpx train` shows a short header and the progress bar, not the environment and config dumps
(about 750 lines that scrolled past); the log file in the work dir stays complete."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from tests.helpers import write_tiny_config

pytestmark = pytest.mark.stack
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _run_on_a_terminal(args: list[str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "mmpx", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=600), ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_terminal_shows_a_short_header_and_the_log_file_everything(tmp_path, tiny_coco):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=1)
    code, shown = _run_on_a_terminal(["train", str(config), "--work-dir", str(tmp_path / "w")])
    assert code == 0, shown[-3000:]
    lines = [line for line in shown.splitlines() if line.strip()]
    assert len(lines) < 40, f"{len(lines)} lines on the terminal:\n" + "\n".join(lines[:60])
    assert "Config:" not in shown and "System environment" not in shown and "FileClient" not in shown
    for text in (f"config   {config}", f"work dir {tmp_path / 'w'}", "data     train 6 samples, val 6 samples",
                 "M parameters, on cpu", "log      "):
        assert text in shown, (text, shown[-3000:])
    log = next((tmp_path / "w").glob("2*/2*.log")).read_text()
    assert "Config:" in log and "System environment" in log and "Epoch(train)" in log
    assert '"FileClient" will be deprecated' in log  # mmengine's notice: off the terminal, still in the log
