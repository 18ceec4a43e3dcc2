"""The existing dataset an ``--append`` adds to: its report, COCO files and metainfo, read and checked; the COCO
files kept record by record as text so that old records come out byte for byte as they were. A dataset of several
classes (one category per class, a multi-class metainfo) is read with its classes: the new annotations are laid out
by their own category's keypoints. Shared by
``convert labelme --append`` and ``convert dlc|sleap|labelstudio|nwb --append``: the options checked against the
dataset, the append's :class:`AppendReport`, and :func:`finish_append` (old records, then the new ones).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.convert.append_images import ImageIndex
from mmpx.convert.output import IMAGE_MODES, PARTS, written_by_mmpx
from mmpx.convert.summary import Report
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_names, load_metainfo
from mmpx.metainfo.classes import KeypointClass, keypoint_classes

SPLITS = ("train", "val")
# the converters whose datasets an append may add to: one keypoint category, images under images/ (or none)
APPENDABLE = ("labelme", "dlc", "sleap", "labelstudio", "nwb")
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
    absent: frozenset[str] = frozenset()  # splits the first conversion did not write (a val share of 0)
    classes: list[KeypointClass] | None = None  # several classes (one category each); names is then their union

    def category_names(self) -> dict[int, list[str]] | None:
        """Per category id, the spooled (union) names of its keypoints; None for one class."""
        return None if self.classes is None else {c.id: c.union_names for c in self.classes}

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


def read_existing(out: Path, converter: str = "labelme") -> Existing:
    """Read and check the dataset in ``out`` that ``mmpx convert <converter> --append`` adds to.

    Raises:
        MmpxError: ``out`` missing, not written by one of the :data:`APPENDABLE` converters, a file missing or
            unreadable, or its COCO files and metainfo disagreeing on the keypoints.
    """
    if not out.exists():
        raise MmpxError(f"--append: output folder {out} does not exist: there is no dataset to append to",
                        f"drop --append to create it: mmpx convert {converter} SRC OUT")
    if not out.is_dir() or not written_by_mmpx(out):
        raise MmpxError(f"--append: {out} is not a dataset written by mmpx convert {converter} (no report.json of "
                        "an mmpx conversion in it)",
                        "append to a folder an mmpx conversion wrote, or run without --append to create one")
    report_text = (out / "report.json").read_text(encoding="utf-8")
    report = json.loads(report_text)
    if report["converter"] not in APPENDABLE:
        raise MmpxError(f"--append: {out} was written by mmpx convert {report['converter']}; --append adds only to "
                        f"a dataset written by mmpx convert {', '.join(APPENDABLE)}",
                        "convert SRC into a new folder (without --append), or append to a dataset one of those wrote")
    # the sleap-io converters write val.json only when a frame goes to val; their report says so
    optional = {"val"} if report["converter"] != "labelme" and "annotations/val.json" not in report.get(
        "outputs", []) else set()
    for rel in ("annotations/train.json", "annotations/val.json", "metainfo.py"):
        if not (out / rel).is_file() and Path(rel).stem not in optional:
            raise MmpxError(f"--append: {out / rel} is missing, so {out} is no complete mmpx conversion",
                            "convert again without --append (with --overwrite to replace the folder)")
    coco, text, absent = {}, {}, set()
    for split in SPLITS:
        path = out / "annotations" / f"{split}.json"
        if split in optional and not path.is_file():
            absent.add(split)
            continue
        coco[split], text[split] = _read_coco(path)
    for split in absent:  # an empty split, shaped as train is: written only if the append adds to it
        coco[split] = dict(images=[], annotations=[], categories=coco["train"]["categories"])
        text[split] = CocoText(text["train"].head, [], [], text["train"].tail)
    meta = out / "metainfo.py"
    info = load_metainfo(meta)
    if len(coco["train"]["categories"]) > 1 and coco["train"]["categories"] == coco["val"]["categories"]:
        classes = _classes(out, coco["train"]["categories"], info)
        if converter != "labelme":  # the sleap-io formats carry one skeleton: no class per instance
            raise MmpxError(f"--append: {out} holds several classes ({', '.join(c.name for c in classes)}); "
                            f"mmpx convert {converter} writes one class",
                            "append labelme files (a rectangle labelled with its class per instance) with mmpx "
                            "convert labelme --append, or convert into a new folder")
        return Existing(out, report, report_text, coco, text, [n for c in classes for n in c.union_names],
                        coco["train"]["categories"][0], frozenset(absent), classes)
    category = _one_category(out, coco)
    names = list(category["keypoints"])
    meta_names = keypoint_names(info)
    if meta_names != names:
        raise MmpxError(f"--append: {meta} names the keypoints {', '.join(meta_names)} but the category in "
                        f"{out / 'annotations'} has {', '.join(names)}",
                        "make them agree (or convert again without --append) before appending")
    return Existing(out, report, report_text, coco, text, names, category, frozenset(absent))


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


def _classes(out: Path, cats: list, info: dict) -> list[KeypointClass]:
    """The classes of a multi-class dataset: its metainfo's, each matching its COCO category."""
    meta = out / "metainfo.py"
    classes = keypoint_classes(info, str(meta))
    if classes is None:
        raise MmpxError(f"--append: {out / 'annotations'} has {len(cats)} categories but {meta} lists no classes",
                        "convert all the files again with --classes (--overwrite to replace the folder)")
    got = [(c.get("id"), c.get("name"), c.get("keypoints")) for c in cats]
    want = [(c.id, c.name, list(c.keypoints)) for c in classes]
    if got != want:
        raise MmpxError(f"--append: the categories of {out / 'annotations'} ({', '.join(str(g[1]) for g in got)}) "
                        f"are not the classes of {meta} ({', '.join(c.name for c in classes)}): ids, names and "
                        "keypoint lists must agree, in order",
                        "make them agree (or convert again without --append) before appending")
    return classes


