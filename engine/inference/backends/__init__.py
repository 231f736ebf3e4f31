"""Inference backends: which library runs a model's networks on the CPU.

`torch` is PyTorch itself (the only backend on CUDA, and the fallback everywhere). `openvino`
runs the U-Net and its edge refiner converted to OpenVINO's format
(`engine.inference.backends.convert`,
cached beside the user's data, keyed by the model file's digest): on this project's CPU
benchmark it takes 48 ms for the default U-Net's forward at 448×672 in float32 against
PyTorch's 150 ms, with logits equal to 3e-5 (benchmarks/backends.py). `auto` is OpenVINO on the
CPU when it loads; when it does not, PyTorch, with the reason logged and shown in the device
label ("CPU (2 threads), PyTorch (OpenVINO failed: …)"), never silently.
"""

from __future__ import annotations

BACKEND_CHOICES = ("auto", "torch", "openvino")
BACKEND_NAMES = {"torch": "PyTorch", "openvino": "OpenVINO"}


class BackendError(RuntimeError):
    """The backend asked for by name cannot run this model here (never silently replaced)."""
