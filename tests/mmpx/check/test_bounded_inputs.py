"""Bounded inputs, torch-free: an image over the pixel limit is refused by its header before decoding
and never stops a run over many; a sidecar's values out of range and an ONNX graph with absurd input sizes are
refused with one line per problem; text cells of a trajectory CSV never start a spreadsheet formula.

Everything is real: PNGs and videos written here, the tiny ONNX model of tests/onnx_model.py, ``mmpx`` in a
subprocess. Checkpoints' publish hashes need torch: tests/mmpose_ext/apis/test_publish_sha.py.
"""

from __future__ import annotations

import csv
import json
import struct
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.check.images import DEFAULT_MAX_PIXELS, header_size, too_large
from mmpx.errors import MmpxError
from mmpx.infer.trajectories import TrajectoryTable, read_trajectories, write_csv
from mmpx.runtime import OnnxPoseModel
from tests.helpers import make_tiny_coco, run
from tests.onnx_model import NAMES, write_tiny_onnx

# Runs mmpx in this process and prints its peak memory (KiB) last: RUSAGE_CHILDREN would mix in other tests' children
MEASURED = """
import resource, sys
from mmpx.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(f"maxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(path: Path, w: int, h: int) -> Path:
    """A complete, valid black RGB PNG of w x h, written in milliseconds: one deflate block of zero rows, flushed
    so that it stands alone, repeated. 30,000 x 30,000 is 2.6 MB on disk and 2.7 GB decoded."""
    rows = next(r for r in (100, 10, 1) if h % r == 0)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = raw.compress(b"\x00" * ((1 + 3 * w) * rows)) + raw.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    n = (1 + 3 * w) * h  # all zero bytes: adler32 is (n mod 65521) << 16 | 1
    idat = b"\x78\xda" + block * (h // rows) + end + struct.pack(">I", ((n % 65521) << 16) | 1)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


def _mmpx_measured(*args, env=None):
    """``mmpx ARGS`` in a subprocess; returns (result, peak memory in MiB)."""
    result = run([sys.executable, "-c", MEASURED, *args], env=env)
    kib = [int(line.split("=")[1]) for line in result.stderr.splitlines() if line.startswith("maxrss_kib=")]
    return result, kib[-1] / 1024 if kib else None


def _infer(inputs, model, *extra, env=None):
    return _mmpx_measured("infer", *map(str, inputs), "--weights", str(model), "--backend", "onnxruntime",
                          "--whole-image", "--no-progress", *extra, env=env)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    make_tiny_coco(root, num_images=3, size=64)
    return root


# ---- 1. the pixel limit ----


def test_zero_png_is_a_real_image(tmp_path):
    image = cv2.imread(str(zero_png(tmp_path / "small.png", 300, 200)))
    assert image.shape == (200, 300, 3) and image.max() == 0


def test_header_size_reads_the_header_only(tmp_path):
    picture = np.random.default_rng(0).integers(0, 255, (23, 37, 3), dtype=np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tif"):
        cv2.imwrite(str(tmp_path / f"a{ext}"), picture)
        assert header_size(tmp_path / f"a{ext}") == (37, 23), ext
    # an EXIF-like APP1 segment holding a thumbnail's SOF (120 x 160) before the real one: skipped by its length
    jpeg = (tmp_path / "a.jpg").read_bytes()
    thumb_sof = b"\xff\xc0\x00\x11\x08\x00\xa0\x00\x78\x03" + b"\x00" * 9
    app1 = b"Exif\x00\x00" + thumb_sof
    (tmp_path / "exif.jpg").write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:])
    assert header_size(tmp_path / "exif.jpg") == (37, 23)
    assert cv2.imread(str(tmp_path / "exif.jpg")).shape == (23, 37, 3)
    start = time.perf_counter()
    assert header_size(zero_png(tmp_path / "huge.png", 30000, 30000)) == (30000, 30000)
    assert time.perf_counter() - start < 0.5  # decoding it takes 24 s and 5.3 GB here
    for name, data in (("text.png", b"hello"), ("sig.png", b"\x89PNG\r\n\x1a\n"), ("soi.jpg", b"\xff\xd8\xff")):
        (tmp_path / name).write_bytes(data)
        assert header_size(tmp_path / name) is None, name


def test_too_large_names_the_size_and_the_limit(tmp_path):
    huge = zero_png(tmp_path / "huge.png", 30000, 30000)
    assert too_large(huge) == ("too large: 30000 x 30000 = 900,000,000 pixels, above the limit of 178,956,970 "
                               "(MMPX_MAX_IMAGE_PIXELS); not decoded (it would take 2.5 GiB of memory)")
    assert DEFAULT_MAX_PIXELS == 178_956_970  # Pillow's own decompression-bomb limit
    assert too_large(huge, limit=0) is None  # 0: no limit
    small = zero_png(tmp_path / "small.png", 40, 30)
    assert too_large(small) is None and "1,200 pixels, above the limit of 1,000" in too_large(small, limit=1000)
    (tmp_path / "zero.png").write_bytes(small.read_bytes().replace(struct.pack(">II", 40, 30), struct.pack(">II",
                                                                                                          0, 30)))
    assert "declares 0 x 30 pixels" in too_large(tmp_path / "zero.png")


def test_infer_skips_each_bad_image_and_processes_the_good_ones(model, coco, tmp_path):
    """The 30,000 x 30,000 PNG took 5.4 GB and 30 s; with an empty, a truncated and a text file beside it, each is
    named on one line and skipped, the good images are processed, the exit status is 1 (as for unreadable ones)."""
    src = tmp_path / "in"
    src.mkdir()
    good = sorted((coco / "images").glob("*.png"))
    for path in good:
        (src / path.name).write_bytes(path.read_bytes())
    zero_png(src / "huge.png", 30000, 30000)
    (src / "empty.png").write_bytes(b"")
    (src / "cut.png").write_bytes(good[0].read_bytes()[:120])
    (src / "text.jpg").write_text("not an image\n")
    out = tmp_path / "r.json"
    start = time.perf_counter()
    result, peak_mib = _infer([src], model, "--save-json", out, "--out-dir", tmp_path / "drawn")
    seconds = time.perf_counter() - start
    err = result.stderr
    assert result.returncode == 1 and "Traceback" not in err and "unexpected" not in err, err[-3000:]
    assert "skipped 4 unreadable input(s)" in err
    lines = {name: [line for line in err.splitlines() if f"{src / name}:" in line]
             for name in ("huge.png", "empty.png", "cut.png", "text.jpg")}
    assert all(len(found) == 1 for found in lines.values()), lines
    assert "too large: 30000 x 30000 = 900,000,000 pixels" in lines["huge.png"][0]
    assert "MMPX_MAX_IMAGE_PIXELS" in lines["huge.png"][0]
    assert "empty file (0 bytes)" in lines["empty.png"][0] and "not a readable image" in lines["cut.png"][0]
    assert sorted({r["file_name"] for r in json.loads(out.read_text())}) == [p.name for p in good]
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == [p.name for p in good]
    print(f"peak {peak_mib:.0f} MiB, {seconds:.1f} s")
    assert peak_mib < 1024 and seconds < 20, (peak_mib, seconds)


def test_an_image_whose_size_no_header_reader_knows_is_not_decoded(tmp_path):
    """OpenCV decodes by content: Radiance HDR bytes named .png would be decoded with no size known beforehand."""
    from mmpx.check.images import decode_image

    ok, data = cv2.imencode(".hdr", np.full((10, 12, 3), 0.5, np.float32))
    (tmp_path / "x.png").write_bytes(data.tobytes())
    assert ok and cv2.imread(str(tmp_path / "x.png")).shape == (10, 12, 3) and header_size(tmp_path / "x.png") is None
    image, why = decode_image(tmp_path / "x.png")
    assert image is None and why.startswith("not a readable image") and "Pillow cannot read" in why
    stray = b"\x00" * 200_000  # libjpeg skips stray bytes before a marker: so does the header reader, quickly
    jpeg = cv2.imencode(".jpg", np.zeros((23, 37, 3), np.uint8))[1].tobytes()
    (tmp_path / "stray.jpg").write_bytes(jpeg[:2] + stray + jpeg[2:])
    start = time.perf_counter()
    assert header_size(tmp_path / "stray.jpg") == (37, 23) and time.perf_counter() - start < 0.5


def test_pixel_limit_is_set_by_the_environment(model, coco, tmp_path):
    images = coco / "images"  # 64 x 64 = 4,096 pixels each
    out = tmp_path / "r.json"
    result, _ = _infer([images], model, "--save-json", out, env={"MMPX_MAX_IMAGE_PIXELS": "4000"})
    assert result.returncode == 1 and "skipped 3 unreadable input(s)" in result.stderr
    assert result.stderr.count("4,096 pixels, above the limit of 4,000") == 3
    result, _ = _infer([images], model, "--save-json", out, env={"MMPX_MAX_IMAGE_PIXELS": "4_096"})
    assert result.returncode == 0, result.stderr[-2000:]
    result, _ = _infer([images], model, "--save-json", out, env={"MMPX_MAX_IMAGE_PIXELS": "0"})  # no limit
    assert result.returncode == 0 and len(json.loads(out.read_text())) == 3
    out.unlink()
    result, _ = _infer([images], model, "--save-json", out, env={"MMPX_MAX_IMAGE_PIXELS": "lots"})
    err = result.stderr
    assert result.returncode == 1 and "MMPX_MAX_IMAGE_PIXELS='lots' is not a whole number" in err
    assert "Traceback" not in err and not out.exists()


def test_check_data_names_the_huge_image(coco, tmp_path):
    from mmpx.check import check_data_report

    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    for path in (coco / "images").glob("*.png"):
        (root / "images" / path.name).write_bytes(path.read_bytes())
    zero_png(root / "images" / "001.png", 30000, 30000)
    report = check_data_report(coco / "annotations.json", images=root / "images")
    found = [p for p in report.problems if p.code == "image-too-large"]
    assert len(found) == 1 and str(root / "images" / "001.png") in found[0].message
    assert "900,000,000 pixels" in found[0].message and "MMPX_MAX_IMAGE_PIXELS" in found[0].hint
    assert not [p for p in report.problems if p.code == "image-corrupt"]
    result = run([sys.executable, "-m", "mmpx", "check", "data", str(coco / "annotations.json"), "--images",
                  str(root / "images"), "--json"])
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["code"] == "image-too-large" and problem["field"] == "images[1].file_name"
    assert problem["message"].startswith(f"image {root / 'images' / '001.png'}: too large: 30000 x 30000")


def test_export_int8_refuses_a_huge_calibration_image_by_name(model, coco, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for path in (coco / "images").glob("*.png"):
        (images / path.name).write_bytes(path.read_bytes())
    zero_png(images / "000.png", 30000, 30000)
    result, peak_mib = _mmpx_measured("export", "int8", str(model), "--calib-ann", str(coco / "annotations.json"),
                                      "--calib-images", str(images), "--out", str(tmp_path / "q.onnx"))
    err = result.stderr
    assert result.returncode == 1 and "Traceback" not in err, err[-2000:]
    assert f"could not read image {images / '000.png'}: too large: 30000 x 30000" in err
    assert peak_mib < 1024 and not (tmp_path / "q.onnx").exists()


def _mjpeg_avi(path: Path, size: tuple[int, int] = (64, 48), frames: int = 3) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 * i, np.uint8))
    writer.release()
    return path


def _declare(avi: Path, out: Path, w: int, h: int, frames_too: bool) -> Path:
    """A copy of an MJPEG AVI that declares w x h: in its headers (avih, strf) and, with ``frames_too``, in each
    frame's JPEG SOF (whose pixel data then does not fit: a frame no decoder can finish)."""
    data = bytearray(avi.read_bytes())
    at = data.find(b"avih") + 8 + 32
    data[at:at + 8] = struct.pack("<II", w, h)
    at = data.find(b"strf") + 8 + 4
    data[at:at + 8] = struct.pack("<ii", w, h)
    pos = data.find(b"\xff\xc0")
    while frames_too and pos >= 0:
        data[pos + 5:pos + 9] = struct.pack(">HH", h, w)
        pos = data.find(b"\xff\xc0", pos + 2)
    out.write_bytes(bytes(data))
    return out


