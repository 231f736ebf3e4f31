"""Frozen entry point of `carmask`, the command line."""

import multiprocessing
import sys
import warnings

# The bundle keeps torch's compiled modules, not their sources, so TorchScript's overload
# registry cannot read them and warns once per overloaded function at import (dozens of lines on
# every start). The app never compiles TorchScript.
warnings.filterwarnings("ignore", message="Unable to retrieve source for @torch.jit._overload")

if __name__ == "__main__":
    multiprocessing.freeze_support()  # spawn-started data-loader workers re-enter here
    from engine.cli import main

    sys.exit(main())
