"""`carmask predict` never destroys a studio's files, and accounts for every file it is given.

Real photos, a real (tiny) trained model, real files and folders; one test per case of the
reliability issue."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cutout_checks import assert_cutout_of
from factories import rewrite_header
from PIL import Image

from engine.batch.outputs import MANIFEST_NAME
from engine.cli import _finish_before_stopping, main

VAL = Path(__file__).parents[1] / "data" / "carvana" / "val"
VAL_MASKS = Path(__file__).parents[1] / "data" / "carvana" / "val_masks"
PHOTOS = sorted(VAL.glob("*.jpg"))


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != MANIFEST_NAME
    }


def _predict(model, *args) -> int:
    return main(["predict", *map(str, args), "--model", str(model), "--device", "cpu", "-q"])


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_output_into_the_shoot_never_replaces_a_photo_and_reruns_the_same(
    trained_model, tmp_path, capsys
):
    """Issue cases 1 and 3: car.jpg and car.png, two different photos, cut out into their own
    folder; then the same run again."""
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    shutil.copy(PHOTOS[0], shoot / "car.jpg")
    Image.open(PHOTOS[1]).save(shoot / "car.png")
    originals = _snapshot(shoot)

    assert _predict(trained_model, shoot, "--out", shoot) == 0
    assert "done: 2, failed: 0" in capsys.readouterr().out
    first = _snapshot(shoot)
    assert {k: first[k] for k in originals} == originals  # both originals as they were
    assert _names(shoot) == {"car.jpg", "car.png", "car_jpg.png", "car_png.png", MANIFEST_NAME}
    cut = np.asarray(Image.open(shoot / "car_png.png"))
    assert_cutout_of(cut, np.asarray(Image.open(shoot / "car.png").convert("RGB")))

    assert _predict(trained_model, shoot, "--out", shoot) == 0
    out = capsys.readouterr().out
    assert "done: 2, failed: 0" in out and "2 outputs of an earlier run left out" in out
    assert _snapshot(shoot) == first  # the same files, nothing new, originals untouched


def test_a_hand_made_mask_beside_its_photo_is_kept_and_not_cut_out(trained_model, tmp_path, capsys):
    """Issue case 2: X.jpg beside its hand-made X_mask.png, --format mask into that folder."""
    shoot = tmp_path / "labelled"
    shoot.mkdir()
    shutil.copy(PHOTOS[0], shoot / "X.jpg")
    Image.open(VAL_MASKS / f"{PHOTOS[0].stem}_mask.gif").convert("L").save(shoot / "X_mask.png")
    originals = _snapshot(shoot)

    assert _predict(trained_model, shoot, "--out", shoot, "--format", "mask") == 0
    out = capsys.readouterr().out
    assert "done: 1, failed: 0, skipped: 1" in out
    assert f"skipped: {shoot / 'X_mask.png'}: the mask of X.jpg, not a photo" in out
    assert {k: v for k, v in _snapshot(shoot).items() if k in originals} == originals
    assert (shoot / "X_jpg_mask.png").is_file()


def test_an_edited_output_is_the_studios_file(trained_model, tmp_path, capsys):
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    shutil.copy(PHOTOS[0], shoot / "car.jpg")
    (out).mkdir()
    (out / "car.png").write_bytes(b"a retouched file of the studio's")
    assert _predict(trained_model, shoot, "--out", out) == 0
    assert (out / "car.png").read_bytes() == b"a retouched file of the studio's"
    assert (out / "car_jpg.png").is_file()


def test_every_unused_file_is_listed_and_heic_is_read(trained_model, tmp_path, capsys):
    """Issue case 7: HEIC is read; GIF, a FIFO, a link loop and a broken link are listed."""
    from pillow_heif import from_pillow

    shoot = tmp_path / "shoot"
    shoot.mkdir()
    from_pillow(Image.open(PHOTOS[0])).save(shoot / "IMG_0001.HEIC", quality=90)
    Image.open(PHOTOS[1]).save(shoot / "anim.gif")
    os.mkfifo(shoot / "pipe.jpg")
    (shoot / "loop.jpg").symlink_to(shoot / "loop.jpg")
    (shoot / "gone.jpg").symlink_to(shoot / "missing.jpg")
    (shoot / "notes.txt").write_text("shoot notes")

    code = _predict(trained_model, shoot, "--out", tmp_path / "out")
    out = capsys.readouterr().out
    assert code == 0
    assert "done: 1, failed: 0, skipped: 5" in out
    for name, reason in {
        "anim.gif": "GIF is not read as a photo",
        "pipe.jpg": "not a regular file",
        "loop.jpg": "symbolic link loop",
        "gone.jpg": "broken symbolic link",
        "notes.txt": "not a supported image type (.txt)",
    }.items():
        assert f"skipped: {shoot / name}: {reason}" in out
    cut = np.asarray(Image.open(tmp_path / "out" / "IMG_0001.png"))
    assert cut.shape == (320, 480, 4) and 0.05 < (cut[..., 3] > 127).mean() < 0.95


def test_photo_transparency_and_pages(trained_model, tmp_path, capsys):
    """Issue case 8: a photo's alpha bounds its cutout; a multi-page TIFF says page 1 is used."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    rgba = Image.open(PHOTOS[0]).convert("RGBA")
    a = np.full((320, 480), 255, np.uint8)
    a[:, :240] = 0
    rgba.putalpha(Image.fromarray(a))
    rgba.save(shoot / "half.png")
    pages = [Image.open(p) for p in PHOTOS[1:4]]
    pages[0].save(shoot / "pages.tif", save_all=True, append_images=pages[1:])

    assert _predict(trained_model, shoot, "--out", out, "--format", "mask") == 0
    text = capsys.readouterr().out
    assert f"note: {shoot / 'pages.tif'}: 3 pages (images) in the file; page 1 used" in text
    half = np.asarray(Image.open(out / "half_mask.png"))
    assert half[:, :240].max() == 0 and half[:, 240:].max() == 255


