"""__DIST__: an mmpose-ext plugin; README.md says what it adds.

Importing the package is light (no torch, no mmpose): ``mmpx --help`` loads ``__PKG__.plugin``.
"""

__version__ = "0.1.0"
