"""MMPose's ``Albumentation`` transform (in every RTMPose config) on albumentations 2.

MMPose 1.3.2 was written for albumentations 1.x. On 2.x its builder fails (it probes
``albumentations.augmentations.transforms``, which 2.x no longer has), and the arguments RTMPose configs pass to
``CoarseDropout`` (``max_holes``, ``max_height``, ...) and ``GridDropout`` (``unit_size_min/max``) were renamed:
albumentations 2 only warns and drops them, so the augmentation would silently become another one. The fix
replaces ``Albumentation.albu_builder``: the 1.x names are translated to the 2.x ones (same meaning, same
defaults), any other argument albumentations 2 rejects is a clear error, and published configs run unchanged.
albumentations 2 also draws from a generator of its own, out of mmengine's reach: each call reseeds it from
NumPy's, so a seeded run repeats as it did with 1.x.
"""

from __future__ import annotations

import importlib.metadata
import warnings

from mmpose_ext.compat._fix import Fix

PIN = "albumentations==2.0.8"
# 1.x range arguments -> the 2.x tuple argument; a missing minimum defaulted to the maximum in 1.x
RANGES = {
    "CoarseDropout": {"num_holes_range": ("min_holes", "max_holes"),
                      "hole_height_range": ("min_height", "max_height"),
                      "hole_width_range": ("min_width", "max_width")},
    "GridDropout": {"unit_size_range": ("unit_size_min", "unit_size_max")},
}
RENAMED = {"fill_value": "fill", "mask_fill_value": "fill_mask"}


def _version() -> str | None:
    try:
        return importlib.metadata.version("albumentations")
    except importlib.metadata.PackageNotFoundError:
        return None


def _needed() -> bool:
    version = _version()
    return version is not None and int(version.split(".")[0]) >= 2


def translate(name: str, args: dict) -> dict:
    """albumentations 1.x arguments of transform ``name`` as 2.x takes them (a copy; others untouched)."""
    args = dict(args)
    for new, (low, high) in RANGES.get(name, {}).items():
        if low in args or high in args:
            top = args.pop(high, None)
            bottom = args.pop(low, None)
            bottom = top if bottom is None else bottom
            args[new] = (bottom, top if top is not None else bottom)
    if name in RANGES:
        for old, new in RENAMED.items():
            if old in args:
                args[new] = args.pop(old)
    return args


def build(cfg: dict):
    """Build an albumentations transform from an MMPose-style config dict (``type`` + arguments; nested
    ``transforms`` for ``OneOf``/``Compose``), with 1.x arguments translated.

    Raises:
        ConfigError: an unknown transform type, or arguments albumentations 2 does not take.
    """
    import albumentations

    from mmpx.errors import ConfigError

    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"albumentations transform {cfg!r}: expected a dict with a 'type'",
                          "e.g. dict(type='Blur', blur_limit=3, p=0.1)")
    args = dict(cfg)
    kind = args.pop("type")
    if isinstance(kind, str):
        cls = getattr(albumentations, kind, None)
        if cls is None:
            raise ConfigError(f"albumentations has no transform {kind!r} (version {albumentations.__version__})",
                              "see https://albumentations.ai/docs/ for the names")
        name = kind
    else:
        cls, name = kind, getattr(kind, "__name__", str(kind))
    args = translate(name, args)
    if "transforms" in args:
        args["transforms"] = [build(t) for t in args["transforms"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            transform = cls(**args)
        except Exception as exc:  # pydantic's validation error: keep its first line
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(f"albumentations {name}({', '.join(args)}): {type(exc).__name__}: {first}",
                              f"check the arguments of {name} in albumentations {albumentations.__version__}"
                              ) from None
    dropped = [str(w.message) for w in caught if "are not valid for transform" in str(w.message)]
    if dropped:
        raise ConfigError(f"albumentations {albumentations.__version__}: {dropped[0]}",
                          f"it would ignore them; use {name}'s 2.x arguments (https://albumentations.ai/docs/)")
    return transform


def _patch() -> str:
    import numpy as np
    from mmpose.datasets.transforms.common_transforms import Albumentation

    Albumentation.albu_builder = lambda self, cfg: build(cfg)
    original = Albumentation.transform

    def transform(self, results: dict) -> dict:
        # albumentations 2 draws from its own generator, which mmengine's seeding never reaches: reseed it from
        # NumPy's, as 1.x effectively was, so --seed and --deterministic repeat a run
        self.aug.set_random_seed(int(np.random.randint(0, 2**31 - 1)))
        return original(self, results)

    Albumentation.transform = transform
    return ("Albumentation builds with albumentations 2: CoarseDropout/GridDropout 1.x arguments translated, "
            "arguments 2.x would drop are errors, its random generator seeded from NumPy's (mmengine's seed)")


def _check() -> tuple[str | None, str | None]:
    version = _version()
    if version is None:
        return ("albumentations is not installed: RTMPose configs' Albumentation transform fails",
                f"pip install --no-deps {PIN} albucore==0.0.24 stringzilla simsimd pydantic")
    try:
        import albumentations  # noqa: F401
    except Exception as exc:  # MMPose swallows this and later says only "albumentations is not installed"
        return (f"albumentations {version} does not import: {type(exc).__name__}: {exc}",
                f"pip install --no-deps {PIN} albucore==0.0.24 stringzilla simsimd pydantic")
    return None, None


FIX = Fix(
    name="albumentations",
    summary="MMPose's Albumentation transform and RTMPose configs work with albumentations 2",
    needed=_needed,
    patch=_patch,
    check=_check,
)
