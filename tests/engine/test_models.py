"""The paper's U-Net family: every encoder, both joins, any input size, weights loading."""

import pytest
import torch

from engine.models.encoders import (
    ENCODERS,
    PretrainedWeightsUnavailable,
    build_encoder,
    load_torchvision_weights,
)
from engine.models.unet import ResidualConvUnit, UNet, UNetConfig

SMALL = (32, 16, 16, 8, 8)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_encoder_declares_its_pyramid(encoder):
    enc = build_encoder(encoder).eval()
    with torch.no_grad():
        feats = enc(torch.randn(1, 3, 64, 96))
    assert len(feats) == 5 == len(enc.out_channels) == len(enc.strides)
    for f, c, s in zip(feats, enc.out_channels, enc.strides, strict=True):
        assert f.shape[1] == c
        assert f.shape[-2:] == (64 // s, 96 // s)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@pytest.mark.parametrize("join", ["concat", "add"])
def test_unet_output_matches_any_input_size(encoder, join):
    model = UNet(UNetConfig(encoder, join, SMALL, 32)).eval()
    x = torch.randn(1, 3, 70, 117)  # not a multiple of 32, like 1918
    with torch.no_grad():
        y = model(x)
        p = model.predict_proba(x)
    assert y.shape == (1, 1, 70, 117)
    assert torch.all((p >= 0) & (p <= 1))


def test_one_decoder_step_per_downsampling_step_and_residual_units():
    model = UNet(UNetConfig("resnet50", "concat"))
    assert len(model.decoder) == 5
    assert all(isinstance(step.unit, ResidualConvUnit) for step in model.decoder)
    assert model.middle[0].kernel_size == (1, 1)
    assert model.head.kernel_size == (1, 1) and model.head.out_channels == 1
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())


def test_add_join_has_fewer_parameters_than_concat():
    n = {
        j: sum(p.numel() for p in UNet(UNetConfig("resnet50", j)).parameters())
        for j in ("add", "concat")
    }
    assert n["add"] < n["concat"]


def test_residual_unit_identity_shortcut_when_widths_match():
    unit = ResidualConvUnit(8, 8)
    assert isinstance(unit.shortcut, torch.nn.Identity)
    assert not isinstance(ResidualConvUnit(8, 4).shortcut, torch.nn.Identity)


def test_gradients_reach_the_encoder():
    model = UNet(UNetConfig("resnet18", "add", SMALL, 32))
    model(torch.randn(2, 3, 64, 64)).mean().backward()
    assert model.encoder.stem[0].weight.grad.abs().sum() > 0


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="join"):
        UNetConfig(join="multiply")
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("resnet9000")
    with pytest.raises(ValueError, match="pretrained"):
        build_encoder("resnet18", pretrained="coco")


def test_imagenet_weights_offline_fail_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CARMASK_OFFLINE", "1")
    with pytest.raises(PretrainedWeightsUnavailable) as err:
        build_encoder("resnet18", pretrained="imagenet")
    msg = str(err.value)
    assert "resnet18" in msg and "internet" in msg and "pretrained=None" in msg


def test_imagenet_weights_come_from_the_torch_cache(tmp_path, monkeypatch):
    """With the file in torch's cache (as after a first download) it loads, offline."""
    from torchvision.models import ResNet18_Weights, resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CARMASK_OFFLINE", "1")
    weights = ResNet18_Weights.IMAGENET1K_V1
    reference = resnet18(weights=None).state_dict()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference, cache / weights.url.rsplit("/", 1)[1])
    assert torch.equal(load_torchvision_weights(weights)["conv1.weight"], reference["conv1.weight"])
    enc = build_encoder("resnet18", pretrained="imagenet")
    assert torch.equal(enc.stem[0].weight, reference["conv1.weight"])


def test_efficientnet_lite0_is_pretrained_offline():
    from engine.models.efficientnet_lite import load_imagenet_checkpoint

    enc = build_encoder("efficientnet_lite0", pretrained="imagenet")
    sd = load_imagenet_checkpoint()
    assert torch.equal(enc.state_dict()["_conv_stem.weight"], sd["_conv_stem.weight"])
    model = UNet(UNetConfig("efficientnet_lite0"))
    assert model.mean.flatten().tolist() == pytest.approx([0.498] * 3)
