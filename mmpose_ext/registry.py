"""MMPose's registries, re-exported. mmpose-ext adds to them and never makes its own.

mmengine looks a type up in a registry and its parents, never its children, so a separate scope would force a
prefix on every type name in a config. Registering straight into MMPose's registries (as MMPose's own
``projects/`` do) lets any MMPose config use mmpose-ext's classes by their plain names.
"""

from mmpose.registry import (
    DATA_SAMPLERS,
    DATASETS,
    EVALUATORS,
    HOOKS,
    KEYPOINT_CODECS,
    METRICS,
    MODELS,
    OPTIMIZERS,
    PARAM_SCHEDULERS,
    TRANSFORMS,
    VISUALIZERS,
)

__all__ = [
    "DATA_SAMPLERS",
    "DATASETS",
    "EVALUATORS",
    "HOOKS",
    "KEYPOINT_CODECS",
    "METRICS",
    "MODELS",
    "OPTIMIZERS",
    "PARAM_SCHEDULERS",
    "TRANSFORMS",
    "VISUALIZERS",
]
