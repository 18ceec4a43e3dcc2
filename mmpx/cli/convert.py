"""``mmpx convert labelme|yolo|to-yolo|dlc|sleap|labelstudio|nwb``: thin commands over :mod:`mmpx.convert`
that print a summary."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._options import JsonOpt, metainfo_file, metainfo_files
from mmpx.cli._output import err_console, out_console

PROGRESS_MIN_FILES = 200  # a bar for fewer files only flickers


class ImagesMode(StrEnum):
    copy = "copy"
    link = "link"
    none = "none"


OutArg = Annotated[
    Path, typer.Argument(help="Output folder; must be new or empty unless --overwrite.", show_default=False)
]
ImagesOpt = Annotated[
    ImagesMode,
    typer.Option(
        "--images",
        help="Copy the images into OUT/images, hard-link them (symlink across file "
        "systems), or write none (file names stay relative to the source).",
        case_sensitive=False,
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace an existing OUT, atomically once the new dataset is complete."),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Stop at the first bad file or record instead of skipping and listing it.")
]


class _ProgressBar:
    """A rich bar on stderr, started on the first call and only for long runs; no refresh thread (so that the
    converter may still fork its workers)."""

    def __init__(self, label: str) -> None:
        self.label, self.bar, self.task = label, None, None

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.bar = Progress(
                "{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console(plain=False),
                auto_refresh=False,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def print_summary(report, as_json: bool = False) -> None:
    """The report as a table (or JSON): counts, keypoints, skipped files with reasons, warnings."""
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    from mmpx.app.convert import LISTED, summary_lists, summary_notes, summary_rows

    console = out_console(highlight=False)
    title = f"mmpx convert {report.converter}" + (" --append" if hasattr(report, "duplicates") else "")
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    for row in summary_rows(report):
        table.add_row(*row)
    console.print(table)
    for note in summary_notes(report):
        console.print(note)
    for title, items in summary_lists(report):
        console.print(f"[bold]{title}[/bold] ({len(items)}; all in {report.out}/report.json):")
        for file, why in items[:LISTED]:
            console.print(f"  {file}: {why}", markup=False)
        if len(items) > LISTED:
            console.print(f"  ... and {len(items) - LISTED} more")


@guarded(inputs=("src", "metainfo"), outputs=("out",))
def labelme(
    src: Annotated[
        Path, typer.Argument(help="Folder of labelme .json files (searched recursively).", show_default=False)
    ],
    out: OutArg,
    keypoints: Annotated[
        str | None,
        typer.Option(
            "--keypoints",
            help="Keypoint names in order, comma-separated (k1,k2,...); other point labels are "
            "errors. Default: every point label, sorted.",
            show_default=False,
        ),
    ] = None,
    metainfo: Annotated[
        list[Path] | None,
        typer.Option(
            "--metainfo",
            help="MMPose metainfo .py giving keypoint names, skeleton and swaps (instead of --keypoints). With "
            "--classes: one multi-class file, or once per class (its dataset_name names the class).",
            callback=metainfo_files,
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="COCO category name of every instance (default: object; with --append: the dataset's).",
            show_default=False,
        ),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help="Several object classes, comma-separated (car,bicycle): each instance's rectangle label names "
            "its class, each class has its own keypoints; writes one COCO category per class and a multi-class "
            "metainfo (docs/guides/multiclass.md).",
            show_default=False,
        ),
    ] = None,
    val_ratio: Annotated[
        float,
        typer.Option("--val-ratio", help="Share of the files that go to val (0 allowed).", min=0.0, max=0.99),
    ] = 0.2,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the train/val split; same seed, same split and ids.")
    ] = 0,
    images: Annotated[
        ImagesMode | None,
        typer.Option(
            "--images",
            help="Copy the images into OUT/images, hard-link them (symlink across file systems), or write none "
            "(file names stay relative to the source). Default: copy; with --append: as the dataset was made.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    strict: StrictOpt = False,
    overwrite: OverwriteOpt = False,
    append: Annotated[
        bool,
        typer.Option(
            "--append",
            help="Add the files of SRC to the dataset OUT that mmpx convert labelme (or dlc, sleap, labelstudio, "
            "nwb, with the same keypoints) wrote: its images, ids and split stay as they are; new files get the "
            "next ids and their own split (--val-ratio, --seed); an image OUT already holds is reported as a "
            "duplicate and not added. Atomic, like --overwrite.",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Worker processes (default: one per CPU, up to 4, from 1,000 files; 0: none).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Convert labelme files (rectangles + points) to COCO keypoints, images and an MMPose metainfo file.

    Writes OUT/annotations/train.json and val.json, OUT/images/, OUT/metainfo.py and OUT/report.json.
    With --append, adds newly labelled files to such an OUT.
    """
    from mmpx.app.convert import LabelmeRequest
    from mmpx.app.convert import labelme as run_labelme

    request = LabelmeRequest(src, out, keypoints, metainfo, category, val_ratio, seed,
                             images.value if images else None, strict, overwrite, append, workers, classes)
    bar = _ProgressBar("labelme files")
    try:
        report = run_labelme(request, progress=bar)
    finally:
        bar.close()
    print_summary(report, as_json)


