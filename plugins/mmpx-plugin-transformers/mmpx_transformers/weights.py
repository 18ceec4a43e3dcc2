"""Loading local weights into a transformers backbone: a ``save_pretrained`` folder or a state-dict file.

Never the Hugging Face Hub: a value that is not an existing path is an error that says how to get the files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import ConfigError

SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
# What save_pretrained writes, in the order transformers prefers them.
FOLDER_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _how_to_get(value: str) -> str:
    hub = value if _HUB_ID.match(value) else "facebook/convnext-tiny-224"
    return (f"on a machine with network run: python -c \"from transformers import AutoBackbone; "
            f"AutoBackbone.from_pretrained('{hub}').save_pretrained('convnext-local')\", copy the folder "
            "here and set weights='path/to/convnext-local' (or weights=None to start from random weights)")


def resolve(weights: str | Path) -> Path:
    """The local file or folder ``weights`` names.

    Raises:
        ConfigError: it does not exist (a Hub id such as ``facebook/convnext-tiny-224`` is named as one), or
            it is a file of another kind, or a folder without weights.
    """
    value = str(weights)
    path = Path(value).expanduser()
    if not path.exists():
        hub = " It looks like a Hugging Face Hub id: HFBackbone never downloads." if _HUB_ID.match(value) \
            else ""
        raise ConfigError(f"HFBackbone weights {value!r} is not a file or folder (relative paths start at "
                          f"{Path.cwd()}).{hub}", _how_to_get(value))
    if path.is_file() and path.suffix not in SUFFIXES:
        raise ConfigError(f"HFBackbone weights {value!r} is a {path.suffix or 'suffix-less'} file",
                          f"give a save_pretrained folder or a state dict ({', '.join(SUFFIXES)})")
    if path.is_dir() and not any((path / name).is_file() for name in FOLDER_FILES):
        raise ConfigError(f"HFBackbone weights folder {value!r} holds none of {', '.join(FOLDER_FILES)}",
                          "give the folder that save_pretrained wrote (config.json + model.safetensors)")
    return path


def _read_file(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    from mmpose_ext.compat import checkpoint as safe_checkpoint
    from mmpose_ext.models.checkpoint_fit import state_dict_of

    # the project's safe loader: plain tensors load, pickled code is refused unless the file is trusted
    obj = safe_checkpoint.load(str(path), map_location="cpu")
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and "state_dict" not in obj:
        obj = obj["model"]
    return state_dict_of(obj, str(path))


def read_state_dict(path: Path) -> dict:
    """The tensors of a weights file, or of a ``save_pretrained`` folder (sharded or not)."""
    if path.is_file():
        return _read_file(path)
    for name in FOLDER_FILES:
        file = path / name
        if not file.is_file():
            continue
        if name.endswith(".index.json"):
            shards = sorted(set(json.loads(file.read_text())["weight_map"].values()))
            state: dict = {}
            for shard in shards:
                state.update(_read_file(path / shard))
            return state
        return _read_file(file)
    raise AssertionError("resolve() checked the folder")  # pragma: no cover


@dataclass
class LoadReport:
    """What :func:`load_into` loaded: the prefix stripped from the file's names and the names left out."""

    source: str
    prefix: str = ""
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        strip = f" (names under {self.prefix!r})" if self.prefix else ""
        text = f"HFBackbone loaded {len(self.loaded)} tensors from {self.source}{strip}"
        if self.missing:
            text += (f"; {len(self.missing)} kept their initial values (not in the file): "
                     + ", ".join(self.missing[:6]) + (", ..." if len(self.missing) > 6 else ""))
        if self.unexpected:
            text += (f"; {len(self.unexpected)} tensors of the file are not in the backbone "
                     "(e.g. a classifier)")
        return text


def _config_differences(folder: Path, model) -> list[str]:
    """``key: folder value vs model value`` for config keys that differ from the folder's config.json."""
    file = folder / "config.json"
    if not file.is_file():
        return []
    saved = json.loads(file.read_text())
    own = model.config.to_dict()
    keys = [k for k in saved if k in own and not k.startswith("_") and k not in (
        "architectures", "out_features", "out_indices", "stage_names", "transformers_version", "dtype",
        "torch_dtype", "id2label", "label2id")]
    return [f"{k}={saved[k]!r} (config: {own[k]!r})" for k in keys if saved[k] != own[k]]


def load_into(model, weights: str | Path) -> LoadReport:
    """Copy the tensors of ``weights`` into ``model`` (a transformers backbone) by name.

    The file's names may carry a prefix: the model's ``base_model_prefix`` (``convnext.`` in an image
    classifier's file), ``backbone.model.`` (an mmpose-ext checkpoint of HFBackbone) or ``model.``; the prefix
    that matches most names is used. Tensors of the model missing from the file keep their values (the
    backbone's output norms are not in a classifier's file); tensors of the file the model lacks are ignored.

    Raises:
        ConfigError: the path is not usable (see :func:`resolve`), no tensor of the file fits the model, or
            some fit by name but not by shape (the config differs from the weights').
    """
    import torch

    path = resolve(weights)
    state = {k: v for k, v in read_state_dict(path).items() if isinstance(v, torch.Tensor)}
    target = model.state_dict()
    prefixes = ["", f"{model.base_model_prefix}.", "backbone.model.", "model.", "backbone."]
    best = max(prefixes, key=lambda p: sum(1 for k in state if k.startswith(p) and k[len(p):] in target))
    named = {k[len(best):]: v for k, v in state.items() if k.startswith(best) and k[len(best):] in target}
    if not named:
        raise ConfigError(f"HFBackbone weights {str(weights)!r}: none of its {len(state)} tensors is a "
                          f"tensor of this {model.config.model_type!r} backbone "
                          f"(e.g. {next(iter(state), 'none')!r} vs "
                          f"{next(iter(target))!r})", "check model_type: the weights are of another model")
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(target[k].shape)}" for k, v in named.items()
             if v.shape != target[k].shape]
    if wrong:
        differ = _config_differences(path, model) if path.is_dir() else []
        hint = (f"copy these values from its config.json into HFBackbone's config: {'; '.join(differ)}"
                if differ else "make HFBackbone's config (hidden_sizes, depths, ...) the one the weights had")
        raise ConfigError(f"HFBackbone weights {str(weights)!r} do not fit the config: {len(wrong)} tensors "
                          f"differ in shape, e.g. {'; '.join(wrong[:3])} (file vs model)", hint)
    with torch.no_grad():
        for name, tensor in named.items():
            target[name].copy_(tensor)
    unexpected = sorted(k for k in state if not (k.startswith(best) and k[len(best):] in target))
    return LoadReport(source=str(path), prefix=best, loaded=sorted(named),
                      missing=sorted(set(target) - set(named)), unexpected=unexpected)
