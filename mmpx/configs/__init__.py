"""Configs by name and by path: the shipped configs (and plugins' ones) found by a short name from any folder,
``_base_ = ['mmpx::NAME']``, and the file behind any config argument (a path, a name, ``PACKAGE::inner/path.py``).
Reading a config needs mmengine and lives in the library (``mmpose_ext.config``); finding its file does not.
``new`` and ``new_text``: the choices and the text of ``mmpx configs new``, a config for any keypoint set.
"""