def test_videos_over_the_limit_or_with_absurd_sizes_are_skipped_by_name(model, coco, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    good = sorted((coco / "images").glob("*.png"))[0]
    (src / "a.png").write_bytes(good.read_bytes())
    clip = _mjpeg_avi(src / "clip.avi")
    _declare(clip, src / "big.avi", 15000, 15000, frames_too=True)  # FFmpeg would allocate 15,000 x 15,000 frames
    _declare(clip, src / "liar.avi", 100000, 100000, frames_too=False)  # headers only: FFmpeg trusts the frames
    _declare(clip, src / "absurd.avi", 60000, 60000, frames_too=True)  # beyond what FFmpeg accepts at all
    out = tmp_path / "r.json"
    result, _ = _infer([src], model, "--save-json", out)
    err = result.stderr
    assert result.returncode == 1 and "Traceback" not in err and "unexpected" not in err, err[-3000:]
    assert "skipped 2 unreadable input(s)" in err
    (big,) = [line for line in err.splitlines() if f"{src / 'big.avi'}:" in line]
    assert "too large: the video declares frames of 15000 x 15000 = 225,000,000 pixels" in big
    (absurd,) = [line for line in err.splitlines() if f"{src / 'absurd.avi'}:" in line]
    assert "not a readable video" in absurd
    names = sorted({r["file_name"].split("#")[0] for r in json.loads(out.read_text())})
    assert names == ["a.png", "clip.avi", "liar.avi"]

    # the limit applies to frames as to images: a 64 x 48 video is refused under 3,000 pixels, before decoding
    result, _ = _infer([src / "a.png", clip], model, "--save-json", out, env={"MMPX_MAX_IMAGE_PIXELS": "3000"})
    assert result.returncode == 1 and "too large: the video declares frames of 64 x 48 = 3,072 pixels" in result.stderr
    result, _ = _infer([clip], model, "--save-json", out, env={"MMPX_MAX_IMAGE_PIXELS": "3072"})
    assert result.returncode == 0 and len(json.loads(out.read_text())) == 3


# ---- 2. sidecar values and graph shapes ----


def _bad_sidecar(model: Path, tmp_path: Path, change) -> Path:
    sidecar = json.loads(model.with_suffix(".json").read_text())
    change(sidecar)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(sidecar))
    return path


