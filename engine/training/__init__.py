"""Training: `config` (what a run is; no torch, for the CLI and the wizard), `core` (the loop
every run shares: mixed precision, steps, resume, stop on signals), `trainer` (the U-Net's
epochs, validation and best-model keeping), `refiner` (the edge refiner on full-size tiles),
`datasets` and `header`. The child-process entry point is `engine.train`.

Nothing is imported here, so `engine.training.config` loads without torch.
"""
