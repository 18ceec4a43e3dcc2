"""The compatibility fixes: each needed only where the installed versions need it, and each really working."""

from __future__ import annotations

import ast
import json
import sys
import textwrap

import numpy as np
import pytest

import mmpose_ext
from mmpose_ext import compat
from mmpose_ext.compat import pkg_resources as pkg_fix
from mmpose_ext.compat import torchvision as tv_fix
from tests.helpers import mmpx, run

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def _python(code: str):
    return run([sys.executable, "-c", textwrap.dedent(code)])


def test_report_lists_every_fix_and_no_problem():
    names = [s.name for s in compat.report()]
    assert names == [
        "pkg_resources",
        "torchvision",
        "checkpoint",
        "numpy2_drawing",
        "numpy2_num_keypoints",
        "numpy2_ubody3d",
        "albumentations",
    ]
    assert [s.problem for s in compat.report()] == [None] * len(names)
    assert mmpose_ext.__version__


def test_import_patches_only_what_importing_needs():
    """`import mmpose_ext` (custom_imports) leaves mmengine's checkpoint writing alone: that is a hook now."""
    result = _python(
        """
        import mmpose_ext
        from mmengine.hooks import checkpoint_hook
        import mmengine.runner, mmengine.runner.runner, mmengine.runner.checkpoint as ckpt
        assert "open" not in vars(checkpoint_hook), "checkpoint_hook.open patched"
        for m in (mmengine.runner, mmengine.runner.runner, ckpt):
            assert m.save_checkpoint.__module__ == "mmengine.runner.checkpoint", m.__name__
            assert not hasattr(m.save_checkpoint, "__wrapped__"), m.__name__
        print("applied:", mmpose_ext.compat.apply_all())
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    applied = ast.literal_eval(result.stdout.split("applied:")[1].strip())
    assert set(applied) <= {fix.name for fix in compat.FIXES}


def test_importlib_lookups_match_mmengine_originals():
    """Our pkg_resources-free look-ups return what mmengine's own functions return."""
    from mmengine.utils import package_utils

    for package in ("mmpose", "mmengine", "mmcv", "numpy"):
        assert pkg_fix.get_installed_path(package) == package_utils.get_installed_path(package)
        assert pkg_fix.is_installed(package) is True
    assert pkg_fix.is_installed("surely-not-installed-pkg") is False
    assert pkg_fix.package2module("opencv-python") == package_utils.package2module("opencv-python")


def test_config_bases_resolve_without_pkg_resources(tmp_path):
    """With setuptools >= 81 (no pkg_resources), `mmpose::` bases still resolve once mmpose_ext is imported."""
    config = tmp_path / "cfg.py"
    config.write_text("_base_ = ['mmpose::_base_/default_runtime.py']\n")
    result = _python(f"""
        import sys
        sys.modules['pkg_resources'] = None   # what setuptools >= 81 leaves: import fails
        from mmengine.config import Config
        try:
            Config.fromfile({str(config)!r})
            raise SystemExit('expected mmengine to fail without pkg_resources')
        except ImportError:
            pass
        import mmpose_ext
        from mmpose_ext import compat
        status = {{s.name: s for s in compat.report()}}['pkg_resources']
        assert status.needed and status.active, status
        cfg = Config.fromfile({str(config)!r})
        assert cfg.default_scope == 'mmpose'
        print('ok')
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout


def test_torchvision_fix_leaves_no_fake_torchvision():
    """mmpose.visualization imports, and `import torchvision` still fails honestly afterwards."""
    pytest.importorskip("mmpose.visualization")
    status = {s.name: s for s in compat.report()}["torchvision"]
    if not status.needed:
        pytest.skip("a working torchvision is installed; the fix is a no-op here")
    assert status.active
    assert "torchvision" not in sys.modules
    with pytest.raises((ImportError, RuntimeError)):
        import torchvision  # noqa: F401

    from mmpose.utils import register_all_modules

    register_all_modules(init_default_scope=False)


def test_to_pil_image_matches_torchvision_semantics():
    import torch

    heat = torch.tensor([[0.0, 0.5, 1.0]])
    image = tv_fix.ToPILImage()(heat)
    assert image.mode == "L" and image.size == (3, 1)
    # torchvision: float * 255 then truncation to uint8
    assert list(image.getdata()) == [0, 127, 255]
    rgb = tv_fix.ToPILImage()(torch.ones(3, 2, 2))
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (255, 255, 255)
    arr = tv_fix.ToPILImage()(np.full((2, 2), 7, np.uint8))
    assert list(arr.getdata()) == [7, 7, 7, 7]


def test_simcc_visualizer_draws_without_torchvision():
    import torch
    from mmpose.visualization.simcc_vis import SimCCVisualizer

    heat1d = SimCCVisualizer().draw_1d_heatmaps(torch.rand(1, 48))
    heat2d = SimCCVisualizer().draw_2d_heatmaps(torch.rand(16, 12))
    assert heat1d.shape == (15, 48, 3) and heat2d.shape == (16, 12, 3)


def test_albumentation_transform_runs_with_rtmpose_arguments():
    """RTMPose's stage-1 Albumentation settings (1.x argument names) build and run on an image."""
    from mmpose.registry import TRANSFORMS

    transform = TRANSFORMS.build(
        dict(
            type="Albumentation",
            transforms=[
                dict(type="Blur", p=1.0),
                dict(type="MedianBlur", p=1.0),
                dict(
                    type="CoarseDropout",
                    max_holes=1,
                    max_height=0.4,
                    max_width=0.4,
                    min_holes=1,
                    min_height=0.2,
                    min_width=0.2,
                    p=1.0,
                ),
            ],
        )
    )
    img = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    out = transform(dict(img=img.copy()))
    assert out["img"].shape == img.shape and not np.array_equal(out["img"], img)


def test_import_order_does_not_matter():
    """mmpose_ext before or after MMPose's registering modules: no collision, no error, same registries.

    (``register_all_modules()`` itself cannot come first on this stack: it imports mmpose.visualization, which
    needs torchvision, which is what the fix provides.)
    """
    code = """
        import json
        {first}
        {second}
        from mmpose.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        from mmpose.registry import DATASETS, METRICS, MODELS, TRANSFORMS
        print(json.dumps([len(r.module_dict) for r in (DATASETS, METRICS, MODELS, TRANSFORMS)]))
    """
    ext = "import mmpose_ext"
    mm = "import mmpose.codecs, mmpose.datasets, mmpose.engine, mmpose.evaluation, mmpose.models"
    a = _python(code.format(first=ext, second=mm))
    b = _python(code.format(first=mm, second=ext))
    assert a.returncode == 0, a.stderr[-2000:]
    assert b.returncode == 0, b.stderr[-2000:]
    assert json.loads(a.stdout.splitlines()[-1]) == json.loads(b.stdout.splitlines()[-1])


def test_mmpose_ext_registers_nothing_under_an_mmpose_name():
    """Every name mmpose-ext (and its fixes) put in MMPose's registries is new: none shadows MMPose's."""
    result = _python("""
        import json
        import mmpose.codecs, mmpose.datasets, mmpose.engine, mmpose.evaluation, mmpose.models
        import mmpose.registry as r
        names = [n for n in dir(r) if n.isupper()]
        before = {n: dict(getattr(r, n).module_dict) for n in names if hasattr(getattr(r, n), 'module_dict')}
        import mmpose_ext
        changed = [f'{n}.{k}' for n, d in before.items() for k, v in d.items()
                   if getattr(r, n).module_dict.get(k) is not v]
        print(json.dumps(changed))
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_doctor_is_green_here():
    result = mmpx("doctor", "--json")
    report = json.loads(result.stdout)
    failing = [c for c in report["checks"] if not c["ok"]]
    assert result.returncode == 0 and report["ok"], failing
    names = {c["name"] for c in report["checks"]}
    assert {"torch", "mmcv", "mmcv ops", "checkpoint", "torchvision", "pkg_resources", "cuda"} <= names
    compat_rows = [c for c in report["checks"] if c["section"] == "compat"]
    assert all(c["value"] in ("active", "not needed", "hook, not a patch") for c in compat_rows), compat_rows
    assert all(c["detail"].startswith("why: ") for c in compat_rows if c["value"] != "hook, not a patch")
    assert "AtomicCheckpointHook" in {c["name"]: c for c in compat_rows}["atomic checkpoints"]["detail"]


def test_doctor_reports_a_broken_package_with_its_fix(tmp_path):
    """A shadowing broken module makes doctor fail that row, name the fix, and exit 1."""
    (tmp_path / "xtcocotools").mkdir()
    (tmp_path / "xtcocotools" / "__init__.py").write_text("raise ImportError('simulated broken build')\n")
    result = mmpx("doctor", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1
    rows = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert (
        rows["xtcocotools build"]["ok"] is False
        and "simulated broken build" in rows["xtcocotools build"]["detail"]
    )
    assert "--no-binary xtcocotools" in rows["xtcocotools build"]["fix"]
