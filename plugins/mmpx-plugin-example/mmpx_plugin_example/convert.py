"""Write the synthetic kites to disk as a COCO keypoint dataset (pure Python, NumPy and OpenCV; no torch)."""

from __future__ import annotations

import json
import pprint
from pathlib import Path

from mmpx.errors import MmpxError

ANN_FILE = "annotations.json"
IMG_DIR = "images"
METAINFO_FILE = "metainfo.py"


def write_example_shapes(out: Path, n: int = 100, seed: int = 0, img_size: int = 96,
                         overwrite: bool = False) -> Path:
    """Write ``n`` samples of the set ``seed`` as ``OUT/images/*.png``, ``OUT/annotations.json`` (COCO) and
    ``OUT/metainfo.py`` (MMPose ``dataset_info``, for ``metainfo=dict(from_file=...)``).

    Sample ``i`` is the same as item ``i`` of ``ExampleShapesDataset(num_samples=n, seed=seed)``.

    Args:
        out: output folder, created if missing.
        n: number of images.
        seed: seed of the set.
        img_size: width and height of the images.
        overwrite: replace an existing dataset in ``out``.

    Returns:
        The path of the annotation file.

    Raises:
        MmpxError: bad ``n``/``img_size``, or ``out`` already holds a dataset and ``overwrite`` is off.
    """
    import cv2

    from mmpx_plugin_example.shapes import CATEGORY, METAINFO, coco_annotation, draw_sample, file_name

    if n < 1:
        raise MmpxError(f"--n must be at least 1, got {n}")
    if img_size < 32:
        raise MmpxError(f"--img-size must be at least 32, got {img_size}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MmpxError(f"{out} exists and is not a folder", "give a folder path")
    ann_path = out / ANN_FILE
    if ann_path.exists() and not overwrite:
        raise MmpxError(f"{ann_path} already exists", "pass --overwrite to replace it, or use another folder")
    (out / IMG_DIR).mkdir(parents=True, exist_ok=True)

    images, annotations = [], []
    for index in range(n):
        sample = draw_sample(seed, index, img_size)
        name = file_name(index)
        if not cv2.imwrite(str(out / IMG_DIR / name), sample.img):
            raise MmpxError(f"could not write {out / IMG_DIR / name}", "check the folder is writable")
        images.append(dict(id=index + 1, file_name=name, width=img_size, height=img_size))
        annotations.append(coco_annotation(sample, index))
    info = dict(description=f"mmpx-plugin-example synthetic kites, seed {seed}", version="1.0")
    coco = dict(info=info, images=images, annotations=annotations, categories=[CATEGORY])
    ann_path.write_text(json.dumps(coco))
    (out / METAINFO_FILE).write_text(
        "# MMPose metainfo of the synthetic kites; use metainfo=dict(from_file='<this file>')\n"
        f"dataset_info = {pprint.pformat(METAINFO, sort_dicts=False, width=110)}\n"
    )
    return ann_path
