"""Which device runs the models: chosen by name, never silently replaced by another.

torch is imported inside the functions: the CLI parses its arguments (and `--help` answers)
without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.inference.config import Device, Precision

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = Device.values()
PRECISION_CHOICES = Precision.values()


class DeviceError(RuntimeError):
    """The requested device cannot be used (never silently replaced by another)."""


def resolve_device(name: str = "auto") -> torch.device:
    """`auto`: CUDA when present, else CPU. `cuda`/`cuda:N` without such a device is an error."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                "CUDA was requested but no CUDA GPU is available (no NVIDIA driver or a CPU-only "
                "PyTorch build). Use --device cpu or --device auto."
            )
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"{name} requested but only {torch.cuda.device_count()} GPU(s) exist")
        return dev
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"unknown device '{name}'; use one of {', '.join(DEVICE_CHOICES)}")


def describe_device(device: torch.device) -> str:
    """Human label for logs, CLI and status bar: 'CUDA 0: NVIDIA H100' or 'CPU (2 threads)'."""
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA {index}: {torch.cuda.get_device_name(index)}"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def describe_compute(device: torch.device, dtype: torch.dtype) -> str:
    """`describe_device` plus the precision when it is not float32 ('CPU (2 threads), bfloat16'):
    say it, the numbers differ (slightly) from float32's."""
    import torch

    label = describe_device(device)
    return label if dtype == torch.float32 else f"{label}, {str(dtype).removeprefix('torch.')}"


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX: recent Xeons, AMD Zen 4+).
    Elsewhere bf16 would be emulated, slower than float32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    except RuntimeError:
        return False


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype models compute in (by autocast): `auto` is float16 on CUDA, bfloat16 on a CPU
    with native bf16 (1.8x the speed of float32 for the CPU default on such a CPU, the same val
    Dice: benchmarks/README.md), else float32; `fp32` is float32 everywhere; `bf16` is bfloat16
    everywhere (emulated, so slow, on a CPU without it)."""
    import torch

    if precision not in PRECISION_CHOICES:
        raise ValueError(
            f"unknown precision '{precision}'; use one of {', '.join(PRECISION_CHOICES)}"
        )
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


def training_dtype(device: torch.device, amp: bool = True) -> torch.dtype:
    """What training computes its forward passes in: with `amp`, as `inference_dtype`'s `auto`
    (float16 on CUDA, under a grad scaler; bfloat16 on a CPU that has it natively: twice the
    step speed of float32 there, benchmarks/README.md), else float32. Weights, optimiser state
    and the loss stay float32."""
    return inference_dtype(device, "auto" if amp else "fp32")
