"""``mmpx export onnx`` and ``OnnxPoseModel``: parity with MMPose's ``inference_topdown`` on real COCO images.

Models are built from their configs with seeded random weights and then perturbed (every BatchNorm gets random
running statistics and affine parameters), so their outputs vary from keypoint to keypoint and instance to
instance; no weights are downloaded. Keypoints must agree within 0.5 px (max abs) on the GT boxes of the COCO
val images in ../shared/data/mmpose-testdata, with flip test on and off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (compatibility fixes before any mmpose import below)
from tests.helpers import ROOT, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

RTMPOSE_CONFIG = """
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py']
model = dict(backbone=dict(init_cfg=None))
"""
BOTTOMUP_CONFIG = """
_base_ = ['mmpose::body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py']
"""
# conftest's tiny ResNet-18 heatmap model at the usual 192x256 input (48x64 heatmaps: at 16x16 one heatmap pixel
# covers ~20 image pixels, and DARK's float sensitivity with it); MMPose's plain top-down test pipeline
HEATMAP_CONFIG = """
_base_ = ['./res18-heatmap-train.py']
model = dict(head=dict(decoder=dict(input_size=(192, 256), heatmap_size=(48, 64))))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), dict(type='TopdownAffine', input_size=(192, 256)),
    dict(type='PackPoseInputs')]))