def _set(dotted: str, value):
    def change(sidecar: dict) -> None:
        *parents, last = dotted.split(".")
        node = sidecar
        for key in parents:
            node = node[key]
        node[last] = value

    return change


BAD_SIDECARS = [
    ("input.size", [1e9, 32], "input.size = [1000000000.0, 32]: must be [width, height], whole numbers from 1 to "
     "4096"),
    ("input.size", [-32, 32], "input.size = [-32, 32]: must be"),
    ("input.size", [0, 32], "input.size = [0, 32]: must be"),
    ("preprocess.std", [58.395, float("nan"), 57.375], "preprocess.std = [58.395, NaN, 57.375]: must be 3 finite "
     "numbers"),
    ("preprocess.std", [0, 1, 1], "preprocess.std = [0, 1, 1]: must be > 0"),
    ("preprocess.mean", [1.0, 2.0], "preprocess.mean = [1.0, 2.0]: must be 3 finite numbers (one per colour "
     "channel) or 1"),
    ("preprocess.bbox_padding", -1, "preprocess.bbox_padding = -1: must be a finite number > 0"),
    ("dataset_meta.flip_indices", [0, 1, 3, 9], "dataset_meta.flip_indices = [0, 1, 3, 9]: must list 4 whole "
     "numbers from 0 to 3"),
    ("dataset_meta.flip_indices", [0, 1, 3], "dataset_meta.flip_indices = [0, 1, 3]: must list 4"),
    ("dataset_meta.flip_indices", None, "dataset_meta.flip_indices = null: the flip test needs one index per "
     "keypoint (4)"),
    ("test_cfg.output_keypoint_indices", [0, 7], "test_cfg.output_keypoint_indices = [0, 7]: must be whole numbers"),
    ("codec.heatmap_size", [0, 8], "codec.heatmap_size = [0, 8]: must be [width, height]"),
    ("codec.heatmap_size", [16, 16], "graph output 'heatmaps' shape [\"batch\", 4, 8, 8]: heatmaps of 8 x 8, but "
     "codec.heatmap_size is [16, 16]"),
    ("codec.input_size", [64, 64], "codec.input_size = [64, 64]: must equal input.size [32, 32]"),
    ("dataset_meta.num_keypoints", 5, "graph output 'heatmaps' shape [\"batch\", 4, 8, 8]: 4 channels, but "
     "dataset_meta.num_keypoints is 5"),
    ("dataset_meta.num_keypoints", 0, "dataset_meta.num_keypoints = 0: must be a whole number >= 1"),
    ("input.name", "image", "input.name = \"image\": the graph has no such input (it has: input)"),
]


