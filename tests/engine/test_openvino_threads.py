"""Lanes share a model's compiled OpenVINO networks (`engine.inference.backends.openvino_model`):
first
calls from two threads at once never hang, and each thread gets its own answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ov = pytest.importorskip("openvino")
ROOT = Path(__file__).resolve().parents[2]

# In a child process, so that a hang fails the test (the child is killed) instead of the suite.
FIRST_CALLS = r"""
import faulthandler, sys, threading
sys.setswitchinterval(1e-6)  # hand the GIL over at every chance: races show up
faulthandler.dump_traceback_later(float(sys.argv[3]) - 5, exit=True)  # a hang prints its stacks
from pathlib import Path
import torch
import torch.nn.functional as F
from engine.inference.backends.openvino_model import OpenVinoModel

folder, rounds = Path(sys.argv[1]), int(sys.argv[2])
weight = torch.from_numpy(__import__("numpy").load(folder / "weight.npy"))
for r in range(rounds):
    # two lanes, each its Predictor's copy, as `carmask predict` makes them: compiled afresh
    lanes = [OpenVinoModel(folder, torch.float32, 1, 2) for _ in range(2)]
    inputs = [torch.rand(1, 3, 32 + 8 * i, 48) for i in range(2)]
    tiles = [(torch.rand(2 + i, 3, 16, 16), torch.rand(2 + i, 1, 16, 16)) for i in range(2)]
    start, answers = threading.Barrier(2), [None, None]

    def lane(i):
        start.wait()  # both first calls at the same instant
        answers[i] = (lanes[i].unet(inputs[i]), lanes[i].refiner_interior(*tiles[i]))

    threads = [threading.Thread(target=lane, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        unet, refined = answers[i]
        assert torch.allclose(unet, F.conv2d(inputs[i], weight, padding=1), atol=1e-2), r
        assert torch.allclose(refined, torch.cat(tiles[i], 1).sum(1, keepdim=True), atol=1e-4), r
    del lanes, threads, answers
print("rounds done:", rounds)
"""


def tiny_networks(folder: Path) -> None:
    """A U-Net stand-in (one 3×3 convolution, free height and width) and a refiner stand-in
    (photo and logits tiles in, their channel sum out), saved as the converter saves them."""
    from openvino import opset13 as ops

    from engine.inference.backends.openvino_model import REFINER, UNET

    weight = np.random.default_rng(0).standard_normal((1, 3, 3, 3)).astype(np.float32)
    np.save(folder / "weight.npy", weight)
    x = ops.parameter(ov.PartialShape([1, 3, -1, -1]), ov.Type.f32)
    y = ops.convolution(x, ops.constant(weight), [1, 1], [1, 1], [1, 1], [1, 1])
    ov.save_model(ov.Model([y], [x]), folder / UNET)
    photo = ops.parameter(ov.PartialShape([-1, 3, -1, -1]), ov.Type.f32)
    logits = ops.parameter(ov.PartialShape([-1, 1, -1, -1]), ov.Type.f32)
    both = ops.concat([photo, logits], 1)
    total = ops.reduce_sum(both, ops.constant(np.array([1], np.int64)), keep_dims=True)
    ov.save_model(ov.Model([total], [photo, logits]), folder / REFINER)


def test_hundreds_of_first_calls_from_two_lanes_never_hang(tmp_path):
    """2 processes × 100 rounds: each round two lanes' freshly compiled networks first called
    from two threads at the same instant, with the GIL handed over at every chance; every
    process must finish within its time limit and every answer be the lane's own."""
    tiny_networks(tmp_path)
    limit = 120
    children = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_CALLS, str(tmp_path), "100", str(limit)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:
        try:
            out, _ = child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
            pytest.fail(f"two lanes' first calls hung:\n{out[-4000:]}")
        assert child.returncode == 0 and "rounds done: 100" in out, out[-4000:]
