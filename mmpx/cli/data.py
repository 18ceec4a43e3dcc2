"""``mmpx data``: dataset utilities; ``mmpx data synth carpose`` draws a synthetic car-keypoint dataset."""

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
    n: Annotated[int, typer.Option("--n", help="Number of images.", min=1)] = 200,
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
