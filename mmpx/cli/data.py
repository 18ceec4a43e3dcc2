"""``mmpx data``: dataset utilities; ``mmpx data synth carpose`` draws a synthetic car-keypoint dataset, ``mmpx
data synth street`` one with two classes (cars and bicycles), ``mmpx data synth traffic`` the synthetic traffic clip
the video docs use."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded

app = make_typer(help="Dataset utilities: synthetic datasets.")
synth = make_typer(help="Draw synthetic keypoint datasets (numpy + cv2; no downloads).")
app.add_typer(synth, name="synth")


@synth.command("carpose")
@guarded(outputs=("out",))
def carpose(
    out: Annotated[Path, typer.Argument(help="Output folder for the images and labelme JSON files.",
                                        show_default=False)],
    n: Annotated[int, typer.Option("--n", "-n", help="Number of images.", min=1)] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same files.")] = 0,
    size: Annotated[int, typer.Option("--size", help="Image width and height in pixels.", min=64)] = 256,
    max_cars: Annotated[int, typer.Option("--max-cars", help="Most cars in one image.", min=1)] = 3,
    image_format: Annotated[str, typer.Option("--format", help="Image format: jpg or png.")] = "jpg",
    occlusion: Annotated[
        float, typer.Option("--occlusion", help="Chance that a car gets an occluder in front of it.", min=0, max=1)
    ] = 0.35,
) -> None:
    """Synthetic cars with 8 keypoints (bumper corners, tire centres) in labelme format.

    Convert the result for training with [bold]mmpx convert labelme OUT DATA --images copy[/bold].
    """
    from mmpx.synth.carpose import KEYPOINTS, synth_carpose

    start = time.perf_counter()
    summary = synth_carpose(out, n=n, seed=seed, size=size, max_cars=max_cars, image_format=image_format,
                           occlusion=occlusion)
    typer.echo(f"wrote {summary.images} images with {summary.cars} cars and {summary.points} keypoints "
               f"({summary.occluded} occluded) to {summary.out} in {time.perf_counter() - start:.1f} s")
    typer.echo(f"keypoints: {','.join(KEYPOINTS)}")


@synth.command("street")
@guarded(outputs=("out",))
def street(
    out: Annotated[Path, typer.Argument(help="Output folder for the images and labelme JSON files.",
                                        show_default=False)],
    n: Annotated[int, typer.Option("--n", "-n", help="Number of images.", min=1)] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same files.")] = 0,
    size: Annotated[int, typer.Option("--size", help="Image width and height in pixels.", min=64)] = 256,
    max_cars: Annotated[int, typer.Option("--max-cars", help="Most cars in one image (0: none).", min=0)] = 2,
    max_bicycles: Annotated[
        int, typer.Option("--max-bicycles", help="Most bicycles in one image (0: none).", min=0)
    ] = 2,
    image_format: Annotated[str, typer.Option("--format", help="Image format: jpg or png.")] = "jpg",
    occlusion: Annotated[
        float, typer.Option("--occlusion", help="Chance that an object gets an occluder in front of it.", min=0,
                            max=1)
    ] = 0.35,
) -> None:
    """Synthetic street scenes with two classes in labelme format: cars (8 keypoints) and bicycles (6).

    Each instance: a rectangle labelled with its class (car, bicycle) and its points, sharing a group_id.

    Convert with [bold]mmpx convert labelme OUT DATA --classes car,bicycle --images copy[/bold].
    """
    from mmpx.synth.street import CLASSES, synth_street

    start = time.perf_counter()
    summary = synth_street(out, n=n, seed=seed, size=size, max_cars=max_cars, max_bicycles=max_bicycles,
                           image_format=image_format, occlusion=occlusion)
    typer.echo(f"wrote {summary.images} images with {summary.cars} cars, {summary.bicycles} bicycles and "
               f"{summary.points} keypoints ({summary.occluded} occluded) to {summary.out} in "
               f"{time.perf_counter() - start:.1f} s")
    for name, keypoints in CLASSES.items():
        typer.echo(f"{name} keypoints: {','.join(keypoints)}")


@synth.command("traffic")
@guarded(outputs=("out",))
def traffic(
    out: Annotated[Path, typer.Argument(help="Video file to write: .mp4 (mp4v) or .avi (MJPG).",
                                        show_default=False)],
    frames: Annotated[int, typer.Option("--frames", help="Number of frames.", min=2)] = 48,
    cars: Annotated[int, typer.Option("--cars", help="Number of cars (the first two cross once).", min=2)] = 3,
    width: Annotated[int, typer.Option("--width", help="Frame width in pixels.", min=96)] = 640,
    height: Annotated[int, typer.Option("--height", help="Frame height in pixels.", min=96)] = 480,
    fps: Annotated[float, typer.Option("--fps", help="Frame rate stored in the file.", min=1)] = 25.0,
    seed: Annotated[int, typer.Option("--seed", help="The cars' shapes; the same seed gives the same clip.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """A synthetic traffic clip: cars crossing a road, drawn as the carpose cars (8 keypoints).

    The clip of docs/guides/infer.md and docs/reference/python-api.md, for [bold]mmpx infer OUT --track[/bold].
    """
    from mmpx.atomic import check_writable
    from mmpx.errors import MmpxError
    from mmpx.synth.traffic import check_video_path, traffic_clip, write_video

    check_video_path(out)
    check_writable(out, "OUT")  # a folder in the way, a read-only folder: said now
    if out.exists() and not force:
        raise MmpxError(f"{out} exists", "pass --force to replace it, or give a new file name")
    start = time.perf_counter()
    clip = traffic_clip(frames=frames, cars=cars, width=width, height=height, fps=fps, seed=seed)
    write_video(clip, out)
    typer.echo(f"wrote {out}: {frames} frames of {width}x{height} at {fps:g} fps, {cars} cars (cars 1 and 2 "
               f"cross at frame {clip.crossing}) in {time.perf_counter() - start:.1f} s")
