"""Drawing poses, heatmaps and contact sheets on BGR images with numpy and OpenCV only (no torch, no matplotlib);
``mmpose_ext.visual`` adds what needs MMPose's data samples."""