def _one_category(out: Path, coco: dict[str, dict]) -> dict:
    cats = [coco[split]["categories"] for split in SPLITS]
    if len(cats[0]) != 1 or cats[0] != cats[1] or not isinstance(cats[0][0].get("keypoints"), list):
        raise MmpxError(f"--append: {out / 'annotations'}/train.json and val.json must have the same single "
                        "keypoint category (with a 'keypoints' list), as mmpx convert writes them",
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


def check_category(base: Existing, category: str | None) -> None:
    """``--category`` may be given with ``--append``, but must be the dataset's (none for several classes)."""
    if category is not None and base.classes is not None:
        raise MmpxError(f"--append: --category {category!r}, but the dataset in {base.out} has several classes "
                        f"({', '.join(c.name for c in base.classes)}): each instance's class is its rectangle's label",
                        "drop --category")
    if category is not None and category != base.category.get("name"):
        raise MmpxError(f"--append: --category {category!r}, but the dataset in {base.out} has category "
                        f"{base.category.get('name')!r}", "drop --category: with --append it is the dataset's")


def images_mode(base: Existing, images: str | None) -> str:
    """Copied or linked images can be added to either; file names relative to a source only to such."""
    if images is None:
        return base.images_mode
    if images not in IMAGE_MODES:
        raise MmpxError(f"--images must be one of {', '.join(IMAGE_MODES)}, got {images!r}")
    if (images == "none") != (base.images_mode == "none"):
        raise MmpxError(f"--append: --images {images}, but the dataset in {base.out} was converted with "
                        f"--images {base.images_mode}: its file names and the new ones would point to different "
                        "places", "drop --images: with --append it defaults to the dataset's")
    return images


def none_root(base: Existing) -> Path:
    """The folder the file names of an ``--images none`` dataset are relative to: its first source (a folder for
    labelme; the folder of the file, or of a DeepLabCut project's config.yaml, for the sleap-io converters)."""
    src = Path(base.report.get("src", ""))
    root = src
    if base.report.get("converter") != "labelme":
        root = src.parent
        if base.report.get("converter") == "dlc" and src.suffix.lower() not in (".yaml", ".yml"):
            # a CollectedData CSV: relative to the project holding it (its config.yaml), as it was read
            root = next((p for p in src.parents[:3] if (p / "config.yaml").is_file()), src.parent)
    if not root.is_dir():
        raise MmpxError(f"--append: the dataset in {base.out} was converted with --images none, so its file names "
                        f"are relative to its source folder {root} (from report.json 'src'), which is not there "
                        f"from {os.getcwd()}",
                        "run from the folder you first converted from, or put that folder back")
    return root


def image_index(base: Existing, root: Path | None) -> ImageIndex:
    """The dataset's images by content: under ``OUT/images``, or under ``root`` (an ``--images none`` dataset)."""
    index = ImageIndex()
    folder = root if root is not None else base.out / "images"
    for record in base.records("images"):
        file_name = record.get("file_name")
        if isinstance(file_name, str):
            index.add_existing(os.path.join(folder, file_name), file_name, record["id"])
    return index


@dataclass
class AppendReport(Report):
    """A :class:`Report` of one append: ``files_converted`` and ``images`` count what was added.

    Attributes:
        duplicates: ``{file, duplicate_of, image_id}`` per new file whose image the dataset already held.
        first_ids: the first image and annotation id this append could give (``{"image": .., "annotation": ..}``).
        dataset: the whole dataset after the append: ``{"images": {"train": .., "val": ..}, "instances": ..}``.
    """

    duplicates: list[dict] = field(default_factory=list)
    first_ids: dict[str, int] = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)


def finish_append(stage: Path, base: Existing, report: AppendReport, writers: dict, shapes: Counter,
                  start: float) -> None:
    """The COCO files (old records as they were, then the new ones) and the report, inside the staging folder.
    A split the dataset did not have is written only when the append adds to it."""
    labelled, visibility = Counter(), Counter()
    total_instances = 0
    report.outputs = []
    for split, writer in writers.items():
        new_path = stage / PARTS / f"{split}.new.json"
        writer.finish(new_path, base.coco[split]["categories"], base.names, {}, labelled, visibility,
                      category_names=base.category_names())
        new = coco_text(new_path.read_text(encoding="ascii"))
        old = base.text[split]
        merged = CocoText(old.head, old.images + new.images, old.annotations + new.annotations, old.tail)
        report.images[split] = writer.num_images
        if split in base.absent and not new.images:
            continue
        (stage / "annotations").mkdir(exist_ok=True)
        with open(stage / "annotations" / f"{split}.json", "x", encoding="utf-8") as f:  # "x": a new file
            f.write(merged.text())
        report.outputs.append(f"annotations/{split}.json")
        report.dataset.setdefault("images", {})[split] = len(merged.images)
        total_instances += len(merged.annotations)
    report.dataset["instances"] = total_instances
    report.add_counts(labelled, visibility, shapes)
    report.outputs += ([] if report.images_mode == "none" else ["images/"]) + ["report.json"]
    report.seconds = round(time.perf_counter() - start, 3)
    saved = dict(base.report)  # the first conversion's record stays as it was; appends go to a list
    saved["appends"] = [*saved.get("appends", []), report.as_dict()]
    saved["dataset"] = report.dataset
    with open(stage / "report.json", "x", encoding="utf-8") as f:
        f.write(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
