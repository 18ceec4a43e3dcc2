"""mmpx.evaluation.tables (flat metrics, JSON/Markdown/tables, comparisons) and ``mmpx compare``."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from mmpx.cli.main import build_app
from mmpx.errors import MmpxError
from mmpx.evaluation import tables as report
from mmpx.plugins.manager import load_plugins
from tests.helpers import run

COMBINED = {"Human-Art_real_human/coco/AP": 0.5, "Human-Art_real_human/coco/AR": 0.6,
            "Human-Art_2D_virtual_human/coco/AP": 0.25, "mean/coco/AP": 0.375, "weighted/coco/AP": 0.4166666}
# what `mmpx eval --out` writes (schema mmpx-eval/1), trimmed
EVAL = {"schema": "mmpx-eval/1", "num_images": 3, "metrics": {"AP": 0.5, "AP .5": 0.75, "EPE": 4.0},
        "by": "group", "groups": {"real_human": {"AP": 0.6, "num_images": 1}, "cartoon": {"AP": None}},
        "keypoints": [{"name": "nose", "count": 3, "PCK": 0.9}], "flag": True}


def test_flatten_handles_nested_eval_output():
    flat = report.flatten(EVAL)
    assert flat == {"num_images": 3.0, "AP": 0.5, "AP .5": 0.75, "EPE": 4.0, "real_human/AP": 0.6,
                    "real_human/num_images": 1.0, "keypoints/nose/count": 3.0, "keypoints/nose/PCK": 0.9}


def test_compare_gives_deltas_relative_change_and_one_sided_keys():
    rows = report.compare({"coco/AP": 0.5, "coco/AR": 0.0, "old": 1.0}, {"coco/AP": 0.6, "coco/AR": 0.2, "new": 2})
    by_key = {r.key: r for r in rows}
    assert [r.key for r in rows] == ["coco/AP", "coco/AR", "old", "new"]
    assert by_key["coco/AP"].delta == pytest.approx(0.1) and by_key["coco/AP"].relative == pytest.approx(0.2)
    assert by_key["coco/AR"].relative is None  # relative to 0
    assert (by_key["old"].b, by_key["old"].delta, by_key["new"].a) == (None, None, None)
    assert report.check_deltas(rows, {"coco/AP": -0.01}) == []
    assert "below" in report.check_deltas(rows, {"coco/AP": 0.2})[0]
    assert "not in both" in report.check_deltas(rows, {"old": 0})[0]


def test_compare_flattens_nested_input():
    rows = report.compare(EVAL, {"metrics": {"AP": 0.7}, "groups": {"real_human": {"AP": 0.5}}})
    by_key = {r.key: r for r in rows}
    assert by_key["AP"].delta == pytest.approx(0.2)
    assert by_key["real_human/AP"].delta == pytest.approx(-0.1)


def test_write_json_and_markdown(tmp_path):
    path = report.write_json({"a": {"AP": 0.5}, "b/AP": 0.25, "note": "x"}, tmp_path / "out" / "m.json")
    assert json.loads(path.read_text()) == {"a/AP": 0.5, "b/AP": 0.25}
    text = report.write_markdown(COMBINED, tmp_path / "m.md", title="Two scenes").read_text()
    lines = text.splitlines()
    assert lines[0] == "# Two scenes"
    assert lines[2] == "| metric | Human-Art_real_human | Human-Art_2D_virtual_human | mean | weighted |"
    assert "| coco/AP | 0.5000 | 0.2500 | 0.3750 | 0.4167 |" in lines
    assert "| coco/AR | 0.6000 | - | - | - |" in lines


def test_print_table_has_a_column_per_prefix():
    from rich.console import Console

    console = Console(record=True, width=200)
    report.print_table(COMBINED, title="metrics", console=console)
    text = console.export_text()
    assert "Human-Art_2D_virtual_human" in text and "weighted" in text and "0.4167" in text


def test_load_metrics_reads_log_scalars_and_names_bad_files(tmp_path):
    log = tmp_path / "scalars.json"
    log.write_text('{"loss": 0.1, "lr": 0.001, "step": 1}\n{"coco/AP": 0.3, "step": 1}\n'
                   '{"loss": 0.05, "step": 2}\n{"coco/AP": 0.4, "data_time": 0.1, "step": 2}\n')
    assert report.load_metrics(log) == {"coco/AP": 0.4}
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty.json").write_text('{"schema": "x", "flag": true}')
    for name, what in (("missing.json", "does not exist"), ("bad.json", "is not JSON"),
                       ("empty.json", "no numeric metrics")):
        with pytest.raises(MmpxError, match=what) as info:
            report.load_metrics(tmp_path / name)
        assert name in info.value.message


@pytest.fixture(scope="module")
def cli():
    runner, app = CliRunner(), build_app(load_plugins())
    return lambda *args: runner.invoke(app, list(args))


def test_compare_command(cli, tmp_path):
    a, b = tmp_path / "published.json", tmp_path / "ours.json"
    a.write_text(json.dumps({"coco/AP": 0.7, "coco/AR": 0.75, "only_a": 1}))
    b.write_text(json.dumps({"coco/AP": 0.72, "coco/AR": 0.74, "EPE": 3.0}))
    result = cli("compare", str(a), str(b), "--names", "published,ours", "--keys", "coco/*,EPE",
                 "--markdown", str(tmp_path / "c.md"), "--json", str(tmp_path / "c.json"))
    assert result.exit_code == 0, result.output
    assert "published" in result.output and "+0.0200" in result.output and "only_a" not in result.output
    md = (tmp_path / "c.md").read_text()
    assert "| metric | published | ours | delta (ours - published) | relative |" in md
    assert "| coco/AR | 0.7500 | 0.7400 | -0.0100 | -1.3% |" in md
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert [r["key"] for r in rows] == ["coco/AP", "coco/AR", "EPE"] and rows[2]["a"] is None
    assert cli("compare", str(a), str(b), "--fail-below", "coco/AP=-0.01").exit_code == 0
    failed = cli("compare", str(a), str(b), "--fail-below", "coco/AR=-0.005")
    assert isinstance(failed.exception, MmpxError) and "coco/AR: changed by -0.0100" in failed.exception.message


def test_closest_names():
    """An official MPII file keyed Head, Shoulder against mmpx's Head PCK, Shoulder PCK."""
    assert report.closest_names(["Head", "Shoulder", "Mean"], ["Head PCK", "Shoulder PCK", "PCKh"]) == [
        ("Head", "Head PCK"), ("Shoulder", "Shoulder PCK")]
    matched = report.closest_names(["coco/AP"], ["coco/AP", "coco/AR"])
    assert matched == [("coco/AP", "coco/AP")]


