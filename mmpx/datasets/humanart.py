"""Human-Art's scenarios and the group each belongs to, with name normalisation. Pure Python.

Source: the Human-Art project page and repository (https://idea-research.github.io/HumanArt/,
``IDEA-Research/HumanArt``: 5 natural, 3 3D artificial and the 2D artificial scenarios, each shown with a
sample image) and the dataset's folder layout ``HumanArt/images/<group>/<scenario>/``. The paper speaks of 20
scenarios (12 of them 2D), but the project page, the repository and MMPose's test data name only the 19 below;
an image whose scenario is not listed keeps its own (normalised) name and takes its group from its folder.

In the annotation files an image's ``category`` is the scenario written with spaces (``digital art``) while
the folders use underscores (``digital_art``): :func:`normalize_scene` maps both (and any case) to the folder
name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mmpx.errors import MmpxError

GROUPS: dict[str, tuple[str, ...]] = {
    "real_human": ("acrobatics", "cosplay", "dance", "drama", "movie"),
    "2D_virtual_human": (
        "cartoon", "digital_art", "ink_painting", "kids_drawing", "mural", "oil_painting", "shadow_play",
        "sketch", "stained_glass", "ukiyoe", "watercolor",
    ),
    "3D_virtual_human": ("garage_kits", "relief", "sculpture"),
}
GROUP_OF: dict[str, str] = {scene: group for group, scenes in GROUPS.items() for scene in scenes}
SCENES: tuple[str, ...] = tuple(GROUP_OF)
_GROUP_BY_KEY = {group.lower(): group for group in GROUPS}
# spellings seen in the wild for a few scenario names
_ALIASES = {"ukiyo_e": "ukiyoe", "kid_drawing": "kids_drawing", "kid_s_drawing": "kids_drawing",
            "garage_kit": "garage_kits", "water_color": "watercolor"}


def normalize_scene(name: str) -> str:
    """``'Digital Art'``, ``'digital-art'``, ``'digital_art'`` -> ``'digital_art'``."""
    key = re.sub(r"[\s\-']+", "_", str(name).strip().lower()).strip("_")
    return _ALIASES.get(key, key)


def normalize_group(name: str) -> str | None:
    """The canonical group name (``'2d_virtual_human'`` -> ``'2D_virtual_human'``), or None if not a group."""
    return _GROUP_BY_KEY.get(re.sub(r"[\s\-]+", "_", str(name).strip().lower()))


def scene_of_image(img: dict) -> tuple[str | None, str | None]:
    """(scenario, group) of one COCO image entry, from its ``category`` or else its ``file_name`` folders.

    Images without either (the COCO images in Human-Art's ``*_humanart_coco.json``) give ``(None, None)``.
    """
    parts = [p for p in re.split(r"[\\/]+", str(img.get("file_name", ""))) if p]
    folder_group = next((normalize_group(p) for p in parts[:-1] if normalize_group(p)), None)
    scene = img.get("category")
    if not isinstance(scene, str) or not scene.strip():
        # the folder right below the group folder is the scenario
        groups = [i for i, p in enumerate(parts[:-1]) if normalize_group(p)]
        scene = parts[groups[0] + 1] if groups and groups[0] + 1 < len(parts) - 1 else None
    if scene is None:
        return None, folder_group
    scene = normalize_scene(scene)
    return scene, GROUP_OF.get(scene, folder_group)


def _as_list(value: str | Iterable[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise MmpxError(f"{what} must be a name or a list of names, got {value!r}") from None


def resolve_scenes(scenes: str | Iterable[str] | None = None,
                   groups: str | Iterable[str] | None = None) -> frozenset[str] | None:
    """The set of scenario names selected by ``scenes`` and ``groups`` (their union), or None for all.

    ``scenes`` may also name groups (MMPose's own configs pass ``filter_cfg=dict(scenes=['real_human'])``).

    Raises:
        MmpxError: a name that is neither a known scenario nor a group; the message lists the valid ones.
    """
    scene_names, group_names = _as_list(scenes, "scenes"), _as_list(groups, "groups")
    if not scene_names and not group_names:
        return None
    selected: set[str] = set()
    for name in scene_names:
        group = normalize_group(name)
        scene = normalize_scene(name)
        if group:
            selected.update(GROUPS[group])
        elif scene in GROUP_OF:
            selected.add(scene)
        else:
            raise MmpxError(f"unknown Human-Art scenario {name!r}",
                            f"valid scenarios: {', '.join(SCENES)}; or a group: {', '.join(GROUPS)}")
    for name in group_names:
        group = normalize_group(name)
        if group is None:
            raise MmpxError(f"unknown Human-Art scenario group {name!r}",
                            f"valid groups: {', '.join(GROUPS)}")
        selected.update(GROUPS[group])
    return frozenset(selected)
