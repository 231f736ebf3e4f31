"""The full-resolution edge refiner: where it acts, what a model file keeps of it, and its training
(`carmask refine`) on real full-size Carvana photos."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import train_config

from engine.cli import main as cli_main
from engine.inference.devices import cpu_has_fast_bf16, describe_device
from engine.inference.predict import Predictor
from engine.io import read_mask, read_rgb
from engine.modelfiles.checkpoint import load_model, read_header, save_model
from engine.models.refiner import EdgeRefiner, uncertain_tiles
from engine.training.refiner import photo_tiles

FULLSIZE = Path(__file__).parents[1] / "data" / "fullsize"
SHIPPED = Path(__file__).resolve().parents[2] / "resources" / "models"
FAST = SHIPPED / "cpu-lite0-256x384.safetensors"
PHOTO = FULLSIZE / "0ed6904e1004_05.jpg"


def _trained_looking(refiner: EdgeRefiner, seed: int = 0) -> EdgeRefiner:
    """A refiner whose output layer is not zero (a fresh one corrects nothing)."""
    torch.manual_seed(seed)
    torch.nn.init.normal_(refiner.out.weight, std=0.5)
    return refiner.eval()


@pytest.fixture(scope="module")
def photo_and_logits():
    rgb = read_rgb(PHOTO)
    predictor = Predictor([FAST], device="cpu")
    logits = predictor.full_size_logits(predictor.models[0], rgb)
    return rgb, logits


def _photo_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1).float() / 255


def test_a_fresh_refiner_changes_nothing(photo_and_logits):
    rgb, logits = photo_and_logits
    refined = EdgeRefiner().eval().refine(_photo_tensor(rgb), logits)
    assert torch.equal(refined, logits)


def test_refiner_acts_only_in_tiles_along_the_uncertain_band(photo_and_logits):
    rgb, logits = photo_and_logits
    refiner = _trained_looking(EdgeRefiner())
    refined = refiner.refine(_photo_tensor(rgb), logits)
    assert refined.shape == logits.shape
    grid = uncertain_tiles(logits, refiner.tile, refiner.band)
    inside = grid.repeat_interleave(refiner.tile, 0).repeat_interleave(refiner.tile, 1)
    inside = inside[: logits.shape[0], : logits.shape[1]]
    changed = refined != logits
    assert changed[inside].float().mean() > 0.5  # the band tiles are refined ...
    assert not changed[~inside].any()  # ... and nothing else
    # the band is a thin share of a photo: most of it keeps the U-Net's answer
    assert 0.02 < inside.float().mean() < 0.4


def test_tiled_refinement_equals_the_network_on_the_whole_photo(photo_and_logits):
    """Tiles with their margins must give what the network gives on the whole photo (away from
    the photo's border, where the whole-photo run sees zero padding instead of context)."""
    rgb, logits = photo_and_logits
    refiner = _trained_looking(EdgeRefiner())
    tiled = refiner.refine(_photo_tensor(rgb), logits)
    with torch.inference_mode():
        whole = refiner(_photo_tensor(rgb)[None], logits[None, None])[0, 0]
    grid = uncertain_tiles(logits, refiner.tile, refiner.band)
    inside = grid.repeat_interleave(refiner.tile, 0).repeat_interleave(refiner.tile, 1)
    inside = inside[: logits.shape[0], : logits.shape[1]].clone()
    m = refiner.margin
    inside[:m], inside[-m:], inside[:, :m], inside[:, -m:] = False, False, False, False
    assert inside.sum() > 10_000
    assert torch.allclose(tiled[inside], whole[inside], atol=1e-4)


def test_model_file_keeps_its_refiner_and_predictor_can_leave_it_out(tmp_path, photo_and_logits):
    rgb, logits = photo_and_logits
    model, header = load_model(FAST)
    model.refiner = _trained_looking(EdgeRefiner(8))
    model.config = dataclasses.replace(model.config, refiner_width=8)
    path = save_model(tmp_path / "with-refiner.safetensors", model, header)
    assert read_header(path).arch.refiner_width == 8
    loaded, _ = load_model(path)
    for key, value in model.refiner.state_dict().items():
        assert torch.allclose(loaded.refiner.state_dict()[key], value, atol=1e-3)  # fp16 file
    refined = Predictor([path], device="cpu")
    plain = Predictor([path], device="cpu", refine=False)
    assert torch.equal(plain.full_size_logits(plain.models[0], rgb), logits)
    with_refiner = refined.full_size_logits(refined.models[0], rgb)
    assert not torch.equal(with_refiner, logits)
    # a model file without a refiner still loads and predicts as before
    assert load_model(FAST)[0].refiner is None


def test_training_tiles_come_from_the_band_and_match_the_true_mask(photo_and_logits):
    rgb, logits = photo_and_logits
    truth = read_mask(FULLSIZE / "0ed6904e1004_05_mask.gif")
    tiles = photo_tiles(rgb, logits.numpy(), truth, 16, 25, np.random.default_rng(0), 48, 6.0)
    assert len(tiles) == 25 and tiles.photo.shape == (25, 80, 80, 3)
    for k in range(len(tiles)):
        # find the tile in the photo: its interior is the photo at some (y, x) on a 48 grid
        interior = tiles.photo[k, 16:64, 16:64]
        logit_interior = tiles.logits[k, 16:64, 16:64].astype(np.float32)
        assert np.abs(logit_interior).min() < 6.0  # from the uncertain band
        hits = [
            (y, x)
            for y in range(0, rgb.shape[0], 48)
            for x in range(0, rgb.shape[1], 48)
            if y + 48 <= rgb.shape[0]
            and x + 48 <= rgb.shape[1]
            and np.array_equal(rgb[y : y + 48, x : x + 48], interior)
        ]
        if hits:  # tiles overhanging the photo's edge are padded; the rest must line up
            y, x = hits[0]
            assert np.array_equal(tiles.truth[k], truth[y : y + 48, x : x + 48])
    assert 0 < tiles.truth.mean() < 1  # edge tiles hold both car and background


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_carmask_refine_learns_edges_and_keeps_the_base_model(tmp_path, capsys):
    before = _digest(FAST)
    out = tmp_path / "refined.safetensors"
    code = cli_main(
        [
            *("refine", "--model", str(FAST), "--data", str(FULLSIZE), "--out", str(out)),
            *("--steps", "120", "--batch-size", "32", "--device", "cpu", "-q"),
        ]
    )
    assert code == 0
    assert _digest(FAST) == before
    header = read_header(out)
    assert header.arch.refiner_width == 12
    r = header.training["refiner"]
    assert r["train_photos"] == 3 and r["tiles"] > 50  # 3 cars for training, 1 for validation
    # on its training tiles the refiner beats the U-Net's own edge
    assert r["final_bce"]["loss"] < r["final_bce"]["coarse"]
    assert header.metrics["val_photos"] == 1 and "val_dice_unrefined" in header.metrics
    assert "val Dice" in capsys.readouterr().out
    model, _ = load_model(out)
    assert model.refiner is not None


def test_refiner_trains_in_bf16_on_a_cpu_that_has_it_and_in_float32_on_request(tmp_path):
    runs = {}
    for flags in ([], ["--no-amp"]):
        out = tmp_path / f"refined{len(runs)}.safetensors"
        args = ["refine", "--model", str(FAST), "--data", str(FULLSIZE), "--out", str(out)]
        assert cli_main([*args, "--steps", "8", "--batch-size", "16", "-q", *flags]) == 0
        runs[bool(flags)] = read_header(out).training["refiner"]
    plain, mixed = runs[True], runs[False]
    assert plain["device"] == describe_device(torch.device("cpu"))
    if cpu_has_fast_bf16():
        assert mixed["device"] == plain["device"] + ", bfloat16"
        assert mixed["final_bce"]["loss"] == pytest.approx(plain["final_bce"]["loss"], rel=0.05)
    else:  # no bf16 here: both ran in float32, the same run but for its wall-clock time
        mixed.pop("seconds", None), plain.pop("seconds", None)
        assert mixed == plain


def test_carmask_refine_refuses_to_overwrite_its_base_model(tmp_path, capsys):
    base = tmp_path / "base.safetensors"
    base.write_bytes(FAST.read_bytes())
    code = cli_main(["refine", "--model", str(base), "--data", str(FULLSIZE), "--out", str(base)])
    assert code == 2
    assert "--out must differ" in capsys.readouterr().err
    assert _digest(base) == _digest(FAST)


def test_carmask_refine_copies_another_models_refiner(tmp_path, capsys):
    """Ensemble members can share the default's refiner: --refiner-from with --steps 0."""
    model, header = load_model(FAST)
    model.refiner = _trained_looking(EdgeRefiner(8))
    model.config = dataclasses.replace(model.config, refiner_width=8)
    donor = save_model(tmp_path / "donor.safetensors", model, header)
    out = tmp_path / "member.safetensors"
    args = ["refine", "--model", str(FAST), "--data", str(FULLSIZE), "--out", str(out)]
    code = cli_main([*args, "--refiner-from", str(donor), "--steps", "0", "--device", "cpu"])
    assert code == 0
    copied, copied_header = load_model(out)
    assert copied_header.training["refiner"]["started_from"].startswith(header.name + " (")
    for key, value in load_model(donor)[0].refiner.state_dict().items():
        assert torch.equal(copied.refiner.state_dict()[key], value)
    # a donor without a refiner, or zero steps with nothing to copy, is refused with a reason
    capsys.readouterr()
    assert cli_main([*args, "--refiner-from", str(FAST), "--steps", "0"]) == 2
    assert "has no edge refiner" in capsys.readouterr().err
    assert cli_main([*args, "--steps", "0"]) == 2
    assert "--steps must be positive" in capsys.readouterr().err


def test_finetuning_a_refined_model_keeps_its_refiner(tmp_path, trained_model):
    """The wizard fine-tunes the default model: its refiner must come along, unchanged."""
    from engine.training.trainer import Trainer

    model, header = load_model(trained_model)
    model.refiner = _trained_looking(EdgeRefiner(8))
    model.config = dataclasses.replace(model.config, refiner_width=8)
    base = save_model(tmp_path / "refined-base.safetensors", model, header)
    out = tmp_path / "tuned.safetensors"
    cfg = train_config(
        out, init_from=str(base), epochs=1, max_steps=2, schedule="cosine", resume=False
    )
    Trainer(cfg).run()
    tuned, tuned_header = load_model(out)
    assert tuned_header.arch.refiner_width == 8
    saved, _ = load_model(base)
    for key, value in saved.refiner.state_dict().items():
        assert torch.equal(tuned.refiner.state_dict()[key], value)
    decoder_changed = any(
        not torch.equal(a, b)
        for a, b in zip(tuned.decoder.parameters(), saved.decoder.parameters(), strict=True)
    )
    assert decoder_changed  # it did train
