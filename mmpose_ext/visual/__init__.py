"""Drawing helpers shared by ``mmpx infer`` and ``mmpx browse`` (numpy + cv2 only)."""

from mmpose_ext.visual.draw import contact_sheet, draw_heatmap, draw_pose

__all__ = ["draw_pose", "draw_heatmap", "contact_sheet"]
