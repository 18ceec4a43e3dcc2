"""``mmpx transformers-info``: each stage of a transformers backbone, and the head settings that follow.

Typer reads the annotated signature when ``mmpx`` builds the command; torch and transformers are imported
inside the function (the host imports this module only when the command is built).
"""

from __future__ import annotations

import ast
import json
from typing import Annotated

import typer
from mmpx.errors import MmpxError


def parse_config(items: list[str] | None) -> dict:
    """``--config`` values as one dict: each a JSON object or ``KEY=VALUE`` (VALUE a Python/JSON literal, else
    a string), later ones winning.

    Raises:
        MmpxError: an item that is neither.
    """
    config: dict = {}
    for item in items or []:
        text = item.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise MmpxError(f"--config {item!r} is not a JSON object: {exc}",
                                'e.g. --config \'{"hidden_sizes": [32, 64, 128, 256]}\'') from None
            if not isinstance(value, dict):
                raise MmpxError(f"--config {item!r} is not a JSON object", "give {...} or KEY=VALUE")
            config.update(value)
            continue
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise MmpxError(f"--config {item!r} is neither a JSON object nor KEY=VALUE",
                            "e.g. --config hidden_sizes=[32,64,128,256] --config depths=[1,1,2,1]")
        config[key.strip()] = _literal(raw.strip())
    return config


def _literal(raw: str):
    for parse in (ast.literal_eval, json.loads):
        try:
            return parse(raw)
        except (ValueError, SyntaxError, json.JSONDecodeError):
            pass
    return raw  # a bare word: a string such as gelu


def describe(model_type: str, config: dict, input_size: tuple[int, int], out_index: int = -1) -> dict:
    """Build the backbone (random weights), run it once on a zero input and describe every stage and the head
    settings for the stage ``out_index``.

    Raises:
        ConfigError: an unknown model type or config key, or values transformers refuses.
        MmpxError: a bad ``out_index`` or input size, or the forward pass fails at this input size.
    """
    import torch
    import transformers
    from transformers import AutoBackbone

    from mmpx_transformers import hf

    w, h = input_size
    if w < 1 or h < 1:
        raise MmpxError(f"--input-size {w} {h} must be positive", "e.g. --input-size 128 128")
    hf_config, _ = hf.make_config(model_type, config, (-1,))
    num_stages = len(hf_config.stage_names) - 1
    if not -num_stages <= out_index < num_stages:
        raise MmpxError(f"--out-index {out_index} is not one of the {num_stages} stages",
                        f"0 to {num_stages - 1}, or -1 for the last")
    hf_config.out_indices = list(range(1, num_stages + 1))  # every stage
    model = AutoBackbone.from_config(hf_config).eval()
    try:
        with torch.no_grad():
            maps = model(torch.zeros(1, hf_config.num_channels, h, w)).feature_maps
    except Exception as exc:  # e.g. an input smaller than the total stride
        raise MmpxError(f"{model_type}: the forward pass fails on a {w}x{h} input: "
                        f"{type(exc).__name__}: {exc}",
                        "try a larger --input-size (a multiple of the largest stride)") from exc
    strides = hf.stage_strides(model)
    stem, stage_modules = hf.layout(model)
    stages = [dict(index=i, name=hf_config.stage_names[i + 1], channels=int(m.shape[1]), stride=strides[i],
                   map_size=[int(m.shape[-1]), int(m.shape[-2])],
                   module=f"model.{stage_modules[i]}" if stage_modules else None)
              for i, m in enumerate(maps)]
    chosen = stages[out_index % num_stages]
    return dict(
        model_type=model_type, backbone_class=type(model).__name__, transformers=transformers.__version__,
        config=config, input_size=[w, h], stem=f"model.{stem}" if stem else None, stages=stages,
        head=head_settings(chosen, (w, h)),
    )


