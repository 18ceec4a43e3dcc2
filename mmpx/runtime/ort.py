"""``OnnxPoseModel``: top-down pose inference with ONNX Runtime and numpy, matching ``inference_topdown``.

Nothing here imports torch: crops, normalisation, flip test and decoding (SimCCLabel, MSRAHeatmap, UDPHeatmap)
are numpy/OpenCV ports of MMPose's code (see decode.py). Other codecs need MMPose's own codec class (torch):
pass ``codec_builder`` (``mmpose_ext.deploy.build_codec``; ``mmpx infer`` does), the core never imports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.runtime import decode as dec
from mmpx.runtime.det import DET_FORMAT
from mmpx.runtime.model_file import kind_error, open_session, read_sidecar
from mmpx.runtime.sidecar_check import sidecar_problems

SIDECAR_FORMAT = "mmpose-ext/onnx-pose"
# fields of a parsed metainfo that MMPose keeps as numpy arrays
_ARRAY_FIELDS = {
    "keypoint_colors": np.uint8,
    "skeleton_link_colors": np.uint8,
    "dataset_keypoint_weights": np.float32,
    "sigmas": np.float32,
}


def sidecar_path_for(onnx_path: str | Path) -> Path:
    """Where ``mmpx export onnx`` puts the sidecar of ``onnx_path``: the same name with ``.json``."""
    return Path(onnx_path).with_suffix(".json")


def load_sidecar(onnx_path: str | Path, sidecar: str | Path | None = None, embedded: dict | None = None) -> dict:
    """The sidecar of an exported model, checked: ``embedded`` (the copy inside the ONNX file, which always
    matches the graph) unless a ``sidecar`` file is named, else the JSON beside the .onnx file."""
    data, path = read_sidecar(onnx_path, sidecar, embedded)
    if isinstance(data, dict) and (data.get("format") == DET_FORMAT or data.get("kind") == "detector"):
        name = Path(onnx_path).name
        raise MmpxError(f"{name} is a detector: pass it as --det-weights / detector= (its sidecar {path} says "
                        f"format {data.get('format')!r}; the pose model is an mmpose-ext/onnx-pose export)",
                        f"e.g. mmpx infer IMAGES --weights POSE.onnx --det-weights {name}, or "
                        f"PoseEstimator('POSE.onnx', detector='{name}')")
    other = kind_error(onnx_path, data, SIDECAR_FORMAT)  # a one-stage model: the detector is named above
    if other is not None:
        raise other
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise MmpxError(f"{path} is not an mmpose-ext sidecar (format != {SIDECAR_FORMAT!r})", "export again")
    for key in ("input", "outputs", "head", "preprocess", "codec", "test_cfg", "dataset_meta"):
        if key not in data:
            raise MmpxError(f"sidecar {path} has no {key!r} field", "export the model again with this version")
    return data


def dataset_meta_from_json(meta: dict) -> dict:
    """The sidecar's JSON metainfo back to MMPose's parsed form (int ids, numpy colour arrays, tuple pairs)."""
    meta = dict(meta)
    if "keypoint_id2name" in meta:
        meta["keypoint_id2name"] = {int(k): v for k, v in meta["keypoint_id2name"].items()}
    for key in ("skeleton_links", "flip_pairs"):
        if key in meta:
            meta[key] = [tuple(p) for p in meta[key]]
    for key, dtype in _ARRAY_FIELDS.items():
        if key in meta and meta[key] is not None:
            meta[key] = np.array(meta[key], dtype=dtype)
    return meta


def _per_channel(values, default: float) -> list:
    """Three values: mmengine's data preprocessor also takes one, broadcast over the channels."""
    if values is None:
        return [default] * 3
    return list(values) * 3 if isinstance(values, list) and len(values) == 1 else values