@pytest.mark.parametrize("field, value, expected", BAD_SIDECARS, ids=[f"{f}={v}" for f, v, _ in BAD_SIDECARS])
def test_sidecar_value_out_of_range_is_refused_naming_field_and_value(model, tmp_path, field, value, expected):
    bad = _bad_sidecar(model, tmp_path, _set(field, value))
    with pytest.raises(MmpxError) as info:
        OnnxPoseModel(model, sidecar=bad)
    lines = info.value.message.splitlines()
    assert all(line.startswith(f"{model}: ") for line in lines), lines
    (line,) = [line for line in lines if expected in line]
    if not expected.startswith("graph "):
        assert f"sidecar {bad} {field}" in line
    assert len(lines) == (2 if field == "dataset_meta.num_keypoints" and value == 5 else 1), lines  # + flip_indices
    assert "export the model again" in info.value.hint


def test_every_problem_is_one_line_and_infer_stops_before_any_work(model, coco, tmp_path):
    def change(sidecar: dict) -> None:
        sidecar["input"]["size"] = [10**9, 10**9]
        sidecar["preprocess"]["std"] = [0.0, 1.0, 1.0]
        sidecar["dataset_meta"]["flip_indices"] = [3, 2, 1, 40]

    bad = _bad_sidecar(model, tmp_path, change)
    copy = tmp_path / "m.onnx"
    copy.write_bytes(model.read_bytes())
    bad.replace(copy.with_suffix(".json"))  # the sidecar beside the model, as export writes it
    out = tmp_path / "r.json"
    result, _ = _infer([coco / "images"], copy, "--save-json", out, "--out-dir", tmp_path / "drawn")
    err = result.stderr
    assert result.returncode == 1 and "Traceback" not in err and "unexpected" not in err, err
    problems = [line for line in err.splitlines() if line.startswith(("error:", str(copy)))]
    assert len(problems) == 3 and all(str(copy) in line for line in problems), err
    assert f"{copy}: sidecar {copy.with_suffix('.json')} input.size = [1000000000, 1000000000]" in err
    assert "preprocess.std = [0.0, 1.0, 1.0]" in err
    assert "dataset_meta.flip_indices = [3, 2, 1, 40]" in err
    assert not out.exists() and not [p for p in (tmp_path / "drawn").rglob("*") if p.is_file()]


