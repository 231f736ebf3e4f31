"""CarMask Studio engine: models, training, prediction, ensemble and export. Never imports Qt."""

__version__ = "0.1.0"
