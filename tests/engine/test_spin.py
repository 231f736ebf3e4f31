"""The spin page's HTML and its name: frames by relative name in the given order, names that
cannot break the page, and a studio's own file of that name never replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse
from urllib.request import url2pathname

import pytest

from engine.batch.outputs import OutputPlan
from engine.listing.spin import spin_page


def _frames_of(page: str) -> list[str]:
    listed = re.search(r"const frames = (.*);", page).group(1)
    return json.loads(listed.replace("<\\/", "</"))


def test_the_page_lists_the_frames_by_relative_name_in_order(tmp_path):
    frames = [tmp_path / "out" / f"car_{n:02d}_listing.jpg" for n in (1, 2, 3)]
    frames.append(tmp_path / "out" / "more" / "car_04_listing.jpg")
    page = spin_page(frames, tmp_path / "out" / "car_spin.html", "car: 360° view")
    assert _frames_of(page) == [
        "car_01_listing.jpg",
        "car_02_listing.jpg",
        "car_03_listing.jpg",
        "more/car_04_listing.jpg",
    ]
    assert "<title>car: 360° view</title>" in page
    assert "http" not in page  # nothing to fetch


def test_odd_names_cannot_end_the_script_or_the_markup(tmp_path):
    odd = tmp_path / '</script><b>"x"&.jpg'  # a folder "<" and a file "script>..."
    page = spin_page([odd], tmp_path / "spin.html", "<car> & co")
    assert page.count("</script>") == 1  # only the page's own
    assert [unquote(f) for f in _frames_of(page)] == ['</script><b>"x"&.jpg']
    assert "<title>&lt;car&gt; &amp; co</title>" in page
    with pytest.raises(ValueError, match="at least one frame"):
        spin_page([], tmp_path / "spin.html", "car")


def test_a_studio_file_with_the_spin_name_is_left_alone(tmp_path):
    theirs = tmp_path / "car_spin.html"
    theirs.write_text("the studio's own page")
    plan = OutputPlan(["listing"])
    page = plan.claim("car_spin", ".html", tmp_path)
    assert page == tmp_path / "car_spin_html.html"
    assert plan.claim("car_spin", ".html", tmp_path) == tmp_path / "car_spin_html_2.html"
    assert theirs.read_text() == "the studio's own page"


def test_frame_urls_lead_to_the_frames_whatever_the_car_is_called(tmp_path):
    """A browser reads the frames' names as URLs relative to the page: `car#1_01.jpg` would be
    `car` with a fragment, `50%_01.jpg` a broken escape; each must resolve to its file."""
    out = tmp_path / "out"
    out.mkdir()
    frames = []
    for car in ("car#1", "50% off?", "Citroën C3"):
        frame = out / f"{car}_01_listing.jpg"
        frame.write_bytes(b"a frame")
        frames.append(frame)
    page = out / "car#1_spin.html"
    urls = _frames_of(spin_page(frames, page, "car#1: 360° view"))
    found = [Path(url2pathname(urlparse(urljoin(page.as_uri(), url)).path)) for url in urls]
    assert found == frames, urls
