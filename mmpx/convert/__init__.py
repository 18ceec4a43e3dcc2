"""Dataset converters to COCO keypoints plus an MMPose metainfo file (and back to YOLO); DeepLabCut, SLEAP,
Label Studio and NWB files through sleap-io (the ``formats`` extra, imported only when one is converted).

Pure Python (json, os; PIL only where image sizes are read): ``mmpx convert`` must start fast and never
import torch, mmengine or mmpose. Each converter is a plain function returning a
:class:`~mmpx.convert.summary.Report`; ``mmpx/cli/convert.py`` wraps them as commands.
"""

from __future__ import annotations

from mmpx.convert.labelme import convert_labelme
from mmpx.convert.labelme_append import append_labelme
from mmpx.convert.sleapio import convert_sleapio
from mmpx.convert.sleapio_append import append_sleapio
from mmpx.convert.summary import Report
from mmpx.convert.to_yolo import convert_to_yolo
from mmpx.convert.yolo import convert_yolo

__all__ = ["Report", "append_labelme", "append_sleapio", "convert_labelme", "convert_sleapio", "convert_to_yolo",
           "convert_yolo"]
