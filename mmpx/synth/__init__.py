"""Synthetic datasets, drawn with numpy + cv2 only (no torch, no mmpose), for quick starts and tests: cars
(`carpose`), cars and bicycles as two classes (`street`), and a traffic clip (`traffic`)."""
