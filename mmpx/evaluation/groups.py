"""Which images form each group: the value of an image field, or a Human-Art scenario / scenario group."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from mmpx.errors import MmpxError

# Human-Art names that need not be an image field: derived from `category` or the file path
HUMANART_FIELDS = ("scenario", "group")


def value_getter(field: str, images: Sequence[dict]) -> Callable[[dict], object]:
    """A function giving an image's group value for ``field``; None means the image is in no group.

    Raises:
        MmpxError: no image has ``field`` (and it is not a Human-Art field that can be derived).
    """
    if any(field in img for img in images):
        return lambda img: img.get(field)
    if field in HUMANART_FIELDS:
        from mmpx.datasets.humanart import scene_of_image

        index = HUMANART_FIELDS.index(field)
        return lambda img: scene_of_image(img)[index]
    fields = sorted({key for img in images for key in img})
    raise MmpxError(f"no image has the field {field!r} to group by",
                    f"image fields are: {', '.join(fields) or 'none'}; for Human-Art also "
                    f"{', '.join(HUMANART_FIELDS)}")


def group_images(images: Sequence[dict], by: str | Iterable[str] | None) -> dict[str, list]:
    """Group value -> sorted image ids, for one field or several (their groups side by side).

    A value shared by two fields is keyed ``field=value`` for the second one. Images whose value is missing
    (None or "") are in no group; list values (unhashable) are turned into text.
    """
    if by is None:
        return {}
    fields = [by] if isinstance(by, str) else list(by)
    groups: dict[str, list] = {}
    for field in fields:
        get = value_getter(field, images)
        own: dict[str, list] = {}
        for img in images:
            value = get(img)
            if value is None or value == "":
                continue
            own.setdefault(str(value), []).append(img["id"])
        for value, ids in sorted(own.items()):
            groups[f"{field}={value}" if value in groups else value] = sorted(ids)
    return groups
