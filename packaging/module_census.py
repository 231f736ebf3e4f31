"""Which parts of torch the app never imports: writes packaging/torch-unused-modules.txt, the
list the PyInstaller spec excludes from the bundle.

It runs what the bundle runs, in this interpreter: the CLI's `predict` on sample photos, two
one-step trainings (fine-tuning the shipped model, and a new EfficientNet-Lite0 model from
ImageNet weights, as the wizard and `carmask train` do), the CUDA queries the app makes, and
the studio window's `--self-test`. Every module torch imports along the way is kept. Of the
rest, only sub-packages of the compiler, test, distributed-training and tooling parts of torch
(PRUNE_UNDER) are listed, each as the largest never-imported sub-tree, if its sources weigh at
least MIN_BYTES. Run it again after upgrading torch:

    QT_QPA_PLATFORM=offscreen python packaging/module_census.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "torch-unused-modules.txt"
PRUNE_UNDER = (
    "torch._inductor",  # the torch.compile backend
    "torch._vendor",
    "torch.testing._internal",  # torch's own test suite helpers
    "torch.distributed",  # multi-process / multi-machine training
    "torch.onnx._internal",
    "torch.utils.benchmark",
    "torch.utils.tensorboard",
    "torch.utils.hipify",
    "torch.utils.cpp_extension",
    "torch.utils.bottleneck",
    "torch.utils.model_dump",
    "torch.profiler._cuspy",
    "torch.sparse._triton_ops",
    "torch.sparse._triton_ops_meta",
    "torch._export.serde",
)
MIN_BYTES = 16_000


def run_workloads(tmp: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.chdir(ROOT)
    from engine.cli import main as cli

    samples = sorted((ROOT / "resources" / "samples").glob("*.jpg"))[:2]
    args = ["predict", *map(str, samples), "--out", str(tmp / "out"), "-q"]
    if cli([*args, "--format", "mask", "--format", "png", "--format", "jpg"]) != 0:
        raise SystemExit("census: carmask predict failed")

    from smoke_check import one_step_runs  # packaging/ is on sys.path when run as a script

    from engine.modelfiles.library import default_model_paths
    from engine.train import main as train

    model = default_model_paths()[0]
    configs = list(one_step_runs(ROOT / "tests" / "data" / "carvana", model, tmp).values())
    for i, cfg in enumerate(configs):
        path = tmp / f"train{i}.json"
        path.write_text(json.dumps(cfg))
        if train(["--config", str(path)]) != 0:
            raise SystemExit(f"census: training {i} failed")

    import torch

    torch.cuda.is_available()
    torch.backends.cudnn.is_available()

    from app.main import main as gui

    if gui(["carmask-studio", "--self-test"]) != 0:
        raise SystemExit("census: the GUI self-test failed")


def unused_subtrees(loaded: set[str]) -> list[tuple[int, str]]:
    import torch

    root = Path(torch.__file__).parent
    sizes: dict[str, int] = defaultdict(int)
    used: dict[str, bool] = defaultdict(bool)
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        module = ".".join(parts)
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            sizes[prefix] += path.stat().st_size
            used[prefix] |= module in loaded
    found = []
    for name, size in sizes.items():
        parent = name.rsplit(".", 1)[0]
        if used[name] or size < MIN_BYTES:
            continue
        if not any(name == p or name.startswith(p + ".") for p in PRUNE_UNDER):
            continue
        if (
            used[parent]
            or parent not in sizes
            or not any(parent == p or parent.startswith(p + ".") for p in PRUNE_UNDER)
        ):
            found.append((size, name))  # largest never-imported sub-tree
    return sorted(found, key=lambda t: t[1])


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        run_workloads(Path(tmp))
    loaded = set(sys.modules)
    found = unused_subtrees(loaded)
    import torch

    lines = [
        f"# torch {torch.__version__}: never imported by the app (packaging/module_census.py)",
        f"# {len(found)} sub-trees, {sum(s for s, _ in found) / 1e6:.1f} MB of Python sources",
        *(name for _, name in found),
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}: {len(found)} sub-trees, {sum(s for s, _ in found) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