def test_a_bad_embedded_sidecar_is_named_as_inside_the_model(model, tmp_path):
    from mmpx.runtime.model_file import embed_sidecar

    copy = tmp_path / "m.onnx"
    copy.write_bytes(model.read_bytes())
    sidecar = json.loads(model.with_suffix(".json").read_text())
    sidecar["preprocess"]["std"] = [1.0, 0.0, 1.0]
    embed_sidecar(copy, sidecar)  # as mmpx export onnx writes it; no JSON beside it
    with pytest.raises(MmpxError) as info:
        OnnxPoseModel(copy)
    assert info.value.message == f"{copy}: sidecar preprocess.std = [1.0, 0.0, 1.0]: must be > 0 (pixels are divided " \
                                 "by it)"


def test_flip_indices_are_only_needed_with_the_flip_test(model, tmp_path):
    bad = _bad_sidecar(model, tmp_path, _set("dataset_meta.flip_indices", None))
    pose = OnnxPoseModel(model, sidecar=bad, flip_test=False)
    keypoints, _ = pose.predict(np.zeros((32, 32, 3), np.uint8), np.array([[0, 0, 32, 32]], np.float32))
    assert keypoints.shape == (1, len(NAMES), 2)


def test_one_value_mean_and_std_broadcast_as_mmengine_does(model, tmp_path):
    image = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    box = np.array([[0, 0, 32, 32]], np.float32)
    three = _bad_sidecar(model, tmp_path, lambda s: s["preprocess"].update(mean=[100.0] * 3, std=[50.0] * 3))
    expected = OnnxPoseModel(model, sidecar=three).predict(image, box)
    (tmp_path / "one.json").write_text(three.read_text().replace("[100.0, 100.0, 100.0]", "[100.0]")
                                       .replace("[50.0, 50.0, 50.0]", "[50.0]"))
    got = OnnxPoseModel(model, sidecar=tmp_path / "one.json").predict(image, box)
    np.testing.assert_array_equal(got[0], expected[0])


