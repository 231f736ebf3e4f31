"""The backend registry: each backend's name, label, devices and how to load a model's runner.

A backend is registered with `register_backend(name, factory, ...)`; `factory(lm, dtype, place)`
returns the `Runner` (`engine.inference.backends.runner`) of a `LoadedModel` (`place`: its
(n, count) among the predictor's models, for the "preparing the model" message). A factory may
be given as "module:function", imported only when the backend is first used: this module
imports no torch, so the CLI lists the backends (and `engine.inference.config` checks a name)
before torch loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


class BackendError(RuntimeError):
    """The backend asked for by name cannot run this model here (never silently replaced)."""


Factory = Callable[..., Any]  # (LoadedModel, torch.dtype, place) -> `runner.Runner`


@dataclass(frozen=True)
class BackendSpec:
    name: str
    factory: Factory | str  # a callable, or "module:function"
    label: str  # for the device label: "OpenVINO"
    devices: tuple[str, ...] = ("cpu",)  # device types it runs on
    auto: bool = False  # `auto` tries it on its devices (else PyTorch)
    needs_file: bool = False  # converts the model file (none for a model in memory only)
    package: str = ""  # what to pip install when it does not import

    def load(self, lm: Any, dtype: Any, place: tuple[int, int] = (1, 1)) -> Any:
        """`lm`'s runner (`engine.inference.backends.runner.Runner`) in `dtype` (a torch dtype)."""
        factory = self.factory
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        return factory(lm, dtype, place)

    def where(self) -> str:
        return " or ".join("the CPU" if d == "cpu" else d.upper() for d in self.devices)


_registry: dict[str, BackendSpec] = {}


def register_backend(
    name: str,
    factory: Factory | str,
    *,
    label: str,
    devices: tuple[str, ...] = ("cpu",),
    auto: bool = False,
    needs_file: bool = False,
    package: str = "",
) -> None:
    """Register (or replace) the backend `name`; `auto` backends are tried in registration order."""
    if name == "auto":
        raise ValueError("'auto' is not a backend's name: it chooses one")
    _registry[name] = BackendSpec(name, factory, label, devices, auto, needs_file, package)


def backend_names() -> tuple[str, ...]:
    return tuple(_registry)


def backend_spec(name: str) -> BackendSpec:
    """The registered backend `name`; an unknown name is a `BackendError` listing the others."""
    spec = _registry.get(str(name))
    if spec is None:
        known = ", ".join(("auto", *_registry))
        raise BackendError(f"unknown backend '{name}'; use one of {known}")
    return spec


def auto_backends(device_type: str) -> list[BackendSpec]:
    return [s for s in _registry.values() if s.auto and device_type in s.devices]


# told (model name, its place, how many models) before a model is converted (seconds, once per
# model file): the app says so rather than sitting at "0 %" (`preparing`)
on_convert: ContextVar[Callable[[str, int, int], None] | None] = ContextVar(
    "on_convert", default=None
)


@contextmanager
def preparing(callback: Callable[[str, int, int], None]) -> Iterator[None]:
    """Within this block (on this thread), `callback(name, n, count)` is called before the n-th
    of `count` models is converted for its backend (not when its converted copy is cached)."""
    token = on_convert.set(callback)
    try:
        yield
    finally:
        on_convert.reset(token)


register_backend(
    "torch",
    "engine.inference.backends.torch_runner:load_runner",
    label="PyTorch",
    devices=("cpu", "cuda"),
)
register_backend(
    "openvino",
    "engine.inference.backends.openvino_load:load_runner",
    label="OpenVINO",
    auto=True,
    needs_file=True,
    package="openvino",
)
