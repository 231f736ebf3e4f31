"""`carmask models list|resave`: the model library."""

from __future__ import annotations

from pathlib import Path

from engine.cli.common import (
    _model_out_problem,
)
from engine.inference.editions import require_torch
from engine.modelfiles.library import library_dirs, list_library


def cmd_models_list(args) -> int:
    dirs = [Path(args.dir)] if args.dir else library_dirs()
    found, errors = list_library(dirs)
    for path, header in found:
        print(f"{path}\n    {header.label}; created {header.created}")
    for err in errors:
        print(f"unreadable: {err}")
    if not found:
        print("no model files found in " + ", ".join(str(d) for d in dirs))
    return 0


def cmd_models_resave(args) -> int:
    require_torch("re-saving a model file")
    from engine.modelfiles.checkpoint import resave_model

    problem = _model_out_problem(args.new_file)
    if problem:
        print(f"error: {problem.replace('--out ', '')}")
        return 2
    path, header = resave_model(args.file, args.new_file)
    if not header.sha256:
        print(f"warning: {args.file} had no checksum of its weights: they are taken as they are")
    print(f"re-saved {header.label} as {path} (the old file is kept)")
    return 0