def _onnx_with_input_dims(model: Path, out: Path, dims: list) -> Path:
    import onnx

    graph = onnx.load(str(model))
    shape = graph.graph.input[0].type.tensor_type.shape
    for dim, value in zip(shape.dim, dims, strict=True):
        if isinstance(value, int):
            dim.dim_value = value
        else:
            dim.dim_param = value
    onnx.save(graph, str(out))
    out.with_suffix(".json").write_text(model.with_suffix(".json").read_text())
    return out


@pytest.mark.parametrize("dims, expected", [
    (["batch", 3, 10**9, 10**9], "graph input 'input' shape [\"batch\", 3, 1000000000, 1000000000]: height and "
     "width must be from 1 to 4096"),
    (["batch", 3, 0, 32], "graph input 'input' shape [\"batch\", 3, 0, 32]: height and width must be from 1 to 4096"),
    (["batch", 3, 64, 64], "the sidecar's input.size [32, 32] is another size"),
    (["batch", 1, 32, 32], "must take 3 colour channels, not 1"),
    ([2, 3, 32, 32], "a fixed batch of 2, but the sidecar's input.dynamic_batch is true"),
], ids=["1e9", "zero", "other-size", "one-channel", "fixed-batch"])
def test_onnx_graph_with_absurd_input_shape_is_refused_in_one_line(model, coco, tmp_path, dims, expected):
    odd = _onnx_with_input_dims(model, tmp_path / "odd.onnx", dims)
    with pytest.raises(MmpxError) as info:
        OnnxPoseModel(odd)
    (line,) = info.value.message.splitlines()
    assert line.startswith(f"{odd}: ") and expected in line, line
    out = tmp_path / "r.json"
    result, _ = _infer([coco / "images"], odd, "--save-json", out)
    err = result.stderr
    assert result.returncode == 1 and "Traceback" not in err and "unexpected" not in err, err
    assert expected in err and err.count("error:") == 1 and not out.exists()


def test_the_tiny_model_and_its_sidecar_pass(model):
    from mmpx.runtime.sidecar_check import sidecar_problems

    pose = OnnxPoseModel(model)
    assert sidecar_problems(pose.sidecar, pose.session) == []


# ---- 4. formula injection in trajectory CSVs ----

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3+4", "@SUM(A1)", "\tx", "\rx", "'=quoted", "'plain",
            "plain", "a=b"]


