"""``mmpx test --show-dir`` and ``--dump`` are staged beside their place and moved in at the end: a second run into
the same folder replaces its pictures and keeps the others, scenario subfolders included."""

from __future__ import annotations

import pytest

from mmpose_ext.apis import staged

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def test_a_second_run_into_one_show_dir_merges_its_subfolders(tmp_path):
    show, dump = tmp_path / "vis", tmp_path / "preds.pkl"
    (show / "cartoon").mkdir(parents=True)
    (show / "cartoon" / "old.jpg").write_bytes(b"earlier run")
    (show / "cartoon" / "same.jpg").write_bytes(b"earlier picture")
    staged.begin(dump, show)
    stage = staged.staged(show)
    (stage / "cartoon").mkdir()
    (stage / "cartoon" / "same.jpg").write_bytes(b"new picture")
    (stage / "real_human" / "dance").mkdir(parents=True)
    (stage / "real_human" / "dance" / "a.jpg").write_bytes(b"new")
    staged.staged(dump).write_bytes(b"predictions")
    staged.finish(dump, show)
    files = {str(p.relative_to(show)): p.read_bytes() for p in show.rglob("*") if p.is_file()}
    assert files == {"cartoon/old.jpg": b"earlier run", "cartoon/same.jpg": b"new picture",
                     "real_human/dance/a.jpg": b"new"}
    assert dump.read_bytes() == b"predictions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.pkl", "vis"]  # nothing staged is left
