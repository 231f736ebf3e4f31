"""Which device runs the models: chosen by name, never silently replaced by another.

torch is imported inside the functions: the CLI parses its arguments (and `--help` answers)
without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


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
    return f"CPU ({torch.get_num_threads()} threads)"
