"""OpenVINO on numpy arrays, without torch: the process's one `Core` and a compiled network that
any number of threads may call at once.

Shared by the PyTorch edition's OpenVINO backend (`openvino_model`, which converts the torch
tensors at its edges) and the torch-free predictor (`engine.inference.lite`), so both run the
networks the very same way.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

_core = None
_core_lock = threading.Lock()


def shared_core():
    """One OpenVINO Core for the whole process, never released. Its CPU plugin installs an
    alternate signal stack on the thread that first compiles; with a Core per model, releasing
    them out of order left the thread pointing at freed memory, and the next Ctrl-C (SIGINT)
    killed the process with a segmentation fault (tests/engine/test_backends.py)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
        return _core


def cpu_config(precision: str, threads: int, streams: int) -> dict:
    """The CPU plugin's settings: `precision` "f32" or "bf16", `streams` inferences at once,
    each on `threads` threads."""
    return {
        # a stream per lane, each on the lane's threads: the lanes' inferences run at once
        "NUM_STREAMS": int(streams),
        "INFERENCE_NUM_THREADS": int(threads) * int(streams),
        "INFERENCE_PRECISION_HINT": precision,
        # OpenVINO pins its threads to cores: the batch's reader and writer threads then
        # queue behind them. Unpinned, writing a photo while the next is segmented
        # overlaps (benchmarks/pipeline.py).
        "ENABLE_CPU_PINNING": False,
    }


class Network:
    """One compiled network; each call runs on an `InferRequest` of its own (a request runs
    one inference at a time, a compiled model one per stream at once): an idle one, or a new
    one when every request is busy, so there are as many as calls ever ran at once.

    The requests belong to the network, not to the calling threads: one left in a thread's
    locals was destroyed while the thread ended (a QThread of the app), inside Python's own
    clean-up of the thread, and freed memory twice (tests/app/test_app_window.py crashed)."""

    def __init__(self, compiled):
        self.compiled = compiled
        self._idle: queue.SimpleQueue = queue.SimpleQueue()

    @classmethod
    def load(cls, xml: Path, config: dict) -> Network:
        core = shared_core()
        return cls(core.compile_model(core.read_model(Path(xml)), "CPU", config))

    @property
    def precision(self) -> str:
        """What the CPU really computes in ("f32", "bf16"): a bf16 hint on a CPU without
        bfloat16 gives float32."""
        return str(self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        arrays = tuple(np.ascontiguousarray(a, dtype=np.float32) for a in arrays)
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            # copied into the request's own tensors: OpenVINO then holds no Python object,
            # whose release would need the GIL on one of its threads
            request.start_async(list(arrays), share_inputs=False)
            request.wait()  # the GIL is released while the network runs
            # the request's output buffer is reused by its next inference
            return request.get_output_tensor(0).data.copy()
        finally:
            self._idle.put(request)
