"""Model primitives the rest of the library builds on: the backbone protocol (what a backbone returns and
declares, measured with one forward pass, and the head checks preflight runs on it) and whether a checkpoint
fits a model (every parameter present with its shape, so that no run goes on with random weights). Below
``engine`` and ``apis``: both import it, it imports neither, and torch is imported only where a function needs it.
``models.visibility`` (imported by ``import mmpose_ext``, not here) registers ``VisibilityHead``, the head that
``mmpx configs new --visibility`` wraps around a pose head.
"""

from mmpose_ext.models.backbone import BackboneOutputs, declared_stages, head_problems, measure
from mmpose_ext.models.checkpoint_fit import check_checkpoint_fits, check_fits, read_checkpoint, state_dict_of

__all__ = [
    "BackboneOutputs",
    "check_checkpoint_fits",
    "check_fits",
    "declared_stages",
    "head_problems",
    "measure",
    "read_checkpoint",
    "state_dict_of",
]