class OnnxPoseModel:
    """A top-down pose model exported by ``mmpx export onnx``, run with ONNX Runtime on the CPU by default.

    Args:
        onnx_path: the ``.onnx`` file.
        sidecar: its JSON sidecar (default: ``<onnx_path without .onnx>.json``).
        providers: ONNX Runtime execution providers (default ``["CPUExecutionProvider"]``).
        threads: intra-op threads (default: :mod:`mmpx.runtime.threads`' policy, the free cores).
        flip_test: override the sidecar's ``test_cfg.flip_test`` (None keeps it).
        codec_builder: builds a codec object with ``decode()`` from the sidecar's codec config, for codecs
            without a numpy port (``mmpose_ext.deploy.build_codec`` builds MMPose's own).
    """

    def __init__(self, onnx_path, sidecar=None, providers=None, threads=None, *, flip_test=None,
                 codec_builder=None):
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise MmpxError(f"ONNX model {onnx_path} does not exist", "export one with `mmpx export onnx CONFIG CKPT`")
        # the thread policy: free cores, no spinning between runs
        self.session, embedded = open_session(onnx_path, threads, providers)
        self.sidecar = load_sidecar(onnx_path, sidecar, embedded)
        try:
            self._read_sidecar(flip_test)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MmpxError(f"the sidecar of {onnx_path} has a bad field ({type(exc).__name__}: {exc})",
                            "export the model again with `mmpx export onnx`") from exc
        source = sidecar if sidecar is not None else sidecar_path_for(onnx_path)
        self._check_sidecar(onnx_path, None if sidecar is None and embedded is not None else source, flip_test)
        self._inputs: np.ndarray | None = None  # reused by predict()
        self._mmpose_codec = None
        if self.codec.get("type") not in dec.NUMPY_CODECS:
            self._mmpose_codec = self._build_codec(codec_builder)

    def _read_sidecar(self, flip_test) -> None:
        """The sidecar's fields as attributes (KeyError/TypeError/ValueError on a damaged one)."""
        sc = self.sidecar
        self.dataset_meta = dataset_meta_from_json(sc["dataset_meta"])
        self.input_size = tuple(int(v) for v in sc["input"]["size"])
        self.input_name = sc["input"].get("name", "input")
        self.dynamic_batch = bool(sc["input"].get("dynamic_batch", False))
        self.head_kind = sc["head"]["kind"]
        self.codec = sc["codec"]
        self.test_cfg = dict(sc["test_cfg"])
        if flip_test is not None:
            self.test_cfg["flip_test"] = bool(flip_test)
        pre = sc["preprocess"]
        self.mean = _per_channel(pre.get("mean"), 0.0)
        self.std = _per_channel(pre.get("std"), 1.0)
        self.bgr_to_rgb = bool(pre.get("bgr_to_rgb", False))
        self.padding = float(pre.get("bbox_padding", 1.25))
        self.use_udp = bool(pre.get("use_udp", False))
        # a visibility head's output (the graph's last): {"output": name, "logits": whether a sigmoid is to apply}
        self.visibility = dict(sc["visibility"]) if sc.get("visibility") else None
        if self.visibility and self.visibility["output"] != self.session.get_outputs()[-1].name:
            raise ValueError(f"visibility.output {self.visibility['output']!r} is not the graph's last output")

    @property
    def has_visibility(self) -> bool:
        """Whether the model predicts each keypoint's visibility (exported from a ``--visibility`` config)."""
        return self.visibility is not None

    def _check_sidecar(self, onnx_path: Path, sidecar_file, flip_test) -> None:
        """Refuse values out of range (a 1e9 input size, a zero std, flip indices past the last keypoint) and a
        graph the sidecar does not describe, with one line per problem, before anything runs. ``sidecar_file``:
        the JSON read, or None for the sidecar inside the model."""
        problems = sidecar_problems(self.sidecar, self.session, flip_test)
        if not problems:
            return
        where = f"{onnx_path}: sidecar" if sidecar_file is None else f"{onnx_path}: sidecar {sidecar_file}"
        lines = [f"{onnx_path}: {p}" if p.startswith("graph ") else f"{where} {p}" for p in problems]
        raise MmpxError("\n".join(lines), "export the model again with `mmpx export onnx` (a sidecar edited by hand "
                        "must keep these ranges and match the graph)")

    @property
    def flip_test(self) -> bool:
        return bool(self.test_cfg.get("flip_test", False))

    def _build_codec(self, codec_builder):
        """Codecs without a numpy port: built by ``codec_builder`` (MMPose's own class, which needs torch)."""
        name = self.codec.get("type")
        if codec_builder is None:
            raise MmpxError(
                f"codec {name!r} has no numpy decoder (numpy decoders: {', '.join(dec.NUMPY_CODECS)})",
                "pass codec_builder=mmpose_ext.deploy.build_codec (needs mmpose); `mmpx infer` does this itself",
            )
        try:
            return codec_builder(dict(self.codec))
        except Exception as exc:
            raise MmpxError(
                f"codec {name!r} has no numpy decoder and could not be built: {type(exc).__name__}: {exc}",
                f"numpy decoders exist for {', '.join(dec.NUMPY_CODECS)}; install mmpose for the others",
            ) from exc

    def _run(self, inputs: np.ndarray) -> list[np.ndarray]:
        """One session run for the whole batch if the graph has a dynamic batch, else one run per crop."""
        if self.dynamic_batch:
            return self.session.run(None, {self.input_name: inputs})
        runs = [self.session.run(None, {self.input_name: inputs[i : i + 1]}) for i in range(len(inputs))]
        return [np.concatenate(parts) for parts in zip(*runs, strict=True)]

    def forward(self, inputs: np.ndarray) -> list[np.ndarray]:
        """Raw head outputs for normalised (N, 3, H, W) inputs, flip test applied as the head does it."""
        if not self.flip_test:
            return self._run(inputs)
        return self._forward_flipped(np.concatenate([inputs, inputs[..., ::-1]]))  # as inputs.flip(-1)

    def _forward_flipped(self, stacked: np.ndarray) -> list[np.ndarray]:
        """``stacked`` = N crops then the same N flipped horizontally; the outputs averaged as MMPose does."""
        flip_indices = self.dataset_meta["flip_indices"]
        n = len(stacked) // 2
        outs = self._run(stacked)
        plain, flipped = [o[:n] for o in outs], [o[n:] for o in outs]
        # the visibility head's flip test: the mirrored crop's values swapped left/right, averaged (MMPose's)
        visible = [(plain[-1] + flipped[-1][:, flip_indices]) * 0.5] if self.has_visibility else []
        if self.head_kind == "simcc":
            fx, fy = dec.flip_vectors(flipped[0], flipped[1], flip_indices)
            return [(plain[0] + fx) * 0.5, (plain[1] + fy) * 0.5, *visible]
        hm = dec.flip_heatmaps(
            flipped[0],
            flip_indices,
            flip_mode=self.test_cfg.get("flip_mode", "heatmap"),
            shift_heatmap=self.test_cfg.get("shift_heatmap", False),
        )
        return [(plain[0] + hm) * 0.5, *visible]

    def decode(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Head outputs to keypoints (N, K, 2) in input-crop pixels and scores (N, K)."""
        codec_type = self.codec.get("type")
        if codec_type == "SimCCLabel":
            return dec.decode_simcc(self.codec, outputs[0], outputs[1])
        if codec_type == "MSRAHeatmap":
            return dec.decode_msra(self.codec, outputs[0])
        if codec_type == "UDPHeatmap":
            return dec.decode_udp(self.codec, outputs[0])
        kpts, scores = [], []
        for n in range(len(outputs[0])):  # MMPose decodes instance by instance
            k, s = self._mmpose_codec.decode(*[o[n] for o in outputs])
            kpts.append(k[0, :, :2])
            scores.append((s[0] if isinstance(s, tuple) else s)[0])
        return np.stack(kpts), np.stack(scores)

    def preprocess(self, image_bgr: np.ndarray, bboxes: np.ndarray, out: np.ndarray | None = None):
        """Crops as MMPose's val pipeline makes them: normalised inputs (N, 3, H, W), centres and scales (N, 2).

        ``out``: a float32 (N, 3, H, W) array to write the inputs into (default: a new one).
        """
        crops, center, scale = dec.crop_instances(image_bgr, bboxes, self.input_size, self.padding, self.use_udp)
        return dec.normalize(crops, self.mean, self.std, self.bgr_to_rgb, out=out), center, scale

    def _buffer(self, n: int) -> np.ndarray:
        """A reused (n, 3, H, W) float32 input buffer (grown when an image has more boxes than before)."""
        w, h = self.input_size
        if self._inputs is None or len(self._inputs) < n:
            self._inputs = np.empty((n, 3, h, w), np.float32)
        return self._inputs[:n]

    def predict(self, image_bgr: np.ndarray, bboxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, K, 2) in image pixels and scores (N, K), float32, for ``bboxes`` (N, 4) xyxy pixels."""
        keypoints, scores, _ = self.predict_with_visibility(image_bgr, bboxes)
        return keypoints, scores

    def predict_with_visibility(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        """As :meth:`predict`, plus ``visible`` (N, K) float32: the probability that each keypoint is seen (not
        hidden), or None when the model has no visibility output."""
        image_bgr = np.asarray(image_bgr)
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise MmpxError(f"predict() needs an H x W x 3 BGR image, got shape {image_bgr.shape}")
        bboxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
        K = int(self.dataset_meta["num_keypoints"])
        if len(bboxes) == 0:
            return np.zeros((0, K, 2), np.float32), np.zeros((0, K), np.float32), \
                np.zeros((0, K), np.float32) if self.has_visibility else None
        n = len(bboxes)
        if self.flip_test:  # crops and their mirror images in one buffer, one session run
            stacked = self._buffer(2 * n)
            _, center, scale = self.preprocess(image_bgr, bboxes, out=stacked[:n])
            stacked[n:] = stacked[:n, ..., ::-1]
            outputs = self._forward_flipped(stacked)
        else:
            inputs, center, scale = self.preprocess(image_bgr, bboxes, out=self._buffer(n))
            outputs = self._run(inputs)
        visible = None
        if self.has_visibility:
            visible = outputs.pop()
            visible = 1 / (1 + np.exp(-visible)) if self.visibility.get("logits") else visible
        keypoints, scores = self.decode(outputs)
        keypoints = dec.to_image_space(keypoints[..., :2], self.input_size, center, scale)
        indices = self.test_cfg.get("output_keypoint_indices")
        if indices is not None:
            keypoints, scores = keypoints[:, indices], scores[:, indices]
            visible = visible[:, indices] if visible is not None else None
        return keypoints.astype(np.float32), scores.astype(np.float32), \
            visible.astype(np.float32) if visible is not None else None
