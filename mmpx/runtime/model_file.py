"""An exported model is one file: the ONNX graph with its sidecar inside (``metadata_props``), plus a JSON copy.

A model and its sidecar written as two files cannot be replaced together: a failure or a kill between the two
renames left a new model beside an old sidecar, and the previous writer removed the new model when the second
rename failed, so neither the old nor the new model remained. Here the sidecar travels inside the ONNX file,
which is moved into place with one ``os.replace``: a reader (``OnnxPoseModel``) sees the old model or the new one,
each with its own sidecar. ``NAME.json`` beside it is a copy for people and other tools, written afterwards.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mmpx.atomic import clean_stale, file_mode, tmp_name, write_text
from mmpx.atomic.stale import lock_tmp, release
from mmpx.errors import MmpxError

SIDECAR_KEY = "mmpose_ext.sidecar"
ONE_STAGE_FORMAT = "mmpose-ext/onnx-one-stage"
# each kind of exported model: the sidecar's format -> (what it is, what runs it)
KINDS = {
    "mmpose-ext/onnx-pose": ("a top-down pose model (it needs boxes from a detector)",
                             "run it with mmpx.runtime.OnnxPoseModel, or mmpx infer --weights POSE.onnx"),
    "mmpose-ext/onnx-detector": ("a detector", "run it with mmpx.runtime.OnnxDetector, or pass it as --det-weights"),
    ONE_STAGE_FORMAT: ("a one-stage model (boxes and keypoints from the whole image)",
                       "run it with mmpx.runtime.one_stage.OnnxOneStage"),
}


def kind_error(onnx_path, data, wanted: str) -> MmpxError | None:
    """The plain "NAME is a one-stage model, not a detector" error when the sidecar ``data`` says another kind of
    model than the format ``wanted``; None when it is that kind or no kind mmpx knows."""
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt == wanted or fmt not in KINDS or wanted not in KINDS:
        return None
    what, hint = KINDS[fmt]
    return MmpxError(f"{Path(onnx_path).name} is {what}, not {KINDS[wanted][0].split(' (')[0]} (its sidecar says "
                     f"format {fmt!r})", hint)


def read_sidecar(onnx_path, sidecar=None, embedded: dict | None = None, of: str = "",
                 export: str = "mmpx export onnx CONFIG CKPT") -> tuple[object, str]:
    """A model's sidecar and where it came from: ``embedded`` (the copy inside the ONNX file, which always matches
    the graph) unless a ``sidecar`` file is named, else ``NAME.json`` beside the model. Its kind is the caller's
    to check.

    Args:
        of: how the missing-file message names the model (``"the detector "``).
        export: the command that writes a sidecar, for the hints.

    Raises:
        MmpxError: the file is missing or not JSON.
    """
    if sidecar is None and embedded is not None:
        return embedded, f"{onnx_path} (embedded sidecar)"
    path = Path(sidecar) if sidecar is not None else Path(onnx_path).with_suffix(".json")
    if not path.is_file():
        where = f" of {of}{onnx_path}" if of else ""
        raise MmpxError(f"sidecar {path}{where} does not exist", f"export with `{export}`, which writes it")
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except (OSError, ValueError) as exc:
        raise MmpxError(f"sidecar {path} is not valid JSON: {exc}", "export the model again") from exc


def embed_sidecar(onnx_file: str | Path, sidecar: dict) -> None:
    """Store ``sidecar`` in the ONNX file's ``metadata_props`` (rewrites the file in place)."""
    import onnx

    model = onnx.load(str(onnx_file))
    kept = [p for p in model.metadata_props if p.key != SIDECAR_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=SIDECAR_KEY, value=json.dumps(sidecar, separators=(",", ":")))
    onnx.save(model, str(onnx_file))


def embedded_sidecar(session) -> dict | None:
    """The sidecar inside the model an ONNX Runtime ``session`` loaded, or None (models exported before it was)."""
    text = session.get_modelmeta().custom_metadata_map.get(SIDECAR_KEY)
    return json.loads(text) if text else None


def open_session(onnx_path: Path, threads: int | None = None, providers=None):
    """An ONNX Runtime session on ``onnx_path`` under the thread policy, and the sidecar inside it (or None).

    Raises:
        MmpxError: the file is damaged or not ONNX (protobuf parse errors arrive as ORT's own exception types).
    """
    import onnxruntime as ort

    from mmpx.runtime.threads import session_options

    try:
        session = ort.InferenceSession(str(onnx_path), sess_options=session_options(threads),
                                       providers=list(providers or ["CPUExecutionProvider"]))
        return session, embedded_sidecar(session)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise MmpxError(f"{onnx_path} is not a readable ONNX model: {first}",
                        "the file is damaged or not ONNX; export it again with `mmpx export onnx`") from exc


def publish(staged_onnx: str | Path, onnx_path: str | Path, sidecar: dict, sidecar_path: str | Path) -> None:
    """Embed ``sidecar`` in ``staged_onnx``, move it to ``onnx_path`` in one rename, then write the JSON copy.

    Raises:
        MmpxError: the JSON copy could not be written (the model itself is in place and complete).
    """
    staged_onnx, onnx_path, sidecar_path = Path(staged_onnx), Path(onnx_path), Path(sidecar_path)
    embed_sidecar(staged_onnx, sidecar)
    os.chmod(staged_onnx, file_mode())
    os.replace(staged_onnx, onnx_path)  # the commit point: model and sidecar together
    release(staged_onnx)
    try:
        write_text(sidecar_path, json.dumps(sidecar, indent=2) + "\n")
    except OSError as exc:
        raise MmpxError(f"wrote {onnx_path} (its sidecar is inside it), but not the copy {sidecar_path}: {exc}",
                        "the model works as it is; free space or fix permissions, then export again") from exc


def staged_path(onnx_path: Path) -> Path:
    """A temporary file beside ``onnx_path`` for the model being written (same folder, so the rename is atomic)."""
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(onnx_path.parent)  # what killed exports left there
    fd, name = tempfile.mkstemp(prefix=tmp_name(onnx_path.name), suffix=".tmp.onnx", dir=onnx_path.parent)
    os.close(fd)
    lock_tmp(name)  # another export's cleanup leaves it alone while this one writes
    return Path(name)


def check_targets(onnx_path: str | Path, option: str = "--out") -> None:
    """Refuse, before any work, a model path whose ``NAME.json`` copy would replace a file mmpx did not write
    (``--out ann/val.onnx`` beside the COCO file ``ann/val.json``)."""
    sidecar = Path(onnx_path).with_suffix(".json")
    if not sidecar.exists() and not sidecar.is_symlink():
        return
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        ours = isinstance(data, dict) and data.get("format") in KINDS
    except (OSError, ValueError):
        ours = False
    if sidecar.is_symlink() or not ours:
        raise MmpxError(f"{option} {onnx_path}: its sidecar copy would replace {sidecar}, which is not a sidecar "
                        "mmpx wrote", f"choose another name for the model, or move {sidecar} away; nothing was "
                        "written")


__all__ = ["KINDS", "ONE_STAGE_FORMAT", "SIDECAR_KEY", "check_targets", "embed_sidecar", "embedded_sidecar",
           "kind_error", "publish", "staged_path"]
