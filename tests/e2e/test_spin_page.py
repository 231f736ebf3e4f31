"""`carmask predict --format listing --spin`: the car's 360° page, opened in a real browser
(Debian's headless Chromium, driven by Playwright), turns with keys, drags and autoplay and
asks for nothing beyond its own folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="apt install chromium (.ci/run does)")
LISTING = Path(__file__).parents[1] / "data" / "listing"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def spun(trained_model, tmp_path_factory) -> Path:
    """The output folder of a 16-angle car framed with --spin."""
    root = tmp_path_factory.mktemp("spin")
    shoot = root / "shoot"
    shoot.mkdir()
    for photo in sorted(LISTING.glob("*_[0-9][0-9].jpg")):
        shutil.copy(photo, shoot / photo.name)
    out = root / "out"
    args = ["predict", str(shoot), "--out", str(out), "--format", "listing", "--spin"]
    args += ["--size", "640x480", "--model", str(trained_model), "--device", "cpu", "-q"]
    assert main(args) == 0
    return out


@pytest.fixture
def page(spun):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        offline = browser.new_context(offline=True, viewport={"width": 800, "height": 800})
        tab = offline.new_page()
        tab.requests, tab.errors = [], []
        tab.on("request", lambda r: tab.requests.append(r.url))
        tab.on("pageerror", lambda e: tab.errors.append(str(e)))
        tab.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))
        tab.goto((spun / "1a17a1bd648b_spin.html").as_uri())
        tab.wait_for_function("[...document.images].every(i => i.complete)")
        yield tab
        browser.close()


def _shown(tab) -> tuple[int, str]:
    index = int(tab.get_attribute("#spin", "data-index"))
    return index, tab.eval_on_selector("#frame", "i => i.src.split('/').pop()")


def test_the_spin_page_lists_every_angle_in_order_and_needs_no_network(spun, page):
    frames = sorted(f.name for f in spun.glob("*_listing.jpg"))
    assert len(frames) == 16
    loaded = page.evaluate("cache.map(i => [i.src.split('/').pop(), i.naturalWidth])")
    assert loaded == [[name, 640] for name in frames]  # every frame found and decoded
    assert _shown(page) == (0, frames[0])
    assert page.text_content("#angle") == "Angle 1 of 16"
    assert all(url.startswith("file://") for url in page.requests), page.requests
    assert page.errors == []


def test_the_spin_turns_with_keys_drag_buttons_and_autoplay(spun, page):
    frames = sorted(f.name for f in spun.glob("*_listing.jpg"))
    page.keyboard.press("ArrowRight")
    assert _shown(page) == (1, frames[1])
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    assert _shown(page) == (14, frames[14])  # wraps round past the first angle
    page.click("#next")
    assert _shown(page)[0] == 15
    box = page.locator("#spin").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 100, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 100 + 24 * 5 + 3, y, steps=10)  # five angles' worth
    page.mouse.up()
    assert _shown(page) == (4, frames[4])
    page.click("#play")
    assert page.text_content("#play") == "Pause"
    page.wait_for_function("document.getElementById('spin').dataset.index >= 7")
    page.click("#play")
    stopped = _shown(page)
    page.wait_for_timeout(400)
    assert _shown(page) == stopped  # paused: it stays where it is
    assert page.errors == []


def test_the_spin_page_of_a_car_named_with_a_hash_shows_its_frames(trained_model, tmp_path):
    """`car#1`: a frame's name unescaped in the page would be read as `car` and a fragment."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    for n in (1, 2, 3):
        shutil.copy(LISTING / f"1a17a1bd648b_{n:02d}.jpg", shoot / f"car#1_{n:02d}.jpg")
    args = ["predict", str(shoot), "--out", str(out), "--format", "listing", "--spin"]
    args += ["--size", "320x240", "--model", str(trained_model), "--device", "cpu", "-q"]
    assert main(args) == 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        tab = browser.new_context(offline=True).new_page()
        tab.goto((out / "car#1_spin.html").as_uri())
        tab.wait_for_function("cache.every(i => i.complete)")
        widths = tab.evaluate("cache.map(i => i.naturalWidth)")
        browser.close()
    assert widths == [320, 320, 320]  # each frame found and decoded
