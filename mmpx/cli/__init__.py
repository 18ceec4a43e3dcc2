"""The ``mmpx`` command line: one module per command or group, composed in :mod:`mmpx.cli.main`.

A command is its options, one call into :mod:`mmpx.app` (or the core, or the library) and a print. The shared
pieces sit beside them: the loop mounting built-in and plugin commands (``_mount``), option types (``_options``,
``_model_options``, ``_launch``), the output guard (``_guard``), the consoles (``_output``), how a run ends
(``_errors``) and the run's state (``_session``). torch, mmengine and mmpose are imported inside the commands that
need them, so ``mmpx --help`` starts fast.
"""