@guarded(inputs=("src",), outputs=("out",))
def yolo(
    src: Annotated[
        Path,
        typer.Argument(
            help="The data YAML of an Ultralytics pose dataset, or its folder.", show_default=False
        ),
    ],
    out: OutArg,
    images: ImagesOpt = ImagesMode.copy,
    overwrite: OverwriteOpt = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Convert an Ultralytics (YOLO) pose dataset to COCO keypoints and an MMPose metainfo file.

    Keypoint names come from kpt_names (else kpt_0, kpt_1, ...), swaps from flip_idx, one COCO category per
    class name.
    """
    from mmpx.convert.yolo import convert_yolo

    print_summary(convert_yolo(src, out, images=images.value, overwrite=overwrite, strict=strict), as_json)


@guarded(inputs=("ann", "images", "metainfo"), outputs=("out",))
def to_yolo(
    ann: Annotated[
        Path,
        typer.Argument(
            help="A COCO keypoint file, or a folder of them (one split per file, named after it).",
            show_default=False,
        ),
    ],
    out: OutArg,
    images: Annotated[
        Path,
        typer.Option(
            "--images", help="Folder the COCO file_name values are relative to.", show_default=False
        ),
    ],
    metainfo: Annotated[
        Path | None,
        typer.Option(
            "--metainfo",
            help="MMPose metainfo .py whose swaps give flip_idx (default: inferred from the names).",
            callback=metainfo_file,
            show_default=False,
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="Split name for a single file (default: its name if train/val/test, else train).",
            show_default=False,
        ),
    ] = None,
    link: Annotated[
        bool, typer.Option("--link", help="Hard-link (else symlink) images instead of copying.")
    ] = False,
    overwrite: OverwriteOpt = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Convert COCO keypoints to an Ultralytics (YOLO) pose dataset: data.yaml, images/ and labels/."""
    from mmpx.convert.to_yolo import convert_to_yolo

    report = convert_to_yolo(ann, out, images, metainfo=metainfo, split=split, link=link, overwrite=overwrite,
                             strict=strict)
    print_summary(report, as_json)


CategoryOpt = Annotated[
    str | None,
    typer.Option("--category", help="COCO category name (default: the skeleton's name; with --append: the "
                 "dataset's).", show_default=False),
]
ValRatioOpt = Annotated[
    float, typer.Option("--val-ratio", help="Share of the frames that go to val (0 allowed).", min=0.0, max=0.99)
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the train/val split; same seed, same split.")]
FramesImagesOpt = Annotated[
    ImagesMode | None,
    typer.Option(
        "--images",
        help="Copy the image files into OUT/images, hard-link them (symlink across file systems), or write none "
        "(file names stay relative to the source). Video and embedded frames are written as PNG (not with none). "
        "Default: copy; with --append: as the dataset was made.",
        case_sensitive=False,
        show_default=False,
    ),
]
FramesAppendOpt = Annotated[
    bool,
    typer.Option(
        "--append",
        help="Add the frames of SRC that the dataset OUT does not hold yet (OUT written by mmpx convert dlc, "
        "sleap, labelstudio, nwb or labelme, with the same keypoints in any order): its images, ids and split "
        "stay as they are; new frames get the next ids and their own split (--val-ratio, --seed); a frame whose "
        "image OUT already holds is reported as a duplicate and not added, its labels not updated. Atomic, "
        "like --overwrite.",
    ),
]


def _convert_pose_file(fmt: str, src: Path, out: Path, images: ImagesMode | None, category: str | None,
                       val_ratio: float, seed: int, overwrite: bool, strict: bool, as_json: bool,
                       append: bool = False) -> None:
    from mmpx.errors import MmpxError

    mode = images.value if images else None
    if append and overwrite:
        raise MmpxError("--append and --overwrite together: --append keeps OUT and adds to it, --overwrite "
                        "replaces it", "drop one of them")
    if append:
        from mmpx.convert.sleapio_append import append_sleapio

        report = append_sleapio(fmt, src, out, images=mode, category=category, val_ratio=val_ratio, seed=seed,
                                strict=strict)
    else:
        from mmpx.convert.sleapio import convert_sleapio

        report = convert_sleapio(fmt, src, out, images=mode or "copy", category=category, val_ratio=val_ratio,
                                 seed=seed, overwrite=overwrite, strict=strict)
    print_summary(report, as_json)


@guarded(inputs=("src",), outputs=("out",))
def dlc(
    src: Annotated[
        Path,
        typer.Argument(help="A DeepLabCut project folder (config.yaml + labeled-data/*/CollectedData_*.csv), its "
                       "config.yaml, or one CollectedData_*.csv (or the .h5 beside it).", show_default=False),
    ],
    out: OutArg,
    images: FramesImagesOpt = None,
    category: CategoryOpt = None,
    val_ratio: ValRatioOpt = 0.2,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    strict: StrictOpt = False,
    append: FramesAppendOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Convert DeepLabCut labels (single- or multi-animal) to COCO keypoints and an MMPose metainfo file.

    Keypoints in the config's bodyparts order, links from its skeleton, swaps inferred from the names.
    Needs sleap-io (the formats extra).
    With --append, adds the frames OUT does not hold yet to such an OUT.
    """
    _convert_pose_file("dlc", src, out, images, category, val_ratio, seed, overwrite, strict, as_json, append)


@guarded(inputs=("src",), outputs=("out",))
def sleap(
    src: Annotated[
        Path, typer.Argument(help="A SLEAP .slp file (frames embedded, or from its videos).", show_default=False)
    ],
    out: OutArg,
    images: FramesImagesOpt = None,
    category: CategoryOpt = None,
    val_ratio: ValRatioOpt = 0.2,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    strict: StrictOpt = False,
    append: FramesAppendOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Convert a SLEAP .slp file to COCO keypoints, images and an MMPose metainfo file.

    User-labelled instances (predictions only when there are none), the skeleton's links and symmetries;
    frames of videos or embedded in the file are written as PNG. Needs sleap-io (the formats extra).
    With --append, adds the frames OUT does not hold yet to such an OUT.
    """
    _convert_pose_file("sleap", src, out, images, category, val_ratio, seed, overwrite, strict, as_json, append)


@guarded(inputs=("src",), outputs=("out",))
def labelstudio(
    src: Annotated[
        Path,
        typer.Argument(help="A Label Studio JSON export of keypoint tasks; images are looked up beside it "
                       "(or under images/ beside it) by name.", show_default=False),
    ],
    out: OutArg,
    images: FramesImagesOpt = None,
    category: CategoryOpt = None,
    val_ratio: ValRatioOpt = 0.2,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    strict: StrictOpt = False,
    append: FramesAppendOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Convert a Label Studio keypoint export to COCO keypoints, images and an MMPose metainfo file.

    Keypoint names sorted (Label Studio has no order), swaps inferred from them. Needs sleap-io (the formats
    extra).
    With --append, adds the frames OUT does not hold yet to such an OUT.
    """
    _convert_pose_file("labelstudio", src, out, images, category, val_ratio, seed, overwrite, strict, as_json, append)


@guarded(inputs=("src",), outputs=("out",))
def nwb(
    src: Annotated[Path, typer.Argument(help="An NWB file with ndx-pose data.", show_default=False)],
    out: OutArg,
    images: FramesImagesOpt = None,
    category: CategoryOpt = None,
    val_ratio: ValRatioOpt = 0.2,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    strict: StrictOpt = False,
    append: FramesAppendOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Convert an NWB pose file (ndx-pose training frames, or pose estimates) to COCO keypoints and metainfo.

    Frames come from the videos the file names (written as PNG). Needs sleap-io (the formats extra).
    With --append, adds the frames OUT does not hold yet to such an OUT.
    """
    _convert_pose_file("nwb", src, out, images, category, val_ratio, seed, overwrite, strict, as_json, append)
