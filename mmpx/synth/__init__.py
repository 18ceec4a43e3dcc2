"""Synthetic datasets, drawn with numpy + cv2 only (no torch, no mmpose), for quick starts and tests."""