def test_names_follow_the_path_given_long_names_fit_and_stale_temps_go(
    trained_model, tmp_path, capsys
):
    """Issue cases 10-12: a link keeps its own name; a 250-character name works; a temp file
    of a killed run is removed, one of a live process is not."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    out.mkdir()
    target = tmp_path / "store" / "0789_01.jpg"
    target.parent.mkdir()
    shutil.copy(PHOTOS[0], target)
    (shoot / "front.jpg").symlink_to(target)
    long_name = "a" * 246 + ".jpg"
    shutil.copy(PHOTOS[1], shoot / long_name)
    dead = out / ".cm-999999999-x1.tmp"
    dead.write_bytes(b"")
    alive = out / f".cm-{os.getpid()}-x2.tmp"
    alive.write_bytes(b"")

    assert _predict(trained_model, shoot, "--out", out, "--format", "png", "--format", "mask") == 0
    assert {"front.png", "front_mask.png", "a" * 246 + ".png", "a" * 246 + "_mask.png"} <= _names(
        out
    )
    assert not dead.exists() and alive.exists()


def test_options_are_checked_before_the_model_loads(tmp_path, capsys):
    """Issue case 13: a bad colour is an argument error, before anything is loaded (the model
    file given does not even exist); CSS names and #RGB are colours."""
    with pytest.raises(SystemExit) as info:
        main(
            [
                "predict",
                str(PHOTOS[0]),
                "--out",
                str(tmp_path),
                "--format",
                "jpg",
                "--background",
                "reddish",
                "--model",
                str(tmp_path / "none.safetensors"),
            ]
        )
    assert info.value.code == 2
    assert "'reddish' is not a colour" in capsys.readouterr().err