def test_compare_says_when_no_name_matches_and_suggests_the_closest(tmp_path, capsys):
    from mmpx.cli.main import main

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"Head": 96.3}))
    b.write_text(json.dumps({"Head PCK": 95.9}))
    with pytest.raises(SystemExit):
        main(["compare", str(a), str(b)])
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: no metric name of a.json matches one of b.json: nothing is compared" in err
    assert "closest: 'Head' ~ 'Head PCK'" in err
    with pytest.raises(SystemExit):
        main(["compare", str(a), str(a)])
    assert "warning" not in capsys.readouterr().err


def test_compare_command_bad_input_raises_mmpx_error_naming_the_file(cli, tmp_path):
    good = tmp_path / "good.json"
    good.write_text('{"AP": 1}')
    (tmp_path / "bad.json").write_text("[1, 2")
    (tmp_path / "text.json").write_text('{"schema": "mmpx-eval/1"}')
    for other, what in (("nope.json", "does not exist"), ("bad.json", "is not JSON"),
                        ("text.json", "no numeric metrics")):
        result = cli("compare", str(good), str(tmp_path / other))
        assert isinstance(result.exception, MmpxError)  # main() prints it as one line and exits 1
        assert what in result.exception.message and other in result.exception.message
    for bad in (["--fail-below", "AP"], ["--names", "one"], ["--keys", "nothing*"]):
        assert isinstance(cli("compare", str(good), str(good), *bad).exception, MmpxError)


def test_mmpx_compare_imports_no_torch(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"coco/AP": 0.5}')
    code = ("import sys; from mmpx.cli.main import main\n"
            f"try:\n    main(['compare', {str(path)!r}, {str(path)!r}])\n"
            "except SystemExit as e:\n    assert not e.code\n"
            "heavy = [m for m in ('torch', 'mmengine', 'mmpose', 'mmcv') if m in sys.modules]\n"
            "assert not heavy, heavy")
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "coco/AP" in result.stdout
    missing = run([sys.executable, "-m", "mmpx", "compare", str(path), str(tmp_path / "nope.json")])
    assert missing.returncode == 1 and "nope.json does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