def _table() -> TrajectoryTable:
    table = TrajectoryTable(FORMULAS)
    k = len(FORMULAS)
    keypoints = np.stack([np.full(k, -12.5), np.linspace(-3, 3, k)], axis=-1)[None]
    table.add("=cmd|' /C calc'!A0.mp4", 0, 0.0, [1], keypoints, np.full((1, k), 0.9))
    table.add("-clip.mp4", 1, 0.04, [2], keypoints, np.full((1, k), 0.1))
    return table


def test_csv_text_cells_are_escaped_and_numbers_stay_numbers(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(_table(), path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["keypoint"] for r in rows[:len(FORMULAS)]] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+1+2", "'-3+4", "'@SUM(A1)", "'\tx", "'\rx", "''=quoted", "''plain",
        "plain", "a=b"]
    assert {r["video"] for r in rows} == {"'=cmd|' /C calc'!A0.mp4", "'-clip.mp4"}
    formula_start = ("=", "+", "-", "@", "\t", "\r")
    for row in rows:
        for column in ("video", "keypoint"):
            assert not row[column].startswith(formula_start), row
        assert float(row["x"]) == -12.5 and row["x"] == "-12.500"  # numbers stay numbers, negative ones too
        float(row["y"]), int(row["frame"]), int(row["track_id"])
    assert rows[0]["y"] == "-3.000"


def test_escaped_csv_reads_back_to_the_original_names(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(_table(), path)
    back = read_trajectories(path)
    assert back["keypoint"][:len(FORMULAS)].tolist() == FORMULAS
    assert sorted(set(back["video"].tolist())) == ["-clip.mp4", "=cmd|' /C calc'!A0.mp4"]
    np.testing.assert_allclose(back["x"], -12.5)


def test_parquet_keeps_names_as_typed_strings(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    _table().write(path)
    table = pq.read_table(path)
    assert str(table.schema.field("keypoint").type) == "string" and str(table.schema.field("x").type) == "double"
    assert table.column("keypoint").to_pylist()[:len(FORMULAS)] == FORMULAS
    assert read_trajectories(path)["keypoint"][:len(FORMULAS)].tolist() == FORMULAS


def test_infer_save_csv_escapes_a_video_named_like_a_formula(model, tmp_path):
    pytest.importorskip("norfair")  # --save-csv turns on tracking
    clip = _mjpeg_avi(tmp_path / "=1+2.avi")
    out = tmp_path / "t.csv"
    result, _ = _infer([clip], model, "--save-csv", out)
    assert result.returncode == 0, result.stderr[-2000:]
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["video"] for r in rows} == {"'=1+2.avi"}
    assert read_trajectories(out)["video"][0] == "=1+2.avi"


def test_the_python_api_names_why_a_video_is_refused(model, tmp_path):
    from mmpx.api import PoseEstimator
    from mmpx.errors import MmpxError

    clip = _mjpeg_avi(tmp_path / "clip.avi")
    big = _declare(clip, tmp_path / "big.avi", 15000, 15000, frames_too=True)
    with pytest.raises(MmpxError) as refused:
        list(PoseEstimator(model).run(big))  # no detector: the whole image is the box
    assert "too large: the video declares frames of 15000 x 15000" in str(refused.value), refused.value
    assert "MMPX_MAX_IMAGE_PIXELS" in refused.value.hint


def test_suggest_names_why_a_video_is_skipped(model, coco, tmp_path):
    from mmpx.api import PoseEstimator

    src = tmp_path / "in"
    src.mkdir()
    for image in sorted((coco / "images").glob("*.png"))[:3]:
        (src / image.name).write_bytes(image.read_bytes())
    _declare(_mjpeg_avi(tmp_path / "clip.avi"), src / "big.avi", 15000, 15000, frames_too=True)
    report = PoseEstimator(model, flip_test=False).suggest(src, tmp_path / "out", n=2)
    (why,) = [why for path, why in report.skipped if path.endswith("big.avi")]
    assert why.startswith("too large: the video declares frames of 15000 x 15000"), why