"""
MAX_PX = 0.5


def make_checkpoint(config: Path, path: Path, seed: int = 0) -> Path:
    """Seeded random weights with randomised BatchNorm statistics, saved as MMPose saves a checkpoint."""
    import torch
    from mmpose.apis import init_model

    torch.manual_seed(seed)
    model = init_model(str(config), None, device="cpu")
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            module.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, path)
    return path


@pytest.fixture(scope="module")
def coco(shared_data):
    """The 4 COCO val images (BGR) and their GT boxes as (N, 4) float32 xyxy."""
    import cv2

    root = shared_data / "mmpose-testdata" / "coco"
    ann = json.loads((root / "test_coco.json").read_text())
    samples = []
    for image in ann["images"]:
        boxes = [a["bbox"] for a in ann["annotations"] if a["image_id"] == image["id"]]
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=np.float32)
        samples.append((cv2.imread(str(root / image["file_name"])), xyxy))
    assert sum(len(b) for _, b in samples) == 14
    return samples


@pytest.fixture(scope="module")
def rtmpose(tmp_path_factory):
    root = tmp_path_factory.mktemp("rtmpose")
    config = root / "rtmpose-t.py"
    config.write_text(RTMPOSE_CONFIG)
    return config, make_checkpoint(config, root / "rtmpose-t.pth")


@pytest.fixture(scope="module")
def heatmap(tmp_path_factory, tiny_coco):
    root = tmp_path_factory.mktemp("heatmap")
    write_tiny_config(root / "res18-heatmap-train.py", tiny_coco)
    config = root / "res18-heatmap.py"
    config.write_text(HEATMAP_CONFIG)
    return config, make_checkpoint(config, root / "res18-heatmap.pth", seed=1)


def torch_reference(config, checkpoint, cfg_options, flip_test, samples):
    """``inference_topdown`` keypoints and scores per image."""
    from mmpose.apis import inference_topdown, init_model

    from mmpose_ext.config import load_config

    model = init_model(load_config(config, cfg_options), str(checkpoint), device="cpu")
    model.test_cfg["flip_test"] = flip_test
    out = []
    for image, boxes in samples:
        results = inference_topdown(model, image, boxes)
        kpts = np.concatenate([r.pred_instances.keypoints for r in results])
        scores = np.concatenate([r.pred_instances.keypoint_scores for r in results])
        out.append((kpts, scores))
    return out


def assert_parity(onnx_path, reference, samples, flip_test):
    from mmpx.runtime.ort import OnnxPoseModel

    model = OnnxPoseModel(onnx_path, threads=1, flip_test=flip_test)
    all_kpts = []
    for (image, boxes), (ref_kpts, ref_scores) in zip(samples, reference, strict=True):
        kpts, scores = model.predict(image, boxes)
        assert kpts.shape == ref_kpts.shape and kpts.dtype == np.float32
        assert scores.shape == ref_scores.shape and scores.dtype == np.float32
        worst = np.abs(kpts - ref_kpts).max()
        assert worst <= MAX_PX, f"keypoints differ by {worst:.3f} px (flip_test={flip_test})"
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-3, atol=1e-4)
        all_kpts.append(kpts)
    # not a degenerate model: keypoints spread over the boxes
    spread = np.concatenate(all_kpts).reshape(-1, 2).std(axis=0)
    assert (spread > 20).all(), spread


@pytest.fixture(scope="module")
def rtmpose_onnx(rtmpose, tmp_path_factory):
    """Exported through the CLI, with a dynamic batch."""
    config, ckpt = rtmpose
    out = tmp_path_factory.mktemp("rtm_onnx") / "rtmpose-t.onnx"
    proc = mmpx("export", "onnx", str(config), str(ckpt), "--out", str(out), "--dynamic-batch",
                env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "wrote" in proc.stdout and out.is_file() and out.with_suffix(".json").is_file()
    return out


@pytest.mark.parametrize("flip_test", [True, False])
def test_rtmpose_parity(rtmpose, rtmpose_onnx, coco, flip_test):
    config, ckpt = rtmpose
    reference = torch_reference(config, ckpt, None, flip_test, coco)
    assert_parity(rtmpose_onnx, reference, coco, flip_test)


def test_rtmpose_sidecar(rtmpose_onnx):
    import onnx

    sc = json.loads(rtmpose_onnx.with_suffix(".json").read_text())
    assert sc["format"] == "mmpose-ext/onnx-pose" and sc["onnx"] == rtmpose_onnx.name
    assert sc["input"] == {"name": "input", "shape": ["batch", 3, 256, 192], "size": [192, 256],
                           "dynamic_batch": True, "dtype": "float32"}
    assert [o["name"] for o in sc["outputs"]] == ["simcc_x", "simcc_y"]
    assert sc["outputs"][0]["shape"] == ["batch", 17, 384] and sc["outputs"][1]["shape"] == ["batch", 17, 512]
    assert sc["head"] == {"type": "RTMCCHead", "kind": "simcc"}
    assert sc["codec"]["type"] == "SimCCLabel" and sc["codec"]["sigma"] == [4.9, 5.66]
    assert sc["preprocess"] == {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
                                "bgr_to_rgb": True, "bbox_padding": 1.25, "use_udp": False}
    assert sc["test_cfg"]["flip_test"] is True
    meta = sc["dataset_meta"]
    assert meta["keypoint_id2name"]["0"] == "nose" and meta["flip_indices"][1] == 2
    assert len(meta["skeleton_links"]) == 19 and len(meta["skeleton_link_colors"]) == 19
    assert len(meta["keypoint_colors"]) == 17
    model = onnx.load(str(rtmpose_onnx))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input"]

    from mmpx.runtime.ort import OnnxPoseModel

    pose = OnnxPoseModel(rtmpose_onnx)
    assert pose.input_size == (192, 256)
    assert pose.dataset_meta["keypoint_id2name"][0] == "nose"
    assert pose.dataset_meta["keypoint_colors"].shape == (17, 3)
    assert pose.dataset_meta["num_keypoints"] == 17
    kpts, scores = pose.predict(np.zeros((50, 60, 3), np.uint8), np.zeros((0, 4), np.float32))
    assert kpts.shape == (0, 17, 2) and scores.shape == (0, 17)


# (cfg options, flip test, dynamic batch): MSRAHeatmap with the quarter-offset refinement, and UDPHeatmap (its
# DARK-UDP refinement). MSRAHeatmap's unbiased (DARK) decoding is checked on equal heatmaps in
# test_numpy_decoders_match_mmpose instead: it takes the log of the heatmaps clamped at 1e-10 and inverts their
# Hessian, so on an untrained model's random, partly negative heatmaps it turns 1e-5 float differences between
# ONNX Runtime and torch into pixel-sized ones (up to 1.6 px here), which trained, peaked heatmaps do not do.
HEATMAP_CASES = {
    "msra-flip-shift": (["model.test_cfg.shift_heatmap=True"], True, True),
    "msra-noflip": ([], False, False),
    "udp-flip": (["model.head.decoder.type=UDPHeatmap", "test_dataloader.dataset.pipeline.2.use_udp=True",
                  "model.head.decoder.blur_kernel_size=5"], True, False),
}


@pytest.mark.parametrize("case", list(HEATMAP_CASES))
def test_heatmap_parity(heatmap, coco, tmp_path, case):
    from mmpose_ext.deploy.export import export_onnx

    options, flip_test, dynamic = HEATMAP_CASES[case]
    config, ckpt = heatmap
    result = export_onnx(config, ckpt, out=tmp_path / "hm.onnx", dynamic_batch=dynamic, cfg_options=options)
    assert result.sidecar["head"] == {"type": "HeatmapHead", "kind": "heatmap"}
    assert result.sidecar["outputs"][0]["shape"][1:] == [17, 64, 48]
    reference = torch_reference(config, ckpt, options, flip_test, coco)
    assert_parity(result.onnx_path, reference, coco, flip_test)


def gaussian_maps(rng, n, k, w, h, sigma=2.0, noise=0.02):
    """Peaked maps like a trained model's: a Gaussian at a random sub-pixel spot, plus noise."""
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    cx, cy = rng.uniform(2, w - 3, (n, k, 1, 1)), rng.uniform(2, h - 3, (n, k, 1, 1))
    maps = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
    return (maps + rng.normal(0, noise, maps.shape)).astype(np.float32)


