"""MMPose's visualization imports torchvision for one helper, and no CPU torchvision fits torch 2.13 here.

``mmpose.visualization.simcc_vis`` does ``from torchvision.transforms import ToPILImage``, so
``register_all_modules()`` (and any config that builds a visualizer) fails without a working torchvision. Where
torchvision is missing or broken (a CUDA build next to CPU torch fails on import), ``mmpose.visualization`` is
imported once with a temporary ``torchvision.transforms`` that provides only ``ToPILImage``; the stand-in is
removed again right after, so nothing else ever sees a fake torchvision. A working torchvision is used as is.

Libraries that probe for torchvision must not run while the stand-in is there: transformers (which
``mmengine.optim`` imports for Adafactor) calls ``importlib.util.find_spec('torchvision')`` at import, which
raises on a module without a spec and would otherwise record torchvision as installed. So ``mmengine.optim`` is
imported first, in the real world, and the stand-in carries a spec in case anything else probes during the window.
"""

from __future__ import annotations

import functools
import importlib.machinery
import sys
import types

import numpy as np

from mmpose_ext.compat._fix import Fix


class ToPILImage:
    """What MMPose uses of ``torchvision.transforms.ToPILImage``: a CxHxW / HxW tensor or HxWxC array to PIL.

    Float tensors are scaled by 255 and cast to uint8, as torchvision does.
    """

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image

        if hasattr(pic, "detach"):  # a torch tensor, CxHxW or HxW
            tensor = pic.detach().cpu()
            if tensor.ndim == 2:
                tensor = tensor.unsqueeze(0)
            if tensor.is_floating_point() and self.mode != "F":
                tensor = tensor.mul(255).byte()
            array = tensor.permute(1, 2, 0).numpy()
        else:
            array = np.asarray(pic)
            if array.ndim == 2:
                array = array[:, :, None]
        if array.shape[2] == 1:
            return Image.fromarray(array[:, :, 0], mode=self.mode)
        return Image.fromarray(array, mode=self.mode)


@functools.cache
def _needed() -> bool:
    try:
        import torchvision.transforms  # noqa: F401
    except Exception:  # ImportError when absent, RuntimeError for a CUDA build next to CPU torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]  # leave no half-imported torchvision behind
        return True
    return False


def _patch() -> str:
    if "mmpose.visualization" in sys.modules:
        return "mmpose.visualization was imported before mmpose_ext; nothing to do"
    import mmengine.optim  # noqa: F401  (imports transformers, if installed, before the stand-in exists)

    shim = types.ModuleType("torchvision")
    shim.__spec__ = importlib.machinery.ModuleSpec("torchvision", None, is_package=True)
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__spec__ = importlib.machinery.ModuleSpec("torchvision.transforms", None)
    transforms.ToPILImage = ToPILImage
    shim.transforms = transforms
    saved = {
        name: sys.modules.pop(name)
        for name in ("torchvision", "torchvision.transforms")
        if name in sys.modules
    }
    sys.modules.update({"torchvision": shim, "torchvision.transforms": transforms})
    try:
        import mmpose.visualization  # noqa: F401
    finally:
        for name in ("torchvision", "torchvision.transforms"):
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return "mmpose.visualization imported with a stand-in ToPILImage (torchvision missing or broken)"


FIX = Fix(
    name="torchvision",
    summary="mmpose.visualization imports without a working torchvision",
    needed=_needed,
    patch=_patch,
)
