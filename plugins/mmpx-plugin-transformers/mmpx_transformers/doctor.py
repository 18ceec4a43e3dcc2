"""The plugin's ``mmpx doctor`` row: transformers imports and ``AutoBackbone`` builds a tiny ConvNeXt."""

from __future__ import annotations


def autobackbone_builds() -> str:
    """Build a 1-block-per-stage ConvNeXt from a config (nothing downloads) and run it on an 32x32 input.

    Returns:
        ``"transformers 5.x.y, AutoBackbone builds convnext"``.

    Raises:
        Exception: from the import, the build or the forward pass, saying what failed.
    """
    import torch
    import transformers

    from mmpx_transformers.hf import build_backbone

    model, _ = build_backbone("convnext", dict(hidden_sizes=[8, 8, 8, 8], depths=[1, 1, 1, 1]), (-1,))
    with torch.no_grad():
        (out,) = model.eval()(torch.zeros(1, 3, 32, 32)).feature_maps
    if tuple(out.shape) != (1, 8, 1, 1):
        raise RuntimeError(f"AutoBackbone's ConvNeXt returned a map of shape {tuple(out.shape)}, "
                           "not (1, 8, 1, 1)")
    return f"transformers {transformers.__version__}, AutoBackbone builds convnext"
