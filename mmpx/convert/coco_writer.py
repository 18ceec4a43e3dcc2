"""A streaming COCO keypoint writer: memory stays flat whatever the number of images.

Annotations are spooled as tab-separated text with the numbers already formatted as JSON and the keypoints
by name, so that names can be collected in the same single pass over the inputs;
:meth:`CocoSplitWriter.finish` only reorders strings into COCO's fixed keypoint order. Formatting floats and
parsing them back would cost more than reading the inputs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mmpx.convert.output import PARTS

# Pixel coordinates are written with 2 decimals (0.01 px, far below any labelling precision): fixed-point
# formatting is also 3x cheaper than the shortest float repr.
COORD_FORMAT = ".2f"


def annotation_text(category_id: int, bbox: Sequence[float], keypoints: Iterable[tuple],
                    fmt: str = COORD_FORMAT) -> str:
    """The spool form of one annotation, without its ids (workers format, the writer numbers).

    Args:
        category_id: COCO category id.
        bbox: [x, y, w, h] in pixels.
        keypoints: the labelled keypoints only (v > 0), as ``(tag, name, x, y, v)`` tuples (``tag`` is free:
            labelme's shape number); names must hold no tab or line break.
        fmt: format spec of the coordinates.
    """
    x, y, w, h = bbox
    text = f"{category_id}\t{x:{fmt}}, {y:{fmt}}, {w:{fmt}}, {h:{fmt}}\t{w * h:{fmt}}"
    for _, name, kx, ky, v in keypoints:
        text += f"\t{name}\t{kx:{fmt}}, {ky:{fmt}}, {v}"
    return text


class CocoSplitWriter:
    """Streams one split (``train``, ``val``, ...) to part files; :meth:`finish` writes the COCO file.

    Example:
        >>> writer = CocoSplitWriter(stage, "train")  # doctest: +SKIP
        >>> writer.add_image(1, "a.jpg", 640, 480)
        >>> writer.add_annotation(1, 1, annotation_text(1, [10, 10, 50, 40], [(0, "nose", 20, 30, 2)]))
        >>> writer.finish(stage / "annotations/train.json", categories, ["nose"], info={})
    """

    def __init__(self, stage: Path, split: str) -> None:
        parts = stage / PARTS
        parts.mkdir(exist_ok=True)
        self.split = split
        self.num_images = self.num_annotations = 0
        self.per_category: Counter = Counter()  # with category_names: (category id, "all" | "empty") -> count
        self._paths = (parts / f"{split}.images", parts / f"{split}.anns")
        self._images, self._anns = (open(p, "w", encoding="utf-8") for p in self._paths)  # noqa: SIM115

    def add_image(self, image_id: int, file_name: str, width: int, height: int) -> None:
        self._images.write(f'{{"id": {image_id}, "file_name": {json.dumps(file_name)}, '
                           f'"width": {width}, "height": {height}}}\n')
        self.num_images += 1

    def add_annotation(self, ann_id: int, image_id: int, text: str) -> None:
        """Spool one annotation given as :func:`annotation_text`."""
        self._anns.write(f"{ann_id}\t{image_id}\t{text}\n")
        self.num_annotations += 1

    def close(self) -> None:
        self._images.close()
        self._anns.close()

    def finish(self, path: Path, categories: list[dict], names: Sequence[str], info: dict,
               labelled: Counter | None = None, visibility: Counter | None = None,
               category_names: Mapping[int, Sequence[str]] | None = None) -> None:
        """Write the COCO file: info, images, annotations (keypoints in ``names`` order), categories.

        ``labelled`` (per name) and ``visibility`` (per v), when given, are updated with the counts. With
        ``category_names`` (several classes: category id -> the spooled names of its keypoints, in order) each
        annotation's keypoints follow its own category's names, and ``names`` is their union.

        Raises:
            KeyError: an annotation names a keypoint outside ``names``.
        """
        self.close()
        if category_names is not None:
            self._finish_categories(path, categories, info, category_names, labelled, visibility)
            return
        final = {name: i for i, name in enumerate(names)}
        blank = ["0, 0, 0"] * len(names)
        counts, occluded = [0] * len(names), 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # ASCII JSON (non-ASCII names escaped): loads the same whatever the reader's locale encoding
        with open(path, "w", encoding="ascii") as f:
            f.write('{"info": ' + json.dumps(info) + ', "licenses": [],\n"images": [\n')
            sep = ""
            with open(self._paths[0], encoding="utf-8") as part:
                for line in part:  # line by line, never the whole part in memory
                    f.write(sep + line[:-1])
                    sep = ",\n"
            f.write('],\n"annotations": [\n')
            sep = ""
            with open(self._paths[1], encoding="utf-8") as part:
                for line in part:
                    fields = line[:-1].split("\t")
                    kps = blank.copy()
                    for j in range(5, len(fields), 2):
                        i = final[fields[j]]
                        kps[i] = text = fields[j + 1]
                        counts[i] += 1
                        occluded += text[-1] == "1"
                    f.write(f'{sep}{{"id": {fields[0]}, "image_id": {fields[1]}, "category_id": {fields[2]}, '
                            f'"bbox": [{fields[3]}], "area": {fields[4]}, "iscrowd": 0, '
                            f'"num_keypoints": {(len(fields) - 5) // 2}, "keypoints": [{", ".join(kps)}]}}')
                    sep = ",\n"
            f.write('],\n"categories": ' + json.dumps(categories) + "}\n")
        if labelled is not None:
            labelled.update({name: counts[i] for name, i in final.items()})
        if visibility is not None:
            visibility.update({1: occluded, 2: sum(counts) - occluded})

    def _finish_categories(self, path: Path, categories: list[dict], info: dict,
                           category_names: Mapping[int, Sequence[str]], labelled: Counter | None,
                           visibility: Counter | None) -> None:
        """:meth:`finish` with several categories, each annotation laid out by its own category's names."""
        layout = {str(cid): ({n: i for i, n in enumerate(names)}, ["0, 0, 0"] * len(names))
                  for cid, names in category_names.items()}
        counts, occluded = Counter(), 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="ascii") as f:
            f.write('{"info": ' + json.dumps(info) + ', "licenses": [],\n"images": [\n')
            sep = ""
            with open(self._paths[0], encoding="utf-8") as part:
                for line in part:
                    f.write(sep + line[:-1])
                    sep = ",\n"
            f.write('],\n"annotations": [\n')
            sep = ""
            with open(self._paths[1], encoding="utf-8") as part:
                for line in part:
                    fields = line[:-1].split("\t")
                    final, blank = layout[fields[2]]
                    kps = blank.copy()
                    for j in range(5, len(fields), 2):
                        kps[final[fields[j]]] = text = fields[j + 1]
                        counts[fields[j]] += 1
                        occluded += text[-1] == "1"
                    num = (len(fields) - 5) // 2
                    self.per_category[int(fields[2]), "all"] += 1
                    self.per_category[int(fields[2]), "empty"] += num == 0
                    f.write(f'{sep}{{"id": {fields[0]}, "image_id": {fields[1]}, "category_id": {fields[2]}, '
                            f'"bbox": [{fields[3]}], "area": {fields[4]}, "iscrowd": 0, '
                            f'"num_keypoints": {num}, "keypoints": [{", ".join(kps)}]}}')
                    sep = ",\n"
            f.write('],\n"categories": ' + json.dumps(categories) + "}\n")
        if labelled is not None:
            labelled.update({name: counts[name] for names in category_names.values() for name in names})
        if visibility is not None:
            visibility.update({1: occluded, 2: sum(counts.values()) - occluded})