def gaussian_vectors(rng, n, k, length, sigma):
    """SimCC-like vectors: a Gaussian at a random sub-bin spot, plus noise."""
    centre = rng.uniform(3, length - 4, (n, k, 1))
    vectors = np.exp(-((np.arange(length) - centre) ** 2) / (2 * sigma**2))
    return (vectors + rng.normal(0, 0.02, vectors.shape)).astype(np.float32)


def test_numpy_decoders_match_mmpose():
    """Each numpy decoder against MMPose's codec, instance by instance as MMPose's heads call it."""
    from mmpose.codecs import MSRAHeatmap, SimCCLabel, UDPHeatmap

    from mmpx.runtime import decode as dec

    rng = np.random.default_rng(0)
    size = dict(input_size=(192, 256), heatmap_size=(48, 64))
    heatmaps = np.concatenate([gaussian_maps(rng, 6, 17, 48, 64), rng.normal(size=(2, 17, 64, 48)).astype(np.float32)])
    cases = [
        (MSRAHeatmap, dict(size, sigma=2, unbiased=True, blur_kernel_size=11), dec.decode_msra),
        (MSRAHeatmap, dict(size, sigma=2), dec.decode_msra),
        (UDPHeatmap, dict(size, sigma=2), dec.decode_udp),
    ]
    for codec_cls, params, decode in cases:
        codec = codec_cls(**params)
        ref = [codec.decode(h) for h in heatmaps]
        kpts, scores = decode(params, heatmaps.copy())
        np.testing.assert_allclose(kpts, np.concatenate([r[0] for r in ref]), atol=1e-4, err_msg=str(params))
        np.testing.assert_array_equal(scores, np.concatenate([r[1] for r in ref]))
    x, y = gaussian_vectors(rng, 4, 17, 384, sigma=4.9), gaussian_vectors(rng, 4, 17, 512, sigma=5.66)
    for use_dark in (False, True):
        params = dict(input_size=(192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0, use_dark=use_dark)
        codec = SimCCLabel(**params)
        # MMPose's DARK path needs the instance axis (it fails on one instance's 2-D vectors)
        ref = [codec.decode(x[n : n + 1].copy(), y[n : n + 1].copy()) for n in range(len(x))]
        kpts, scores = dec.decode_simcc(params, x.copy(), y.copy())
        np.testing.assert_allclose(kpts, np.concatenate([r[0] for r in ref]), atol=1e-4)
        np.testing.assert_array_equal(scores, np.concatenate([r[1] for r in ref]))


def test_backend_imports_no_torch(rtmpose_onnx, coco, shared_data):
    """mmpx.runtime imported normally in a fresh process (no by-path loading needed any more) pulls in none of
    mmpose_ext, torch, mmpose, and predicts the same keypoints."""
    from mmpx.runtime.ort import OnnxPoseModel

    image = shared_data / "mmpose-testdata" / "coco" / "000000197388.jpg"
    boxes = coco[3][1]
    expected, _ = OnnxPoseModel(rtmpose_onnx, threads=1).predict(coco[3][0], boxes)
    script = f"""
import sys
import cv2, numpy as np
from mmpx.runtime import OnnxPoseModel
model = OnnxPoseModel({str(rtmpose_onnx)!r}, threads=1)
kpts, scores = model.predict(cv2.imread({str(image)!r}), np.array({boxes.tolist()!r}, np.float32))
heavy = sorted(m for m in ("torch", "mmpose", "mmengine", "mmcv", "mmdet", "mmpose_ext") if m in sys.modules)
print("HEAVY", heavy)
np.save(sys.argv[1], kpts)
"""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"kpts_{os.getpid()}.npy"
    proc = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout
    np.testing.assert_array_equal(np.load(out), expected)
    out.unlink()


def run_cli(capsys, *args: str):
    """``mmpx ARGS`` in this process (the real entry point: parsing, error lines, exit code); (code, out, err)."""
    from mmpx.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_bad_inputs(rtmpose, heatmap, tmp_path, capsys):
    config, ckpt = rtmpose
    hm_config, hm_ckpt = heatmap
    code, _, err = run_cli(capsys, "export", "onnx", str(tmp_path / "nope.py"), str(ckpt))
    assert code == 1 and f"error: config file {tmp_path / 'nope.py'} does not exist" in err and "hint:" in err

    code, _, err = run_cli(capsys, "export", "onnx", str(config), str(tmp_path / "nope.pth"))
    assert code == 1 and f"error: checkpoint {tmp_path / 'nope.pth'} does not exist" in err

    code, _, err = run_cli(capsys, "export", "onnx", str(config), str(ckpt), "--out", str(tmp_path / "model.bin"))
    assert code == 1 and "must end in .onnx" in err

    # the heatmap model's checkpoint given with the RTMPose config: an error naming the keys, nothing written
    out = tmp_path / "wrong.onnx"
    code, _, err = run_cli(capsys, "export", "onnx", str(config), str(hm_ckpt), "--out", str(out))
    assert code == 1, err
    assert "does not match the config's model" in err and "missing" in err and "unexpected" in err
    assert "hint: pass the config the checkpoint was trained with" in err
    assert sorted(os.listdir(tmp_path)) == []

    bottomup = tmp_path / "dekr.py"
    bottomup.write_text(BOTTOMUP_CONFIG)
    code, _, err = run_cli(capsys, "export", "onnx", str(bottomup), str(ckpt), "--out", str(out))
    assert code == 1
    assert "BottomupPoseEstimator" in err and "not supported" in err
    assert "RTMCCHead" in err and "HeatmapHead" in err
    assert sorted(os.listdir(tmp_path)) == ["dekr.py"]


def test_ort_bad_inputs(rtmpose_onnx, tmp_path):
    from mmpx.errors import MmpxError
    from mmpx.runtime.ort import OnnxPoseModel

    with pytest.raises(MmpxError, match="does not exist"):
        OnnxPoseModel(tmp_path / "none.onnx")
    import onnx

    alone = tmp_path / "alone.onnx"  # the sidecar travels inside: the JSON copy is not needed
    alone.write_bytes(rtmpose_onnx.read_bytes())
    assert OnnxPoseModel(alone).sidecar == json.loads(rtmpose_onnx.with_suffix(".json").read_text())
    lone = tmp_path / "lone.onnx"  # a model exported before the sidecar was embedded needs its NAME.json
    graph = onnx.load(str(rtmpose_onnx))
    del graph.metadata_props[:]
    onnx.save(graph, str(lone))
    with pytest.raises(MmpxError, match="sidecar .*lone.json does not exist"):
        OnnxPoseModel(lone)
    (tmp_path / "lone.json").write_text('{"format": "something else"}')
    with pytest.raises(MmpxError, match="not an mmpose-ext sidecar"):
        OnnxPoseModel(lone)
    model = OnnxPoseModel(rtmpose_onnx)
    with pytest.raises(MmpxError, match="H x W x 3"):
        model.predict(np.zeros((10, 10), np.uint8), np.zeros((1, 4), np.float32))


def test_int8_quantisation(heatmap, tiny_coco, tmp_path):
    import cv2
    import onnx

    from mmpose_ext.deploy.export import export_onnx
    from mmpx.runtime.ort import OnnxPoseModel

    config, ckpt = heatmap
    fp32 = export_onnx(config, ckpt, out=tmp_path / "hm.onnx", dynamic_batch=True).onnx_path
    before = fp32.read_bytes()
    calib = ["--calib-ann", str(tiny_coco / "annotations.json"), "--calib-images", str(tiny_coco / "images")]
    proc = mmpx("export", "int8", str(fp32), *calib, "--calib-crops", "4", env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "hm.int8.onnx"
    assert "int8 vs fp32 on 102 keypoints" in proc.stdout  # 6 instances x 17 keypoints, every one measured
    assert fp32.read_bytes() == before
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    sc = json.loads(out.with_suffix(".json").read_text())
    assert sc["onnx"] == out.name and sc["quantization"]["calibration"]["crops"] == 4
    agree = sc["quantization"]["agreement_with_fp32"]
    assert agree["keypoints"] == 102 and 0 <= agree["within_0_05_bbox"] <= 1 and agree["mean_px"] >= 0
    image = cv2.imread(str(tiny_coco / "images" / "000.png"))
    kpts, scores = OnnxPoseModel(out).predict(image, np.array([[4, 4, 80, 80]], np.float32))
    assert kpts.shape == (1, 17, 2) and scores.shape == (1, 17) and np.isfinite(kpts).all()
    # bad inputs: nothing written, one clear line
    proc = mmpx("export", "int8", str(fp32), *calib, "--out", str(fp32))
    assert proc.returncode == 1 and "is the input MODEL" in proc.stderr and fp32.read_bytes() == before
    proc = mmpx("export", "int8", str(fp32), "--calib-ann", str(tmp_path / "nope.json"), "--calib-images",
                str(tiny_coco / "images"), "--out", str(tmp_path / "x.onnx"))
    assert proc.returncode == 1 and "nope.json does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "x.json").exists()


def test_cli_exports_a_dynamic_batch_by_default(heatmap, tmp_path):
    config, ckpt = heatmap
    for flag, first_dim in ((None, "batch"), ("--static-batch", 1)):
        out = tmp_path / f"{flag or 'default'}.onnx"
        proc = mmpx("export", "onnx", str(config), str(ckpt), "--out", str(out), *([flag] if flag else []),
                    env={"OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        sidecar = json.loads(out.with_suffix(".json").read_text())
        assert sidecar["input"]["shape"][0] == first_dim and sidecar["input"]["dynamic_batch"] is (flag is None)
