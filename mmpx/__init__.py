"""mmpx: the command line and the light core of mmpose-ext.

Importing this package is cheap on purpose: it holds the CLI, errors and the plugin host, none of which import
torch, mmengine or mmpose at import time. The registering library is :mod:`mmpose_ext`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
