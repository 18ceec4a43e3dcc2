"""The ``mmpx`` command line: one module per command or group, composed in :mod:`mmpx.cli.main`.

Commands are thin: they parse options and call a plain function that does the work. torch, mmengine and mmpose
are imported inside the commands that need them, so ``mmpx --help`` starts fast.
"""
