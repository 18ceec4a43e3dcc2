"""Ordinary trouble with the machine is one line with its own hint, not "this is unexpected; report it"."""

from __future__ import annotations

import errno

import pytest

from mmpx.cli._errors import environment_error


@pytest.mark.parametrize("exc, message, hint", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/out/m.onnx"), "no space left on the device while "
     "writing /data/out/m.onnx", "free some space"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/x"), "/ro/x is on a read-only file system", "somewhere"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), "permission denied: /root/x", "permissions"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "a/b"), "a/b: Not a directory (a file or folder is in "
     "the way)", "remove it"),
    (KeyError("'MyNet is not in the mmpose::model registry. Please check whether the value of `MyNet` is correct"),
     "unknown type 'MyNet' in the config (mmpose::model registry)", "mmpx plugins list"),
    (OSError("<urlopen error [Errno -3] Temporary failure in name resolution>"), "no network", "local file"),
])
def test_environment_errors(exc, message, hint):
    got = environment_error(exc)
    assert got is not None and message in got[0] and hint in got[1]


def test_wrapped_errors_are_found_and_bugs_are_not_hidden():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/x")
        except OSError as inner:
            raise RuntimeError("save failed") from inner
    except RuntimeError as outer:
        assert environment_error(outer)[0].startswith("no space left")
    assert environment_error(ZeroDivisionError("division by zero")) is None
    assert environment_error(KeyError("nothing")) is None


def test_ctrl_c_wrapped_by_python_is_still_an_interrupt(capsys):
    # Ctrl-C landing inside a class body's __set_name__ (say, while rich is being imported) reaches the command line
    # as "RuntimeError: Error calling __set_name__ ..." caused by the KeyboardInterrupt: exit 130, one line
    from mmpx.cli._errors import fail

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance 'buffer'") from interrupt
    except RuntimeError as wrapped:
        with pytest.raises(SystemExit) as done:
            fail(wrapped, None)
    assert done.value.code == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "unexpected" not in err and "__set_name__" not in err
