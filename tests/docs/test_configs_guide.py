"""The locust config docs/guides/configs.md shows is what ``mmpx configs new`` writes today (torch-free: the check
before writing is the stack's, covered in tests/mmpx/app/test_configs_new.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mmpx.configs.new import plan_config
from mmpx.configs.new_text import render
from mmpx.metainfo import metainfo_from_coco, write_metainfo
from tests.helpers import ROOT

COMMAND = ("mmpx configs new --data data/locust/test_locust.json --metainfo data/locust/metainfo.py "
           "--out locust_rtmpose-t.py")


def test_locust_config_in_the_guide_is_current(shared_data, tmp_path, monkeypatch):
    shutil.copytree(shared_data / "mmpose-testdata" / "locust", tmp_path / "data" / "locust")
    monkeypatch.chdir(tmp_path)
    ann = Path("data/locust/test_locust.json")
    write_metainfo("data/locust/metainfo.py", metainfo_from_coco(ann))
    text = render(plan_config(ann, "rtmpose-t", metainfo=Path("data/locust/metainfo.py")), COMMAND)
    guide = (ROOT / "docs" / "guides" / "configs.md").read_text(encoding="utf-8")
    shown = guide.split("```python\n", 1)[1].split("```\n", 1)[0]
    assert shown == text, "regenerate the config shown in docs/guides/configs.md (its Written by: line says how)"
