"""Top-down pose inference without torch: inputs (images, folders, videos), box sources, the runner that draws
and writes COCO results. The models it drives are :class:`mmpx.runtime.OnnxPoseModel` (here) and
``mmpose_ext.infer.TorchPoseModel`` (the library); ``mmpx infer`` picks one.
"""
