"""__DIST__: __WHAT__.

Importing the package is light (no torch, no mmpose): ``mmpx --help`` loads ``__PKG__.plugin``.
"""

__version__ = "0.1.0"
