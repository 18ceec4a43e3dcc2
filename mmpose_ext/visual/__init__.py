"""Drawing for ``mmpx browse``. The drawing functions moved to the torch-free :mod:`mmpx.draw`."""

from mmpx.draw import contact_sheet, draw_heatmap, draw_pose

__all__ = ["draw_pose", "draw_heatmap", "contact_sheet"]
