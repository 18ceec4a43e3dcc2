"""Predictions whose ``image_id`` is another tool's numbering, matched to the ground truth by ``file_name``.

``mmpx infer --save-json`` numbers the images it reads from 1 and records each one's ``file_name`` (relative to
the folder it was given); a COCO file numbers them its own way. So that ``mmpx eval GT.json preds.json`` scores
an exported model's predictions without a training stack, results that all carry a ``file_name`` are re-keyed to
the ground truth's ids when their ids do not already name the same files. A file name matches a ground-truth
image whose ``file_name`` is the same path, or ends with it (``images/0001.jpg`` and ``0001.jpg``), or the other
way round; it must match exactly one.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from mmpx.errors import MmpxError


def _norm(name: str) -> str:
    return str(PurePosixPath(str(name).replace("\\", "/"))).lstrip("./")


def _agrees(results: list, by_id: dict) -> bool:
    return all(by_id.get(r.get("image_id")) is not None and
               _norm(by_id[r["image_id"]]) == _norm(r["file_name"]) for r in results)


def rekey_by_file_name(results, gt: dict, pred_name: str = "predictions") -> tuple[list, int]:
    """``results`` with ground-truth image ids, and how many were re-keyed (0: used as they are).

    Results are left alone unless every one has a ``file_name`` and their ids do not already name those files
    in ``gt``.

    Raises:
        MmpxError: a file name that matches no ground-truth image, or several.
    """
    if not isinstance(results, list) or not results or not all(
            isinstance(r, dict) and isinstance(r.get("file_name"), str) for r in results):
        return results, 0
    by_id = {img.get("id"): img.get("file_name") for img in gt.get("images", []) if img.get("file_name")}
    if _agrees(results, by_id):
        return results, 0
    exact = {_norm(name): i for i, name in by_id.items()}
    cache: dict[str, object] = {}

    def find(name: str):
        key = _norm(name)
        if key in exact:
            return exact[key]
        if key not in cache:
            found = [i for n, i in exact.items() if n.endswith("/" + key) or key.endswith("/" + n)]
            if len(found) != 1:
                why = "no image" if not found else f"{len(found)} images ({', '.join(map(str, found[:3]))})"
                raise MmpxError(f"{pred_name}: result for {name!r} (image_id {_id_of(results, name)}) matches {why} "
                                "of the ground truth by file_name, and its image_id is not the ground truth's",
                                "run mmpx infer on the folder the ground truth's file_name entries are relative "
                                "to, or give predictions with the ground truth's image ids")
            cache[key] = found[0]
        return cache[key]

    rekeyed = [dict(r, image_id=find(r["file_name"])) for r in results]
    return rekeyed, len(rekeyed)


def _id_of(results: list, name: str):
    return next((r.get("image_id") for r in results if r.get("file_name") == name), None)