def head_settings(stage: dict, input_size: tuple[int, int]) -> dict:
    """RTMCCHead and HeatmapHead settings for a head reading ``stage`` (a row of :func:`describe`)."""
    w, h = input_size
    fw, fh = stage["map_size"]
    sizes = [[fw * 2**k, fh * 2**k] for k in range(4)]  # each HeatmapHead deconv (kernel 4, stride 2) doubles
    quarter = [w // 4, h // 4]  # MMPose's usual heatmap_size: input / 4
    deconvs = next((k for k, size in enumerate(sizes) if size == quarter), None)
    return dict(
        out_index=stage["index"], in_channels=stage["channels"], stride=stage["stride"],
        rtmcc=dict(in_channels=stage["channels"], in_featuremap_size=[fw, fh], input_size=[w, h]),
        heatmap=dict(in_channels=stage["channels"], sizes_by_deconv_layers=sizes, quarter_input=quarter,
                     deconv_layers_for_quarter=deconvs),
    )


def _print(info: dict) -> None:
    w, h = info["input_size"]
    typer.echo(f"{info['model_type']} ({info['backbone_class']}, transformers {info['transformers']}), "
               f"one forward pass on a zero {w}x{h} (W x H) input")
    rows = [("stage", "name", "channels", "stride", "map WxH", "module")]
    rows += [(str(s["index"]), s["name"], str(s["channels"]), str(s["stride"]),
              f"{s['map_size'][0]}x{s['map_size'][1]}", s["module"] or "?") for s in info["stages"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
    for s in info["stages"]:
        if s["map_size"][0] * s["stride"] != w or s["map_size"][1] * s["stride"] != h:
            typer.echo(f"  note: {w}x{h} is not a multiple of stage {s['index']}'s stride {s['stride']}: "
                       f"its map is {s['map_size'][0]}x{s['map_size'][1]}; the sizes below are measured")
            break
    n = len(info["stages"])
    typer.echo(f"stem: {info['stem'] or '?'}; --freeze backbone:N freezes it and the first N stages "
               f"(N = 1..{n})")
    head = info["head"]
    rtm, hm = head["rtmcc"], head["heatmap"]
    typer.echo(f"head settings for out_indices=({head['out_index']},) (stride {head['stride']}):")
    fw, fh = rtm["in_featuremap_size"]
    typer.echo(f"  RTMCCHead: in_channels={rtm['in_channels']}, in_featuremap_size=({fw}, {fh}), "
               f"input_size=({w}, {h})")
    sizes = ", ".join(f"{k}: {s[0]}x{s[1]}" for k, s in enumerate(hm["sizes_by_deconv_layers"]))
    typer.echo(f"  HeatmapHead: in_channels={hm['in_channels']}; heatmap size by number of deconv layers: "
               f"{sizes}")
    k, (qw, qh) = hm["deconv_layers_for_quarter"], hm["quarter_input"]
    if k is None:
        typer.echo(f"    no number of deconv layers gives the usual codec heatmap_size=({qw}, {qh}) "
                   "(input / 4): set the codec's heatmap_size to one of the sizes above, or read another "
                   "stage (--out-index)")
    elif k == 0:
        typer.echo(f"    codec heatmap_size=({qw}, {qh}) (input / 4): no deconv layers "
                   "(deconv_out_channels=None)")
    else:
        chans, kernels = (min(hm["in_channels"], 256),) * k, (4,) * k
        typer.echo(f"    codec heatmap_size=({qw}, {qh}) (input / 4): {k} deconv layer(s), e.g. "
                   f"deconv_out_channels={chans}, deconv_kernel_sizes={kernels}")


def info(
    model_type: Annotated[str, typer.Argument(help="transformers AutoBackbone model type, e.g. convnext, "
                                                   "resnet, swin, dinov2.", show_default=False)],
    config: Annotated[
        list[str] | None,
        typer.Option("--config", "-c", help="Config of the model type: a JSON object or KEY=VALUE (repeat), "
                                            "e.g. -c hidden_sizes=[32,64,128,256] -c depths=[1,1,2,1].",
                     show_default=False),
    ] = None,
    input_size: Annotated[
        tuple[int, int], typer.Option("--input-size", help="Input width and height (the codec's input_size).")
    ] = (128, 128),
    out_index: Annotated[
        int, typer.Option("--out-index", help="Stage the head reads (0-based, -1 the last).")
    ] = -1,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Build a transformers backbone from its config (random weights, nothing downloads), run it once on a
    zero input and print each stage's channels and stride, and the RTMCCHead / HeatmapHead settings that
    follow.

    Example: mmpx transformers-info convnext -c hidden_sizes=[32,64,128,256] -c depths=[1,1,2,1]
    """
    size = (int(input_size[0]), int(input_size[1]))
    described = describe(model_type, parse_config(config), size, out_index)
    if as_json:
        typer.echo(json.dumps(described, indent=2))
    else:
        _print(described)


__all__ = ["describe", "head_settings", "info", "parse_config"]
