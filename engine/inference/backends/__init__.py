"""Inference backends: which library runs a model's networks on the CPU.

`torch` is PyTorch itself (the only backend on CUDA, and the fallback everywhere). `openvino`
runs the U-Net and its edge refiner converted to OpenVINO's format
(`engine.inference.backends.convert`,
cached beside the user's data, keyed by the model file's digest): on this project's CPU
benchmark it takes 48 ms for the default U-Net's forward at 448×672 in float32 against
PyTorch's 150 ms, with logits equal to 3e-5 (benchmarks/backends.py). `auto` is OpenVINO on the
CPU when it loads; when it does not, PyTorch, with the reason logged and shown in the device
label ("CPU (2 threads), PyTorch (OpenVINO failed: …)"), never silently.

Each backend is registered by name (`registry.register_backend`) with a factory that gives a
model its `Runner`; `select.attach_backend` picks one for a predictor from the registry, so no
backend is hard-coded there. ONNX Runtime is not registered: in benchmarks/backends.py it is
slower than OpenVINO on both networks (63 ms against 54 ms for the U-Net, 12 ms against 9 ms
for the refiner's tiles) and it is not installed with the studio.
"""

from __future__ import annotations

from engine.inference.backends.registry import (
    BackendError,
    BackendSpec,
    backend_names,
    backend_spec,
    preparing,
    register_backend,
)
from engine.inference.backends.runner import Runner

__all__ = [
    "BackendError",
    "BackendSpec",
    "Runner",
    "backend_names",
    "backend_spec",
    "preparing",
    "register_backend",
]
