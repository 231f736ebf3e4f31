"""Frozen entry point of `carmask-studio` (the studio window; `--engine-train` runs the
fine-tuning wizard's training child, `--self-test` checks the bundle)."""

import multiprocessing
import sys
import warnings

# The bundle keeps torch's compiled modules, not their sources, so TorchScript's overload
# registry cannot read them and warns once per overloaded function at import (dozens of lines on
# every start). The app never compiles TorchScript.
warnings.filterwarnings("ignore", message="Unable to retrieve source for @torch.jit._overload")

if __name__ == "__main__":
    multiprocessing.freeze_support()  # spawn-started workers (Windows, macOS) re-enter here
    from app.main import main

    sys.exit(main())
