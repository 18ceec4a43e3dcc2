"""Checks of an ``mmpx report`` page in a real headless Chromium, shared by the core tier (a hand-made run) and the
full tier (a trained run): no console error, no request off the disk, every image loaded, the metrics equal the
run's JSON, the gallery's first case is the lowest-OKS instance by mmpx's own evaluation, the filters work with
the mouse's events and the keyboard's, and the page fits a phone's width."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.browser import Browser, BrowserError, find_chromium

VISIBLE = "Array.from(document.querySelectorAll('#gallery > li')).filter(l => !l.hidden)"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (scripts/setup-browser.sh installs Debian's package as root)")
    try:
        b = Browser(exe, tmp_path_factory.mktemp("chromium"))
    except (BrowserError, OSError) as exc:
        pytest.skip(f"chromium {exe} does not start here: {exc}")
    yield b
    b.close()


def lowest_oks(gt_path: Path, results: list[dict], sigmas) -> tuple[float, set]:
    """The lowest OKS of any GT instance and the annotation ids that have it, from mmpx.evaluation's matching
    (an instance no prediction matched has OKS 0), independently of the report's code."""
    from mmpx.evaluation.matching import match, oks_matrix

    gt = json.loads(Path(gt_path).read_text())
    m = match({img["id"]: img for img in gt["images"]}, gt["annotations"], results, sigmas)
    oks = np.zeros(len(m.gt_anns))
    for g, p in enumerate(m.gt_pred):
        if p >= 0:
            oks[g] = oks_matrix(m.pred_xy[p][None], m.gt_xy[g][None], m.gt_vis[g][None], m.gt_area[g][None],
                                np.asarray(sigmas))[0, 0]
    low = float(oks.min())
    return low, {str(m.gt_anns[g]["id"]) for g in np.flatnonzero(np.isclose(oks, low, rtol=0, atol=1e-12))}


def press(browser: Browser, key: str, code: int) -> None:
    for kind in ("rawKeyDown", "keyUp"):
        browser.page("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code,
                     nativeVirtualKeyCode=code)


def check_page(browser: Browser, page: Path, *, metrics: dict, gt: Path, results: list[dict], sigmas,
               shots: Path) -> dict:
    """Open ``page`` and check it (see the module docstring); returns what it found. Screenshots go to ``shots``."""
    browser.events.clear()
    browser.open(page.resolve().as_uri())
    images = browser.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    assert images and all(done and width > 0 and alt for done, width, alt in images), images
    shown = browser.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('#final-metrics tr')).filter("
                             "r => r.dataset.key).map(r => [r.dataset.key, r.querySelector('td[data-value]')"
                             ".dataset.value]))")
    assert {k: float(v) for k, v in shown.items()} == pytest.approx(metrics, rel=1e-12), (shown, metrics)

    first = browser.evaluate(f"(() => {{ const li = {VISIBLE}[0]; return [li.dataset.annId, +li.dataset.oks]; }})()")
    low, ids = lowest_oks(gt, results, sigmas)
    assert first[1] == pytest.approx(low, abs=1e-9) and first[0] in ids, (first, low, ids)

    before = browser.evaluate(f"{VISIBLE}.map(l => l.dataset.annId)")
    # the mouse's way: pick a keypoint that is not the first case's worst, so the selection must change
    chosen = browser.evaluate(
        "(() => { const s = document.getElementById('kpt-filter'); const first = document.querySelector("
        "'#gallery > li').dataset.keypoint; const o = Array.from(s.options).find(o => o.value && o.value !== first)"
        " || s.options[1]; s.value = o.value; s.dispatchEvent(new Event('change')); return s.value; })()")
    after = browser.evaluate(f"{VISIBLE}.map(l => [l.dataset.annId, l.dataset.keypoint])")
    assert after and all(k == chosen for _, k in after) and [a for a, _ in after] != before, (chosen, after)
    assert chosen in browser.evaluate("document.getElementById('case-count').textContent")
    browser.screenshot(shots / "report_filtered.png", full_page=False)
    # the keyboard's way: back to "any" with Home on the focused select, then the next keypoint with ArrowDown
    browser.evaluate("document.getElementById('kpt-filter').focus()")
    press(browser, "Home", 36)
    assert browser.evaluate(f"{VISIBLE}.map(l => l.dataset.annId)") == before
    press(browser, "ArrowDown", 40)
    value = browser.evaluate("document.getElementById('kpt-filter').value")
    assert value and all(k == value for k in browser.evaluate(f"{VISIBLE}.map(l => l.dataset.keypoint)"))
    browser.screenshot(shots / "report.png")

    assert browser.errors() == []
    assert {url.split(":", 1)[0] for url in browser.requests()} <= {"file", "data"}, browser.requests()
    browser.open(page.resolve().as_uri(), width=390, height=844, mobile=True)  # a phone
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    browser.screenshot(shots / "report_phone.png")
    assert browser.errors() == []
    return dict(first=first, lowest=low, shown=shown, filtered=chosen)
