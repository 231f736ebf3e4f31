"""A car's 360° spin: one self-contained HTML page beside its listing frames.

The page needs no network: it shows the frames (JPEGs in the same folder, by relative URL) in
angle order and turns with a mouse drag, a finger swipe, the arrow keys and an autoplay button.
No OpenCV or torch."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from urllib.parse import quote

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  html, body {{ margin: 0; background: #f4f4f4; font-family: sans-serif; color: #222; }}
  main {{ max-width: 1200px; margin: 0 auto; padding: 12px; }}
  #spin {{ position: relative; touch-action: none; cursor: grab; user-select: none; }}
  #spin.dragging {{ cursor: grabbing; }}
  #spin img {{ display: block; width: 100%; height: auto; pointer-events: none; }}
  .bar {{ display: flex; gap: 12px; align-items: center; margin-top: 8px; }}
  button {{ font-size: 16px; padding: 6px 14px; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<div id="spin" tabindex="0" aria-label="360 degree view: drag, swipe or use the arrow keys">
  <img id="frame" alt="{title}" src="{first}">
</div>
<div class="bar">
  <button id="prev" aria-label="Turn left">&#9664;</button>
  <button id="play">Play</button>
  <button id="next" aria-label="Turn right">&#9654;</button>
  <span id="angle"></span>
</div>
</main>
<script>
const frames = {frames};
const spin = document.getElementById("spin");
const img = document.getElementById("frame");
const label = document.getElementById("angle");
const play = document.getElementById("play");
const STEP_PX = 24;  // drag this far for one angle
let index = 0, timer = null, dragX = null;
const cache = frames.map(src => {{ const i = new Image(); i.src = src; return i; }});
function show(i) {{
  index = ((i % frames.length) + frames.length) % frames.length;
  img.src = frames[index];
  spin.dataset.index = index;
  label.textContent = "Angle " + (index + 1) + " of " + frames.length;
}}
function stop() {{
  if (timer) {{ clearInterval(timer); timer = null; play.textContent = "Play"; }}
}}
play.addEventListener("click", () => {{
  if (timer) {{ stop(); return; }}
  timer = setInterval(() => show(index + 1), 120);
  play.textContent = "Pause";
}});
document.getElementById("prev").addEventListener("click", () => {{ stop(); show(index - 1); }});
document.getElementById("next").addEventListener("click", () => {{ stop(); show(index + 1); }});
document.addEventListener("keydown", e => {{
  if (e.key === "ArrowLeft") {{ stop(); show(index - 1); e.preventDefault(); }}
  if (e.key === "ArrowRight") {{ stop(); show(index + 1); e.preventDefault(); }}
}});
spin.addEventListener("pointerdown", e => {{
  stop(); dragX = e.clientX; spin.classList.add("dragging"); spin.setPointerCapture(e.pointerId);
}});
spin.addEventListener("pointermove", e => {{
  if (dragX === null) return;
  const steps = Math.trunc((e.clientX - dragX) / STEP_PX);
  if (steps) {{ show(index + steps); dragX += steps * STEP_PX; }}
}});
const end = () => {{ dragX = null; spin.classList.remove("dragging"); }};
spin.addEventListener("pointerup", end);
spin.addEventListener("pointercancel", end);
show(0);
</script>
</body>
</html>
"""


def spin_page(frames: list[Path], page: Path, title: str) -> str:
    """The page's HTML for `frames` (in turning order) when it is saved as `page`."""
    if not frames:
        raise ValueError("a spin needs at least one frame")
    # URLs relative to the page: percent-encoded, else a car named "car#1" would send the
    # browser to "car" with a fragment (and "%", "?", spaces and accents go astray too)
    names = [quote(Path(os.path.relpath(f, page.parent)).as_posix()) for f in frames]
    # json.dumps escapes quotes; "</" is broken up so that a name cannot end the script
    listed = json.dumps(names).replace("</", "<\\/")
    return PAGE.format(
        title=html.escape(title), first=html.escape(names[0], quote=True), frames=listed
    )