@pytest.mark.parametrize("colour", ["red", "#F00", "ff0000"])
def test_background_colours(trained_model, tmp_path, colour):
    out = tmp_path / colour.strip("#")
    _predict(trained_model, PHOTOS[0], "--out", out, "--format", "jpg", "--background", colour)
    jpg = np.asarray(Image.open(out / f"{PHOTOS[0].stem}.jpg"))
    assert jpg[2, 2, 0] > 240 and jpg[2, 2, 1] < 15 and jpg[2, 2, 2] < 15


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("threshold", 1.5, "field 'threshold' is 1.5; must be between 0 and 1"),
        ("threshold", -0.5, "field 'threshold' is -0.5; must be between 0 and 1"),
        ("threshold", 1.0, "field 'threshold' is 1.0; must be between 0 and 1"),
        ("std", [0.229, 0, 0.225], "field 'std[1]' is 0; must be above 0"),
        ("input_size", [0, 0], "field 'input_size' is [0, 0]; must be [height, width]"),
        ("mean", [0.5, 0.5], "field 'mean' is [0.5, 0.5]; must be three numbers"),
    ],
)
def test_a_bad_header_field_is_named_when_the_file_is_read(
    trained_model, tmp_path, capsys, field, value, message
):
    """Issue case 5, in predict and in `models list`; the header's digest is made right, so
    the field check itself is what refuses it."""
    from engine.modelfiles.header import header_digest

    def edit(h):
        h[field] = value
        h["digest"] = header_digest(h)

    (tmp_path / "lib").mkdir()
    bad = rewrite_header(trained_model, tmp_path / "lib" / "bad.safetensors", edit)
    assert _predict(bad, PHOTOS[0], "--out", tmp_path / "out") == 2
    assert f"error: {bad}: damaged model header: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["models", "list", "--dir", str(tmp_path / "lib")]) == 0
    assert f"unreadable: {bad}: damaged model header: {message}" in capsys.readouterr().out


def test_the_digest_covers_the_header_and_is_required(trained_model, tmp_path, capsys):
    """Issue case 6: an edited header with its digest left or blanked is refused; an older
    file without one says how to re-save it, and re-saving works."""
    edited = rewrite_header(
        trained_model, tmp_path / "edited.safetensors", lambda h: h.update(threshold=0.3)
    )
    assert _predict(edited, PHOTOS[0], "--out", tmp_path / "o1") == 2
    assert "header does not match its checksum" in capsys.readouterr().err

    def older(h):
        h.update(format_version=1, digest="")

    old = rewrite_header(trained_model, tmp_path / "old.safetensors", older)
    assert _predict(old, PHOTOS[0], "--out", tmp_path / "o2") == 2
    err = capsys.readouterr().err
    assert "made by an older CarMask" in err and "carmask models resave" in err
    new = tmp_path / "new.safetensors"
    assert main(["models", "resave", str(old), str(new)]) == 0
    assert _predict(new, PHOTOS[0], "--out", tmp_path / "o3") == 0
    # a current file with its digest blanked is refused as well
    blank = rewrite_header(
        trained_model, tmp_path / "blank.safetensors", lambda h: h.update(digest="")
    )
    assert _predict(blank, PHOTOS[0], "--out", tmp_path / "o4") == 2
    assert "without a checksum of its header" in capsys.readouterr().err


def test_resave_refuses_a_current_file_whose_header_was_edited(trained_model, tmp_path, capsys):
    """`models resave` is for files of format 1; it must not re-seal an edited format-2 file."""
    edited = rewrite_header(
        trained_model, tmp_path / "edited.safetensors", lambda h: h.update(threshold=0.3)
    )
    new = tmp_path / "new.safetensors"
    assert main(["models", "resave", str(edited), str(new)]) == 2
    err = capsys.readouterr().err
    assert f"{edited}: damaged model header: the header does not match its checksum" in err
    assert "format 1" in err
    assert not new.exists()
    intact = tmp_path / "intact.safetensors"  # an intact current file is re-saved as before
    assert main(["models", "resave", str(trained_model), str(intact)]) == 0


