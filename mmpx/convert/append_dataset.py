"""The existing dataset an ``--append`` adds to: its report, COCO files and metainfo, read and checked; the COCO
files kept record by record as text so that old records come out byte for byte as they were.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mmpx.convert.output import written_by_mmpx
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_names, load_metainfo

SPLITS = ("train", "val")
# The layout CocoSplitWriter writes: one record a line. A real line break cannot occur inside a JSON string, so
# these markers cannot match inside a record.
_IMAGES, _ANNS, _CATS = '\n"images": [\n', '],\n"annotations": [\n', '],\n"categories": '
REWRITTEN = ("annotations/train.json", "annotations/val.json", "report.json")  # written anew, never linked


@dataclass
class CocoText:
    """One COCO file as ``head + images + annotations + tail`` (records as JSON text, one a line)."""

    head: str
    images: list[str]
    annotations: list[str]
    tail: str

    def text(self) -> str:
        return (self.head + _IMAGES + ",\n".join(self.images) + _ANNS + ",\n".join(self.annotations) + _CATS
                + self.tail)


def coco_text(text: str, data: dict | None = None) -> CocoText:
    """``text`` split into records: as written when it has CocoSplitWriter's layout (checked against ``data``,
    the parsed file; without it, the layout is trusted), else ``data`` serialised anew (a file another tool
    rewrote)."""
    head, found1, rest = text.partition(_IMAGES)
    images, found2, rest = rest.partition(_ANNS)
    anns, found3, tail = rest.partition(_CATS)
    if found1 and found2 and found3:
        split = CocoText(head, _lines(images), _lines(anns), tail)
        if data is None or (split.text() == text and _same(split.images, data["images"])
                            and _same(split.annotations, data["annotations"])):
            return split
    others = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()
              if k not in ("images", "annotations", "categories")]
    return CocoText("{" + (", ".join(others) + "," if others else ""), [json.dumps(r) for r in data["images"]],
                    [json.dumps(r) for r in data["annotations"]], json.dumps(data["categories"]) + "}\n")


def _same(lines: list[str], records: list) -> bool:
    try:
        return [json.loads(line) for line in lines] == records
    except ValueError:  # two records on a line, or one over several
        return False


def _lines(block: str) -> list[str]:
    return [line.removesuffix(",") for line in block.split("\n")] if block else []


@dataclass
class Existing:
    """What an append needs to know of the dataset in ``out``."""

    out: Path
    report: dict
    report_text: str
    coco: dict[str, dict]  # per split, the parsed file
    text: dict[str, CocoText]  # per split, its records as text
    names: list[str]
    category: dict

    @property
    def images_mode(self) -> str:
        return self.report.get("images_mode") or "copy"

    def records(self, key: str) -> list[dict]:
        return [r for split in SPLITS for r in self.coco[split][key]]

    def max_id(self, key: str) -> int:
        return max((r["id"] for r in self.records(key)), default=0)

    def check_unchanged(self) -> None:
        """Refuse to swap in the new dataset when another run changed ``out`` meanwhile."""
        try:
            now = (self.out / "report.json").read_text(encoding="utf-8")
        except OSError:
            now = None
        if now != self.report_text:
            raise MmpxError(f"--append: {self.out} was changed by another run while this one was appending",
                            "run the append again")


def read_existing(out: Path) -> Existing:
    """Read and check the dataset in ``out``.

    Raises:
        MmpxError: ``out`` missing, not written by ``mmpx convert labelme``, a file missing or unreadable, or
            its COCO files and metainfo disagreeing on the keypoints.
    """
    if not out.exists():
        raise MmpxError(f"--append: output folder {out} does not exist: there is no dataset to append to",
                        "drop --append to create it: mmpx convert labelme SRC OUT")
    if not out.is_dir() or not written_by_mmpx(out):
        raise MmpxError(f"--append: {out} is not a dataset written by mmpx convert labelme (no report.json of "
                        "an mmpx conversion in it)",
                        "append to a folder mmpx convert labelme wrote, or run without --append to create one")
    report_text = (out / "report.json").read_text(encoding="utf-8")
    report = json.loads(report_text)
    if report["converter"] != "labelme":
        raise MmpxError(f"--append: {out} was written by mmpx convert {report['converter']}, not by mmpx convert "
                        "labelme", "--append adds labelme files only to a labelme conversion")
    for rel in ("annotations/train.json", "annotations/val.json", "metainfo.py"):
        if not (out / rel).is_file():
            raise MmpxError(f"--append: {out / rel} is missing, so {out} is no complete labelme conversion",
                            "convert again without --append (with --overwrite to replace the folder)")
    coco, text = {}, {}
    for split in SPLITS:
        coco[split], text[split] = _read_coco(out / "annotations" / f"{split}.json")
    category = _one_category(out, coco)
    names = list(category["keypoints"])
    meta = out / "metainfo.py"
    meta_names = keypoint_names(load_metainfo(meta))
    if meta_names != names:
        raise MmpxError(f"--append: {meta} names the keypoints {', '.join(meta_names)} but the category in "
                        f"{out / 'annotations'} has {', '.join(names)}",
                        "make them agree (or convert again without --append) before appending")
    return Existing(out, report, report_text, coco, text, names, category)


def _read_coco(path: Path) -> tuple[dict, CocoText]:
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MmpxError(f"--append: cannot read {path}: {exc}",
                        "mmpx check data tells what is wrong; or convert again without --append") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise MmpxError(f"--append: {path} has no '{key}' list, so it is no COCO keypoint file",
                            "convert again without --append (with --overwrite to replace the folder)")
    for key in ("images", "annotations"):
        bad = next((r for r in data[key] if not isinstance(r, dict) or not isinstance(r.get("id"), int)), None)
        if bad is not None:
            raise MmpxError(f"--append: {path}: an entry of '{key}' has no integer 'id': {str(bad)[:80]}",
                            "mmpx check data lists what to fix")
    return data, coco_text(raw, data)


def _one_category(out: Path, coco: dict[str, dict]) -> dict:
    cats = [coco[split]["categories"] for split in SPLITS]
    if len(cats[0]) != 1 or cats[0] != cats[1] or not isinstance(cats[0][0].get("keypoints"), list):
        raise MmpxError(f"--append: {out / 'annotations'}/train.json and val.json must have the same single "
                        "keypoint category (with a 'keypoints' list), as mmpx convert labelme writes them",
                        "convert again without --append (with --overwrite to replace the folder)")
    return cats[0][0]


def link_tree(out: Path, stage: Path) -> None:
    """Rebuild ``out`` in ``stage``: hard links to its files (a copy where linking fails), its symlinks as
    symlinks; the files an append rewrites are left out, so nothing in ``stage`` writes through to ``out``."""
    for root, dirs, files in os.walk(out):
        rel_root = os.path.relpath(root, out)
        target_root = stage if rel_root == "." else stage / rel_root
        for name in dirs:
            source, target = os.path.join(root, name), target_root / name
            if os.path.islink(source):  # os.walk does not descend into it
                os.symlink(os.readlink(source), target)
            else:
                target.mkdir()
        for name in files:
            source, target = os.path.join(root, name), target_root / name
            if Path(rel_root, name).as_posix().removeprefix("./") in REWRITTEN:
                continue
            if os.path.islink(source):
                os.symlink(os.readlink(source), target)
                continue
            try:
                os.link(source, target)
            except OSError:  # another file system, or links not allowed
                shutil.copy2(source, target)