def test_evaluate_skips_a_mask_of_the_wrong_size(trained_model, tmp_path, capsys):
    """Issue case 9."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for p in PHOTOS[:3]:
        shutil.copy(p, images / p.name)
        shutil.copy(VAL_MASKS / f"{p.stem}_mask.gif", masks / f"{p.stem}_mask.gif")
    wrong = masks / f"{PHOTOS[1].stem}_mask.gif"
    Image.open(wrong).resize((240, 160)).save(wrong)
    code = main(
        [
            "evaluate",
            "--images",
            str(images),
            "--masks",
            str(masks),
            "--model",
            str(trained_model),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "over 2 photos" in out
    assert f"skipped: {wrong}: mask is 240×160, its photo 480×320" in out
    assert main(["evaluate", "--images", str(tmp_path / "nope"), "--masks", str(masks)]) == 2
    assert "--images" in capsys.readouterr().out


def test_ctrl_c_is_held_back_while_a_photos_outputs_are_written():
    with pytest.raises(KeyboardInterrupt), _finish_before_stopping():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        written = True  # reached: the interrupt waited for the block to end
    assert written


def test_ctrl_c_prints_the_summary_and_leaves_whole_photos(trained_model, tmp_path):
    """Issue case 12: interrupted mid-batch, the run says what was done and what was not; every
    cutout has the mask it was asked with."""
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    for i in range(120):
        shutil.copy(PHOTOS[i % len(PHOTOS)], shoot / f"car_{i:03d}.jpg")
    cmd = [
        sys.executable,
        "-m",
        "engine.cli",
        "predict",
        str(shoot),
        "--out",
        str(out),
        "--model",
        str(trained_model),
        "--format",
        "png",
        "--format",
        "mask",
        "-q",
    ]
    # Ctrl-C as in a terminal: a shell starts background jobs with SIGINT ignored, and the child
    # would inherit that
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    record = out / MANIFEST_NAME
    deadline = time.time() + 120
    # 4 outputs written (the record's other lines are the names claimed at the start)
    while time.time() < deadline and not (
        record.exists() and record.read_text().count('"name"') >= 4
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout
    assert "not started:" in stdout and "interrupted" in stdout
    cutouts = {p.name[: -len(".png")] for p in out.glob("car_???.png")}
    masks = {p.name[: -len("_mask.png")] for p in out.glob("car_???_mask.png")}
    assert cutouts == masks and 2 <= len(cutouts) < 120
    assert not list(out.glob(".cm-*.tmp"))


@pytest.mark.parametrize("command", ["train", "finetune", "refine"])
def test_training_never_writes_its_model_over_a_studio_file(trained_model, tmp_path, command):
    photo = tmp_path / "car.jpg"
    shutil.copy(PHOTOS[0], photo)
    named = tmp_path / "notes.safetensors"
    named.write_bytes(b"not a model")
    before = {p: p.read_bytes() for p in (photo, named)}
    base = [command, "--data", str(VAL)]
    if command != "train":
        base += ["--model", str(trained_model)]
    for out in (photo, named):
        assert main([*base, "--out", str(out)]) == 2
    assert {p: p.read_bytes() for p in (photo, named)} == before


def test_evaluate_leaves_earlier_outputs_out(trained_model, tmp_path, capsys):
    """Outputs are never inputs, for `evaluate` too: cutouts predicted into the images folder
    are not scored as photos."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for p in PHOTOS[:2]:
        shutil.copy(p, images / p.name)
        shutil.copy(VAL_MASKS / f"{p.stem}_mask.gif", masks / f"{p.stem}_mask.gif")
    assert _predict(trained_model, images, "--out", images) == 0
    capsys.readouterr()
    args = ["evaluate", "--images", str(images), "--masks", str(masks), "-q"]
    assert main([*args, "--model", str(trained_model)]) == 0
    assert "over 2 photos" in capsys.readouterr().out
